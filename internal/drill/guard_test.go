package drill

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
)

// Issue 14, finding 8: the guard covered weight changes only and counted
// any region with weight, healthy or not. Now every change that can take a
// region out of service, or hand it the writes, counts regions that pass
// the contract health gate, and a refusal is journaled.
func TestSurvivorGuardCountsOnlyHealthyRegions(t *testing.T) {
	notReady := func(h *contract.Health) { h.Ready = false }
	skewed := func(h *contract.Health) { h.IndexHash = "ih-skewed" }
	cases := []struct {
		name   string
		break_ func(*fakeTarget)
		a      adapter.Action
		refuse string // "" = allowed
	}{
		{"weights to a healthy survivor", nil, adapter.Action{Kind: adapter.SetWeights, Weights: map[string]int{"us-east": 0, "eu-west": 100}}, ""},
		{"weights leaving nothing", nil, adapter.Action{Kind: adapter.SetWeights, Weights: map[string]int{"us-east": 0, "eu-west": 0}}, "weight 0"},
		{"weights to a survivor that is not ready", func(f *fakeTarget) { f.set("eu-west", notReady) },
			adapter.Action{Kind: adapter.SetWeights, Weights: map[string]int{"us-east": 0, "eu-west": 100}}, "eu-west: not ready"},
		{"blackhole with a healthy survivor", nil, adapter.Action{Kind: adapter.Blackhole, Region: "us-east"}, ""},
		{"blackhole with a skewed survivor", func(f *fakeTarget) { f.set("eu-west", skewed) },
			adapter.Action{Kind: adapter.Blackhole, Region: "us-east"}, "index_hash"},
		{"blackhole with the survivor unreachable", func(f *fakeTarget) { f.down["eu-west"] = true },
			adapter.Action{Kind: adapter.Blackhole, Region: "us-east"}, "eu-west: unreachable"},
		{"blackhole with the survivor at weight 0", func(f *fakeTarget) { f.weights["eu-west"] = 0 },
			adapter.Action{Kind: adapter.Blackhole, Region: "us-east"}, "eu-west: weight 0"},
		{"freeze with nothing healthy", func(f *fakeTarget) { f.set("eu-west", notReady); f.set("us-east", notReady) },
			adapter.Action{Kind: adapter.Freeze, Region: "eu-west", Frozen: true}, "not ready"},
		{"unfreeze with nothing healthy", func(f *fakeTarget) { f.set("eu-west", notReady); f.set("us-east", notReady) },
			adapter.Action{Kind: adapter.Freeze, Region: "eu-west", Frozen: false}, ""},
		{"freeze every region of a healthy target", nil, adapter.Action{Kind: adapter.Freeze, Region: "us-east", Frozen: true}, ""},
		{"promote a healthy survivor", nil, adapter.Action{Kind: adapter.Promote, Primary: "eu-west", Epoch: 2}, ""},
		{"promote a region that is down", func(f *fakeTarget) { f.down["eu-west"] = true },
			adapter.Action{Kind: adapter.Promote, Primary: "eu-west", Epoch: 2}, "promote eu-west"},
		{"weights to a survivor the router holds out of rotation", func(f *fakeTarget) { f.outOfRotation = map[string]bool{"eu-west": true} },
			adapter.Action{Kind: adapter.SetWeights, Weights: map[string]int{"us-east": 0, "eu-west": 100}}, "eu-west: out of the router's rotation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			e, path := f.engine("")
			e.guardWait = 0 // judge once: waiting is TestSurvivorGuardWaitsForWhatPasses's
			if c.break_ != nil {
				c.break_(f)
			}
			err := e.survivorGuard(context.Background(), c.a)
			if c.refuse == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNoSurvivor) || !strings.Contains(err.Error(), c.refuse) {
				t.Fatalf("guard: %v, want a refusal naming %q", err, c.refuse)
			}
			// Through apply, the refusal is journaled and nothing is sent.
			before := len(f.adminCalls())
			if err := e.apply(context.Background(), event.StepEvacuate, c.a, nil, "test"); !errors.Is(err, ErrNoSurvivor) {
				t.Fatalf("apply: %v", err)
			}
			_ = e.j.Flush()
			if !journalHas(t, path, string(journal.Refused), `"refused":"`+string(c.a.Kind)+`"`) || journalHas(t, path, "intent", string(c.a.Kind)) {
				t.Fatal("the refusal is not journaled, or the change was")
			}
			if len(f.adminCalls()) != before {
				t.Fatal("a refused change reached the target")
			}
		})
	}
}

// A refusal that may pass (the survivor not ready, or out of the router's
// rotation, for a moment) is judged again every second within the guard's
// wait; one that will not (a skewed index) stands at once.
func TestSurvivorGuardWaitsForWhatPasses(t *testing.T) {
	toSurvivor := adapter.Action{Kind: adapter.SetWeights, Weights: map[string]int{"us-east": 0, "eu-west": 100}}
	t.Run("out of rotation for a moment", func(t *testing.T) {
		f := newFake(t)
		e, _ := f.engine("")
		e.guardWait = 10 * time.Second
		f.mu.Lock()
		f.outOfRotation = map[string]bool{"eu-west": true}
		f.mu.Unlock()
		time.AfterFunc(1500*time.Millisecond, func() {
			f.mu.Lock()
			f.outOfRotation = nil
			f.mu.Unlock()
		})
		if err := e.survivorGuard(context.Background(), toSurvivor); err != nil {
			t.Fatalf("refused a survivor back in rotation within the wait: %v", err)
		}
	})
	t.Run("skewed index", func(t *testing.T) {
		f := newFake(t)
		e, _ := f.engine("")
		e.guardWait = time.Minute
		f.set("eu-west", func(h *contract.Health) { h.IndexHash = "ih-skewed" })
		start := time.Now()
		err := e.survivorGuard(context.Background(), adapter.Action{Kind: adapter.Blackhole, Region: "us-east"})
		if !errors.Is(err, ErrNoSurvivor) || time.Since(start) > 5*time.Second {
			t.Fatalf("guard: %v after %s, want a refusal at once", err, time.Since(start))
		}
	})
}
