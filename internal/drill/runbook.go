package drill

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/kind"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// drillRun is one drill of a run: what its kind's steps act through
// (kind.Drill).
type drillRun struct {
	e          *Engine
	info       kind.Info
	letter     event.Letter
	evac       string     // the region the drill changes
	survivor   string     // the region that keeps serving
	step       event.Step // the step running
	blackholed bool       // the changed region is cut off: actions cannot reach it
	partial    bool       // the running step's actions missed a region, as expected
	// stopTraffic ends drill C's client sessions and journals what they
	// saw; a no-op for other drills and once called.
	stopTraffic func()
}

var _ kind.Drill = (*drillRun)(nil)

// runDrill runs the seven steps of the page's runbook as the drill's kind
// defines them.
func (e *Engine) runDrill(ctx context.Context, name plan.DrillKind) error {
	k, ok := kind.Lookup(string(name))
	if !ok {
		return fmt.Errorf("unknown drill kind %q", name)
	}
	info := k.Info()
	d := &drillRun{e: e, info: info, letter: info.Letter, stopTraffic: func() {}}
	d.evac, d.survivor = k.Regions(e.p, cmp.Or(e.snap.Primary, e.p.Primary))
	defer func() { d.stopTraffic() }()
	for i, s := range k.Runbook() {
		if ctx.Err() != nil {
			return ErrInterrupted
		}
		select { // a tripped stop condition: no further step starts
		case why := <-e.stop:
			e.stop <- why
			return fmt.Errorf("%w: %s", ErrStopped, why)
		default:
		}
		d.step, d.partial = event.Steps[i], false
		if err := e.write(journal.StepStart, d.step, "", event.StepStart{Drill: d.letter}); err != nil {
			return err
		}
		var notes []string
		err := e.runHooks(ctx, d, d.step, "before")
		switch {
		case err == nil && s.Do == nil:
			err = errSkip
		case err == nil:
			notes, err = s.Do(ctx, d)
		}
		if err == nil {
			err = e.runHooks(ctx, d, d.step, "after")
		}
		out := event.StepOK
		switch {
		case err == nil && d.partial:
			out = event.StepPartial
		case errors.Is(err, errSkip):
			out, err = event.StepSkipped, nil
		case errors.Is(err, ErrInterrupted) || ctx.Err() != nil:
			out = event.StepInterrupted
		case err != nil:
			out = event.StepFailed
			notes = append(notes, err.Error())
		}
		if jerr := e.write(journal.StepEnd, d.step, "", event.StepEnd{Drill: d.letter, Outcome: out, Notes: notes}); err == nil {
			err = jerr
		}
		if err != nil {
			if ctx.Err() != nil {
				return ErrInterrupted
			}
			return err
		}
	}
	return nil
}

var errSkip = errors.New("not part of this drill")

func (e *Engine) hold() time.Duration     { return plan.Seconds(e.p.Phases.HoldS) }
func (e *Engine) baseline() time.Duration { return plan.Seconds(e.p.Phases.BaselineS) }

func (d *drillRun) Plan() *plan.Plan         { return d.e.p }
func (d *drillRun) Changed() string          { return d.evac }
func (d *drillRun) Serving() string          { return d.survivor }
func (d *drillRun) Snapshot() event.Snapshot { return d.e.snap }

func (d *drillRun) Mark(kind event.MarkKind, label string) {
	d.e.record(journal.Mark, "", event.Mark{Drill: d.letter, Label: label, Kind: kind})
}

func (d *drillRun) Apply(ctx context.Context, do adapter.Action, undo *adapter.Action, why string) error {
	return d.e.apply(ctx, d.step, do, undo, why)
}

func (d *drillRun) Weights(ctx context.Context, region string, w int) map[string]int {
	return d.e.weightsWith(ctx, region, w)
}

func (d *drillRun) Health(ctx context.Context, region string) (contract.Health, error) {
	return d.e.t.Health(ctx, region)
}

func (d *drillRun) Warm(ctx context.Context, region string) error {
	return d.e.t.Do(ctx, adapter.Action{Kind: adapter.Warm, Region: region, Tenant: hotTenant, Questions: d.e.hotQuestions()})
}

func (d *drillRun) PurgeWithEvidence(ctx context.Context, region string) error {
	return d.e.purgeWithEvidence(ctx, d, d.step, region)
}

func (d *drillRun) LiveChecks(ctx context.Context) []string {
	return d.e.runChecks(ctx, d, plan.PhaseLive)
}

func (d *drillRun) Sleep(ctx context.Context, t time.Duration) error { return d.e.sleep(ctx, t) }

func (d *drillRun) RestoreAll(ctx context.Context) error { return d.e.restore(ctx, d.step) }

func (d *drillRun) StartIndexTraffic(ctx context.Context) {
	d.stopTraffic()
	d.stopTraffic = d.e.startIndexTraffic(ctx, d)
}

func (d *drillRun) RefuseReuse(region string) {
	d.e.record(journal.RefusedReuse, d.step, event.RefusedReuse(region))
}

func (d *drillRun) Failed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrDrillFailed, fmt.Sprintf(format, args...))
}

// Blackhole cuts region off with a leased fault the engine keeps renewing.
func (d *drillRun) Blackhole(ctx context.Context, region string) error {
	e := d.e
	if err := d.Apply(ctx, adapter.Action{Kind: adapter.Blackhole, Region: region, LeaseMS: e.leaseMS()},
		&adapter.Action{Kind: adapter.ClearFaults, Region: region}, "hard outage: cut ingress and egress"); err != nil {
		return err
	}
	d.blackholed = true
	e.watchFaults(ctx, region)
	return nil
}

// PreChecks: baseline traffic, then the gate.
func (d *drillRun) PreChecks(ctx context.Context) ([]string, error) {
	e := d.e
	var notes []string
	// Steady state first: a baseline during which a region left rotation
	// (a stalled machine timed it out) measures nothing the drill can be
	// compared with, and the evacuation would have nowhere to go. Such a
	// baseline is taken again, a bounded number of times.
	for attempt := 1; ; attempt++ {
		if err := e.waitRotation(ctx); err != nil {
			return notes, err
		}
		if err := e.baselineOnce(ctx, d); err != nil {
			return notes, err
		}
		if e.allInRotation(ctx) {
			break
		}
		if attempt == maxBaselines {
			return notes, fmt.Errorf("%w: steady state not reached: a region left the router's rotation during each of %d baselines", ErrGate, attempt)
		}
		notes = append(notes, fmt.Sprintf("baseline %d: a region left the router's rotation; taken again", attempt))
	}
	// A write backlog above the threshold at the gate is usually a burst of
	// the baseline's own writes: give it a few seconds to drain first.
	for deadline := e.now().Add(10 * time.Second); e.backlog(ctx) > e.p.Thresholds.QueueBacklogMax && e.now().Before(deadline); {
		if err := e.sleep(ctx, 250*time.Millisecond); err != nil {
			return notes, err
		}
	}
	failed := e.runChecks(ctx, d, plan.PhasePre)
	if len(failed) > 0 {
		return notes, fmt.Errorf("%w: %v", ErrGate, failed)
	}
	return notes, nil
}

// maxBaselines bounds how often the pre-checks take the baseline again.
const maxBaselines = 3

// baselineOnce warms the hot path, runs the canary probes and takes the
// baseline: steady traffic before any change, journaled with its window.
func (e *Engine) baselineOnce(ctx context.Context, d *drillRun) error {
	// Warm the hot path in every region: the cache_warm gate checks it holds.
	for _, r := range e.p.Regions {
		if err := d.Warm(ctx, r); err != nil {
			return fmt.Errorf("warm %s: %w", r, err)
		}
	}
	// Canary: the probe set in every region, logging ΔS, λ and coverage. It
	// runs before the baseline so its extra load is not part of it.
	if err := e.probeAll(ctx, d, event.ProbeBefore); err != nil {
		return err
	}
	// Its first part lets caches and instances settle after the warm-up and
	// is not measured.
	settle := e.baseline() / 2
	if err := e.sleep(ctx, settle); err != nil {
		return err
	}
	from := e.j.Since()
	if err := e.sleep(ctx, e.baseline()-settle); err != nil {
		return err
	}
	return e.write(journal.Baseline, event.StepPre, "", event.Baseline{Drill: d.letter, FromMS: from, ToMS: e.j.Since()})
}

// waitRotation waits (up to hysteresis + 10 s) until every region is back in
// the router's rotation after an earlier drill.
func (e *Engine) waitRotation(ctx context.Context) error {
	deadline := e.now().Add(e.p.Hysteresis() + 10*time.Second)
	for {
		hs, errs := e.t.HealthAll(ctx)
		if len(errs) == 0 && len(hs) == len(e.p.Regions) && e.allInRotation(ctx) {
			return nil
		}
		if e.now().After(deadline) {
			return nil // the pre-checks will say what is wrong
		}
		if err := e.sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// leaseMS is the lease of injected faults: long enough for the drill, short
// enough that a vanished drill leaves no blackhole behind for long.
func (e *Engine) leaseMS() int64 { return 10_000 }

// Promote: exactly one survivor becomes primary with a new epoch, webhooks
// come only from it, and it takes writes.
func (d *drillRun) Promote(ctx context.Context) ([]string, error) {
	e := d.e
	// A clean queue tail first: give the old primary's in-flight writes a
	// moment to land (it cannot be waited for when it is blackholed).
	if err := e.sleep(ctx, 1500*time.Millisecond); err != nil {
		return nil, err
	}
	epoch := e.nextEpoch()
	d.Mark(event.MarkPromote, fmt.Sprintf("promote %s (epoch %d)", d.survivor, epoch))
	var notes []string
	err := d.Apply(ctx, adapter.Action{Kind: adapter.Promote, Primary: d.survivor, Epoch: epoch},
		&adapter.Action{Kind: adapter.Promote, Primary: e.snap.Primary}, "promote exactly one survivor")
	if notes, err = d.missed("promote", err, notes); err != nil {
		return notes, err
	}
	emit := e.p.WebhookPolicy.EmitFrom
	err = d.Apply(ctx, adapter.Action{Kind: adapter.EmitFrom, EmitFrom: []string{emit}},
		&adapter.Action{Kind: adapter.EmitFrom, EmitFrom: []string{e.snap.Primary}}, "emit webhooks only from the survivor")
	if notes, err = d.missed("emit policy", err, notes); err != nil {
		return notes, err
	}
	if err := d.Apply(ctx, adapter.Action{Kind: adapter.Freeze, Region: d.survivor, Frozen: false},
		&adapter.Action{Kind: adapter.Freeze, Region: d.survivor, Frozen: e.snap.Frozen[d.survivor]}, "the promoted region takes writes"); err != nil {
		return notes, err
	}
	return append(notes, fmt.Sprintf("%s primary at epoch %d; webhooks from %s", d.survivor, epoch, emit)), nil
}

// missed decides on an action that did not reach every region. Missing the
// blackholed region of a hard outage is expected (it learns the new epoch
// from the ledger's fence before it applies anything): the step goes on,
// marked partial, with a note naming the action, the region and why. Any
// other miss fails the step.
func (d *drillRun) missed(action string, err error, notes []string) ([]string, error) {
	if err == nil {
		return notes, nil
	}
	failed := adapter.RegionErrors(err)
	if len(failed) == 0 {
		return notes, err
	}
	for _, f := range failed {
		if !d.blackholed || f.Region != d.evac {
			return notes, fmt.Errorf("%s did not reach %s, which is not cut off: %w", action, f.Region, f.Err)
		}
	}
	for _, f := range failed {
		notes = append(notes, fmt.Sprintf("%s did not reach %s (expected: blackholed by this drill): %v", action, f.Region, f.Err))
	}
	d.partial = true
	return notes, nil
}

// Hold: the live checks every second while the change holds; p95 over the
// SLO clamps top-k once.
func (d *drillRun) Hold(ctx context.Context) ([]string, error) {
	e := d.e
	var notes []string
	end := e.now().Add(e.hold())
	clamped := false
	var failed []string
	// Every second while the change holds, and once more after a round that
	// failed: a reading over a limit is judged against the next one (a blip
	// that clears is reported, not counted), so the last round needs one.
	for confirm := false; e.now().Before(end) || confirm; confirm = !confirm && len(failed) > 0 && !e.now().Before(end) {
		if err := e.sleep(ctx, time.Second); err != nil {
			return notes, err
		}
		failed = d.LiveChecks(ctx)
		if !clamped && slices.Contains(failed, string(plan.CheckP95Latency)) {
			// p95 over the SLO: lower k in retrieval for a while (ranking
			// stays deterministic: same index, same fusion, fewer chunks).
			clamped = true
			if note, err := d.clampK(ctx); err != nil {
				notes = append(notes, "clamp k: "+err.Error())
			} else {
				notes = append(notes, note)
			}
		}
	}
	return notes, nil
}

// clampK halves the survivor's default top-k; restore puts it back.
func (d *drillRun) clampK(ctx context.Context) (string, error) {
	h, err := d.Health(ctx, d.survivor)
	if err != nil {
		return "", err
	}
	k, zero := max(1, h.K/2), 0
	d.Mark(event.MarkClamp, fmt.Sprintf("k %d → %d on %s", h.K, k, d.survivor))
	err = d.Apply(ctx, adapter.Action{Kind: adapter.Scale, Region: d.survivor, K: &k},
		&adapter.Action{Kind: adapter.Scale, Region: d.survivor, K: &zero}, "p95 above the SLO: lower k in retrieval")
	return fmt.Sprintf("p95 above the SLO: k %d → %d on %s", h.K, k, d.survivor), err
}

// Prewarm raises the survivor's minimum instances for the traffic it takes.
func (d *drillRun) Prewarm(ctx context.Context) error {
	h, err := d.Health(ctx, d.survivor)
	if err != nil {
		return err
	}
	want, was := max(2*h.MinInstances, 4)+2, d.e.snap.MinInst[d.survivor]
	return d.Apply(ctx, adapter.Action{Kind: adapter.Scale, Region: d.survivor, MinInstances: &want},
		&adapter.Action{Kind: adapter.Scale, Region: d.survivor, MinInstances: &was}, "pre-warm the survivor")
}

// Verify runs the probe set in region; when ΔS is at risk or the answers
// diverge, it rebuilds the region from the artifact, purges its cache and
// probes again.
func (d *drillRun) Verify(ctx context.Context, region string) ([]string, error) {
	e := d.e
	bad, err := e.verifyRegion(ctx, d, region)
	if err != nil {
		return nil, err
	}
	if bad == "" {
		return []string{region + ": probe set within targets"}, nil
	}
	notes := []string{region + ": " + bad + "; rebuilding and purging"}
	d.Mark(event.MarkRebuild, "rebuild "+region)
	if err := d.Apply(ctx, adapter.Action{Kind: adapter.Rebuild, Region: region}, nil, "rebuild from the same artifact"); err != nil {
		return notes, err
	}
	if err := d.PurgeWithEvidence(ctx, region); err != nil {
		return notes, err
	}
	d.stopTraffic() // drill C: the skewed index is gone
	if err := d.Warm(ctx, region); err != nil {
		notes = append(notes, "re-warm: "+err.Error())
	}
	bad, err = e.verifyRegion(ctx, d, region)
	if err != nil {
		return notes, err
	}
	if bad != "" {
		notes = append(notes, "still "+bad+" after rebuild")
	}
	return notes, nil
}

// Restore undoes every change: the region comes back as it was, its cache
// re-warmed for the traffic it takes back.
func (d *drillRun) Restore(ctx context.Context) ([]string, error) {
	d.Mark(event.MarkRestore, "restore "+d.evac)
	if err := d.RestoreAll(ctx); err != nil {
		return nil, err
	}
	if err := d.Warm(ctx, d.evac); err != nil {
		return []string{"restored; re-warm failed: " + err.Error()}, nil
	}
	return []string{"restored the pre-drill state and re-warmed " + d.evac}, nil
}

// Closeout: the queues drain, the canary probes run again, the post-checks
// close the drill.
func (d *drillRun) Closeout(ctx context.Context) ([]string, error) {
	e := d.e
	if err := e.waitDrain(ctx, d); err != nil {
		return nil, err
	}
	if err := e.probeAll(ctx, d, event.ProbeAfter); err != nil {
		return nil, err
	}
	// The return step re-warmed the returning region right after its purge;
	// sticky sessions may have kept clients away since, and the cache's
	// freshness (20 s in the lab) expired those keys. Warm it again so the
	// cache_rewarmed post-check sees whether a re-warm holds, not how old it is.
	var notes []string
	if err := d.Warm(ctx, d.evac); err != nil {
		notes = append(notes, "re-warm "+d.evac+": "+err.Error())
	}
	e.runChecks(ctx, d, plan.PhasePost)
	return notes, nil
}

// waitDrain waits until every region's backlog is at most the threshold or
// the drain timeout passes; the time it took is journaled.
func (e *Engine) waitDrain(ctx context.Context, d *drillRun) error {
	start := e.now()
	deadline := start.Add(plan.Seconds(e.p.Phases.DrainTimeoutS))
	zeros := 0
	for {
		total := e.backlog(ctx)
		if total == 0 {
			zeros++
		} else {
			zeros = 0
		}
		if zeros >= 3 {
			return e.write(journal.Drained, event.StepClose, "", event.Drained{Drill: d.letter, Seconds: e.now().Sub(start).Seconds(), OK: true})
		}
		if e.now().After(deadline) {
			return e.write(journal.Drained, event.StepClose, "", event.Drained{Drill: d.letter, Seconds: e.now().Sub(start).Seconds(), Backlog: &total})
		}
		if err := e.sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}
