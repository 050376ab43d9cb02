package drill

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
)

// Planned is one action a restore would take, as a dry run lists it.
type Planned struct {
	Action adapter.Action `json:"action"`
	Why    string         `json:"why"`
	Sends  string         `json:"sends"` // where it goes and what it sends
}

// restorer runs the actions that bring the target back to the snapshot or,
// dry, only lists them (reading the target's health to decide, changing
// nothing). Every failure is kept and the rest still runs.
type restorer struct {
	e    *Engine
	step event.Step
	dry  bool
	mu   sync.Mutex
	plan []Planned
	errs []error
}

func (r *restorer) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

// do journals an action with the restore id, applies it and journals the
// outcome; dry, it lists the action. It reports whether it succeeded.
func (r *restorer) do(ctx context.Context, a adapter.Action, why string) bool {
	e := r.e
	if r.dry {
		r.mu.Lock()
		r.plan = append(r.plan, Planned{Action: a, Why: why, Sends: e.t.Describe(a)})
		r.mu.Unlock()
		return true
	}
	if err := e.write(journal.Intent, r.step, "restore", event.Intent{Do: a, Why: why}); err != nil {
		r.fail(err)
		return false
	}
	if err := r.retry(ctx, a); err != nil {
		r.fail(fmt.Errorf("%s %s: %w", a.Kind, a.Region, err))
		r.journal(e.write(journal.UndoFailed, r.step, "restore", event.UndoFailed{Kind: string(a.Kind), Region: a.Region, Error: err.Error()}))
		return false
	}
	r.journal(e.write(journal.Undone, r.step, "restore", event.Undone{Action: a}))
	return true
}

// journal keeps a journal append that failed among the restore's failures:
// a restore the journal does not show is not one rollback can trust.
func (r *restorer) journal(err error) {
	if err != nil {
		r.fail(err)
	}
}

// restoreRetries are the waits between the attempts of a restore action
// that failed: restoring is idempotent, and a target that is briefly
// unhealthy (a router refusing weights while its health checks catch up)
// must not leave the target half restored. About 30 s in all: on a starved
// 2-core machine (load 14) the lab's edge saw both regions fail their health
// checks for longer than the former 3.5 s, refused the restore's weights
// ("no healthy region with weight > 0") and the run aborted half restored.
var restoreRetries = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}

// retry applies a target action, again after each of restoreRetries while
// it fails.
func (r *restorer) retry(ctx context.Context, a adapter.Action) error {
	err := r.e.do(ctx, a)
	for _, wait := range restoreRetries {
		if err == nil || a.Kind == adapter.Hook {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		err = r.e.do(ctx, a)
	}
	return err
}

// restore brings the target back to the pre-drill snapshot. It is
// idempotent and runs every step even when one fails; the error names
// everything that could not be restored.
func (e *Engine) restore(ctx context.Context, step event.Step) error {
	_, err := e.runRestore(ctx, step, false)
	return err
}

// runRestore restores (or, dry, lists what restoring would do). The hooks'
// undos run alongside the target's restore, each within its timeout, so a
// stuck hook holds up nothing else.
func (e *Engine) runRestore(ctx context.Context, step event.Step, dry bool) ([]Planned, error) {
	r := &restorer{e: e, step: step, dry: dry}
	e.mu.Lock()
	hooks := e.hookUndos
	if !dry {
		e.hookUndos = nil
	}
	e.mu.Unlock()
	if !dry {
		e.stopFaultWatch() // lifting the faults is not losing them
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.undoHooks(ctx, hooks)
	}()
	if dry {
		<-done // list the hooks first
	}
	r.target(ctx)
	<-done
	if !dry {
		e.mu.Lock()
		e.applied = nil
		e.mu.Unlock()
	}
	return r.plan, errors.Join(r.errs...)
}

// undoHooks runs the user hooks' undos, newest first.
func (r *restorer) undoHooks(ctx context.Context, hooks []hookUndo) {
	e := r.e
	for i := len(hooks) - 1; i >= 0; i-- {
		h := hooks[i]
		if r.dry {
			r.mu.Lock()
			r.plan = append(r.plan, Planned{Action: h.undo, Why: "undo of hook " + h.id, Sends: e.t.Describe(h.undo)})
			r.mu.Unlock()
			continue
		}
		if err := e.do(ctx, h.undo); err != nil {
			r.fail(fmt.Errorf("hook undo %q: %w", h.undo.Argv, err))
			r.journal(e.write(journal.UndoFailed, r.step, h.id, event.UndoFailed{Kind: "hook", Error: err.Error()}))
			continue
		}
		r.journal(e.write(journal.Undone, r.step, h.id, event.Undone{Action: h.undo}))
	}
}

// target restores the target's own state: reach every region (lift ingress
// faults), put the snapshot's index back, fence and hand the primary back
// (if it is healthy), then emit policy, freeze flags, capacity, top-k and
// weights, and lift egress faults last so a region learns the state before
// it speaks.
func (r *restorer) target(ctx context.Context) {
	e, s := r.e, r.e.snap
	for _, reg := range e.p.Regions {
		r.do(ctx, adapter.Action{Kind: adapter.ClearFaults, Region: reg, Scope: "ingress"}, "lift ingress faults: reach the region first")
	}
	defer func() {
		for _, reg := range e.p.Regions {
			r.do(ctx, adapter.Action{Kind: adapter.ClearFaults, Region: reg}, "lift egress faults")
		}
	}()
	for _, reg := range e.p.Regions {
		r.index(ctx, reg)
	}
	r.primary(ctx)
	for _, reg := range e.p.Regions {
		r.do(ctx, adapter.Action{Kind: adapter.EmitFrom, Region: reg, EmitFrom: s.EmitFrom[reg]}, "restore the emit policy")
		r.do(ctx, adapter.Action{Kind: adapter.Freeze, Region: reg, Frozen: s.Frozen[reg]}, "restore the freeze flag")
		if n, ok := s.MinInst[reg]; ok {
			r.do(ctx, adapter.Action{Kind: adapter.Scale, Region: reg, MinInstances: &n}, fmt.Sprintf("restore min instances (%d)", n))
		}
		r.topK(ctx, reg)
	}
	if len(s.Weights) > 0 {
		r.do(ctx, adapter.Action{Kind: adapter.SetWeights, Weights: s.Weights}, "restore weights")
	}
}

// index rebuilds a region whose INDEX_HASH is not the snapshot's with the
// snapshot's analyzer and metric, and checks the hash after.
func (r *restorer) index(ctx context.Context, reg string) {
	e := r.e
	want := e.snap.Index[reg]
	if want.Hash == "" {
		return // a journal of an older version: its snapshot has no index
	}
	h, err := e.t.Health(ctx, reg)
	if err == nil && h.IndexHash == want.Hash {
		return
	}
	now := "unreadable: " + fmt.Sprint(err)
	if err == nil {
		now = h.IndexHash
	}
	a := adapter.Action{Kind: adapter.Rebuild, Region: reg, Analyzer: want.Analyzer, Metric: want.Metric}
	if !r.do(ctx, a, fmt.Sprintf("INDEX_HASH %s, the snapshot's is %s: rebuild with analyzer %s, metric %s", now, want.Hash, want.Analyzer, want.Metric)) || r.dry {
		return
	}
	if h, err = e.t.Health(ctx, reg); err != nil || h.IndexHash != want.Hash {
		got := h.IndexHash
		if err != nil {
			got = "unreadable (" + err.Error() + ")"
		}
		r.fail(fmt.Errorf("%w: index of %s not restored: INDEX_HASH %s after the rebuild, the snapshot's is %s", ErrDrillFailed, reg, got, want.Hash))
	}
}

// primary fences every region and promotes the snapshot's primary back when
// the regions disagree with the snapshot, but only if the old primary
// passes the health gate: promoting a broken region would leave no working
// primary. Otherwise it says so and leaves the current primary in place.
func (r *restorer) primary(ctx context.Context) {
	e, s := r.e, r.e.snap
	hs, _ := e.t.HealthAll(ctx)
	top := e.maxEpoch(hs)
	need := false
	for _, h := range hs {
		need = need || h.Primary != s.Primary || h.Epoch != top
	}
	if !need {
		return
	}
	h, err := e.t.Health(ctx, s.Primary)
	ok, why := false, "unreachable"
	if err == nil {
		ok, why = gateOK(h, e.reference(hs))
	}
	if !ok && !r.dry {
		r.fail(fmt.Errorf("old primary %s not promoted back: it fails the health gate (%s); the primary stays where the drill left it", s.Primary, why))
		r.journal(e.write(journal.Refused, r.step, "", event.Refused{Action: adapter.Promote, Region: s.Primary, Why: why}))
		return
	}
	state := "it passes the health gate"
	if !ok {
		state = "if it passes the health gate once faults are lifted (now: " + why + ")"
	}
	for _, reg := range e.p.Regions {
		r.do(ctx, adapter.Action{Kind: adapter.Freeze, Region: reg, Frozen: true}, "fence before restoring the primary")
	}
	epoch := max(top, e.epoch) + 1
	if !r.dry {
		e.mu.Lock()
		e.epoch = epoch
		e.mu.Unlock()
	}
	r.do(ctx, adapter.Action{Kind: adapter.Promote, Primary: s.Primary, Epoch: epoch}, "restore the home primary: "+state)
}

// topK puts a region's default top-k back: first to the index's own (0,
// which is what an unclamped region reports), then, if the snapshot held a
// clamp of its own, to that value.
func (r *restorer) topK(ctx context.Context, reg string) {
	e := r.e
	zero := 0
	want, known := e.snap.K[reg]
	if !known {
		r.do(ctx, adapter.Action{Kind: adapter.Scale, Region: reg, K: &zero}, "restore the index's own top-k (the snapshot has no k)")
		return
	}
	if h, err := e.t.Health(ctx, reg); err == nil && h.K == want {
		return
	}
	if !r.do(ctx, adapter.Action{Kind: adapter.Scale, Region: reg, K: &zero}, fmt.Sprintf("top-k back to the index's own (the snapshot's is %d)", want)) || r.dry {
		return
	}
	if h, err := e.t.Health(ctx, reg); err == nil && h.K == want {
		return
	}
	k := want
	if r.do(ctx, adapter.Action{Kind: adapter.Scale, Region: reg, K: &k}, fmt.Sprintf("top-k back to the snapshot's clamp %d", want)) {
		if h, err := e.t.Health(ctx, reg); err != nil || h.K != want {
			r.fail(fmt.Errorf("top-k of %s not restored: %d, the snapshot's is %d", reg, h.K, want))
		}
	}
}
