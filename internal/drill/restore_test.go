package drill

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
)

// Issue 14, finding 5: restore never undid an index rebuild, forced top-k to
// 0 (wiping a clamp the target had before the drill) and never sent a
// snapshot's min_instances of 0. Now each goes back to its snapshot value.
func TestRestorePutsBackIndexTopKAndMinInstances(t *testing.T) {
	f := newFake(t)
	f.set("eu-west", func(h *contract.Health) { h.K, h.MinInstances = 5, 0 }) // clamped, scaled to zero
	e, _ := f.engine("")
	want := e.snap
	ctx := context.Background()
	k, n := 3, 8
	for _, a := range []adapter.Action{
		{Kind: adapter.Rebuild, Region: "us-east", Analyzer: "simple"}, // drill C's skewed follower
		{Kind: adapter.Scale, Region: "eu-west", K: &k},                // the clamp
		{Kind: adapter.Scale, Region: "eu-west", MinInstances: &n},     // the pre-warm
	} {
		if err := e.t.Do(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.restore(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	hs, _ := e.t.HealthAll(ctx)
	for _, r := range []string{"us-east", "eu-west"} {
		h := hs[r]
		if h.IndexHash != want.Index[r].Hash || h.K != want.K[r] || h.MinInstances != want.MinInst[r] {
			t.Errorf("%s after restore: index %s k %d min %d; snapshot index %s k %d min %d",
				r, h.IndexHash, h.K, h.MinInstances, want.Index[r].Hash, want.K[r], want.MinInst[r])
		}
	}
	// A region that needed nothing got no rebuild and no k change.
	for _, c := range f.adminCalls() {
		if strings.HasPrefix(c, "eu-west /admin/rebuild") || (strings.HasPrefix(c, "us-east /admin/scale") && strings.Contains(c, `"k"`)) {
			t.Errorf("needless call %s", c)
		}
	}
}

// A rebuild that does not give the snapshot's INDEX_HASH back is a failure
// restore names, not "restored".
func TestRestoreSaysWhenTheIndexDidNotComeBack(t *testing.T) {
	f := newFake(t)
	e, _ := f.engine("")
	f.set("us-east", func(h *contract.Health) { h.IndexHash = "ih-simple" })
	f.rebuildHash = "ih-still-wrong"
	err := e.restore(context.Background(), "test")
	if !errors.Is(err, ErrDrillFailed) || !strings.Contains(err.Error(), "index of us-east not restored") {
		t.Fatalf("restore: %v", err)
	}
}

// Restore checks the old primary's health before promoting it back.
func TestRestoreDoesNotPromoteAnUnhealthyOldPrimary(t *testing.T) {
	f := newFake(t)
	e, _ := f.engine("")
	ctx := context.Background()
	if err := e.t.Do(ctx, adapter.Action{Kind: adapter.Promote, Primary: "eu-west", Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	f.set("us-east", func(h *contract.Health) { h.Ready = false })
	before := len(f.adminCalls())
	err := e.restore(ctx, "test")
	if err == nil || !strings.Contains(err.Error(), "old primary us-east not promoted back") {
		t.Fatalf("restore: %v", err)
	}
	for _, c := range f.adminCalls()[before:] {
		if strings.Contains(c, "/admin/promote") {
			t.Fatalf("promoted anyway: %s", c)
		}
	}
	f.set("us-east", func(h *contract.Health) { h.Ready = true })
	if err := e.restore(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	if h, _ := e.t.Health(ctx, "eu-west"); h.Primary != "us-east" {
		t.Fatalf("primary after restore with us-east healthy: %s", h.Primary)
	}
}

// Hook undos run alongside the rest: a slow one delays nothing else.
func TestHookUndoDoesNotHoldUpRestore(t *testing.T) {
	f := newFake(t)
	e, _ := f.engine("")
	f.weights = map[string]int{"us-east": 0, "eu-west": 100}
	e.hookUndos = []hookUndo{{id: "c001", undo: adapter.Action{Kind: adapter.Hook, Argv: []string{"sleep", "30"}, TimeoutMS: 1500}}}
	start := time.Now()
	var restoredAt time.Time
	go func() {
		for time.Since(start) < 3*time.Second {
			f.mu.Lock()
			w := f.weights["us-east"]
			f.mu.Unlock()
			if w == 50 {
				restoredAt = time.Now()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	err := e.restore(context.Background(), "test")
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "hook undo") {
		t.Fatalf("a hook undo killed at its timeout must be reported: %v", err)
	}
	if took > 3500*time.Millisecond {
		t.Fatalf("restore took %s with a hook timeout of 1.5s", took)
	}
	if restoredAt.IsZero() || restoredAt.Sub(start) > time.Second {
		t.Fatalf("weights restored %v after the start, while the hook undo ran", restoredAt.Sub(start))
	}
}

// A dry run lists every action (hook undos with their argv) and changes
// nothing.
func TestDryRunListsAndChangesNothing(t *testing.T) {
	f := newFake(t)
	e, _ := f.engine("")
	ctx := context.Background()
	_ = e.t.Do(ctx, adapter.Action{Kind: adapter.Promote, Primary: "eu-west", Epoch: 2})
	f.set("us-east", func(h *contract.Health) { h.IndexHash = "ih-simple" })
	e.hookUndos = []hookUndo{{id: "c001", undo: adapter.Action{Kind: adapter.Hook, Argv: []string{"/usr/local/bin/undo-it", "us-east"}, TimeoutMS: 1000}}}
	calls := len(f.adminCalls())
	plan, err := e.runRestore(ctx, "dry", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.adminCalls()) != calls {
		t.Fatal("a dry run changed the target")
	}
	var all []string
	for _, p := range plan {
		all = append(all, p.Sends+" ("+p.Why+")")
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{"undo-it", "/us-east/admin/rebuild", "/admin/promote", "/_edge/weights", "/faults"} {
		if !strings.Contains(text, want) {
			t.Errorf("the dry run does not list %q:\n%s", want, text)
		}
	}
	if len(e.hookUndos) != 1 {
		t.Fatal("a dry run consumed the hook undos")
	}
}
