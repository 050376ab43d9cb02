package drill

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/plan"
)

type stepFn func(ctx context.Context, d *drillRun) ([]string, error)

type drillRun struct {
	kind       plan.DrillKind
	letter     event.Letter
	evac       string
	survivor   string
	blackholed bool // the evacuated region is cut off: actions cannot reach it
	partial    bool // the running step's actions missed a region, as expected
	// stopTraffic ends drill C's client sessions and journals what they
	// saw; a no-op for other drills and once called.
	stopTraffic func()
}

func (e *Engine) mark(d *drillRun, kind event.MarkKind, label string) {
	e.record(journal.Mark, "", event.Mark{Drill: d.letter, Label: label, Kind: kind})
}

// runDrill runs the seven steps for one drill kind.
func (e *Engine) runDrill(ctx context.Context, kind plan.DrillKind) error {
	d := &drillRun{kind: kind, letter: event.Letter(kind.Letter()), evac: e.p.Evacuate, survivor: e.p.PromoteSurvivor, stopTraffic: func() {}}
	if kind == plan.DrillIndexSkew {
		d.evac, d.survivor = e.skewTarget()
	}
	defer func() { d.stopTraffic() }()
	steps := []struct {
		name event.Step
		fn   stepFn
	}{
		{event.StepPre, e.stepPre},
		{event.StepEvacuate, e.stepEvacuate},
		{event.StepPromote, e.stepPromote},
		{event.StepObserve, e.stepObserve},
		{event.StepVerify, e.stepVerify},
		{event.StepReturn, e.stepReturn},
		{event.StepClose, e.stepClose},
	}
	for _, s := range steps {
		if ctx.Err() != nil {
			return ErrInterrupted
		}
		select { // a tripped stop condition: no further step starts
		case why := <-e.stop:
			e.stop <- why
			return fmt.Errorf("%w: %s", ErrStopped, why)
		default:
		}
		if err := e.write(journal.StepStart, s.name, "", event.StepStart{Drill: d.letter}); err != nil {
			return err
		}
		d.partial = false
		var notes []string
		err := e.runHooks(ctx, d, s.name, "before")
		if err == nil {
			notes, err = s.fn(ctx, d)
		}
		if err == nil {
			err = e.runHooks(ctx, d, s.name, "after")
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
		if jerr := e.write(journal.StepEnd, s.name, "", event.StepEnd{Drill: d.letter, Outcome: out, Notes: notes}); err == nil {
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

// stepPre: baseline traffic, then the gate.
func (e *Engine) stepPre(ctx context.Context, d *drillRun) ([]string, error) {
	var notes []string
	// Steady state first: a baseline during which a region left rotation
	// (a stalled machine timed it out) measures nothing the drill can be
	// compared with, and the evacuation would have nowhere to go. Such a
	// baseline is taken again, a bounded number of times.
	for attempt := 1; ; attempt++ {
		if err := e.waitRotation(ctx, d); err != nil {
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
	for deadline := time.Now().Add(10 * time.Second); e.backlog(ctx) > e.p.Thresholds.QueueBacklogMax && time.Now().Before(deadline); {
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
		if err := e.t.Do(ctx, adapter.Action{Kind: adapter.Warm, Region: r, Tenant: hotTenant, Questions: e.hotQuestions()}); err != nil {
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
func (e *Engine) waitRotation(ctx context.Context, d *drillRun) error {
	deadline := time.Now().Add(e.p.Hysteresis() + 10*time.Second)
	for {
		hs, errs := e.t.HealthAll(ctx)
		if len(errs) == 0 && len(hs) == len(e.p.Regions) && e.allInRotation(ctx) {
			return nil
		}
		if time.Now().After(deadline) {
			return nil // the pre-checks will say what is wrong
		}
		if err := e.sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

func (e *Engine) stepEvacuate(ctx context.Context, d *drillRun) ([]string, error) {
	var notes []string
	switch d.kind {
	case plan.DrillIndexSkew:
		// Publish a follower built with the wrong analyzer or metric.
		d.stopTraffic = e.startIndexTraffic(ctx, d)
		e.mark(d, event.MarkRebuild, "publish skewed "+d.evac)
		err := e.apply(ctx, event.StepEvacuate, adapter.Action{Kind: adapter.Rebuild, Region: d.evac, Analyzer: e.p.Lab.SkewAnalyzer, Metric: e.p.Lab.SkewMetric},
			&adapter.Action{Kind: adapter.Rebuild, Region: d.evac}, "publish a follower with the wrong analyzer/metric")
		return []string{"published " + d.evac + " with analyzer " + e.p.Lab.SkewAnalyzer}, err
	case plan.DrillPlannedEvacuation, plan.DrillReturnToHome:
		// Planned: pre-warm the survivor for the traffic it is about to take.
		if err := e.prewarm(ctx, d, event.StepEvacuate); err != nil {
			notes = append(notes, "pre-warm: "+err.Error())
		}
		if e.p.FreezeWritesOnFollowers {
			for _, r := range e.p.Regions {
				if err := e.apply(ctx, event.StepEvacuate, adapter.Action{Kind: adapter.Freeze, Region: r, Frozen: true},
					&adapter.Action{Kind: adapter.Freeze, Region: r, Frozen: false}, "freeze writes during the cutover"); err != nil {
					return notes, err
				}
			}
		}
		e.mark(d, event.MarkDecision, "evacuate "+d.evac+" (weight 0)")
		if err := e.apply(ctx, event.StepEvacuate, adapter.Action{Kind: adapter.SetWeights, Weights: e.weightsWith(ctx, d.evac, 0)},
			&adapter.Action{Kind: adapter.SetWeights, Weights: e.snap.Weights}, "drain the region by weight"); err != nil {
			return notes, err
		}
		notes = append(notes, fmt.Sprintf("weights: %s → 0", d.evac))
	case plan.DrillHardOutage, plan.DrillWebhookReroute:
		e.mark(d, event.MarkDecision, "blackhole "+d.evac)
		if err := e.apply(ctx, event.StepEvacuate, adapter.Action{Kind: adapter.Blackhole, Region: d.evac, LeaseMS: e.leaseMS()},
			&adapter.Action{Kind: adapter.ClearFaults, Region: d.evac}, "hard outage: cut ingress and egress"); err != nil {
			return notes, err
		}
		d.blackholed = true
		e.watchFaults(ctx, d.evac)
		if e.p.FreezeWritesOnFollowers {
			for _, r := range e.p.Survivors() {
				if err := e.apply(ctx, event.StepEvacuate, adapter.Action{Kind: adapter.Freeze, Region: r, Frozen: true},
					&adapter.Action{Kind: adapter.Freeze, Region: r, Frozen: false}, "freeze follower writes until one region is promoted"); err != nil {
					return notes, err
				}
			}
		}
		notes = append(notes, "blackholed "+d.evac)
	}
	return notes, nil
}

// leaseMS is the lease of injected faults: long enough for the drill, short
// enough that a vanished drill leaves no blackhole behind for long.
func (e *Engine) leaseMS() int64 { return 10_000 }

func (e *Engine) stepPromote(ctx context.Context, d *drillRun) ([]string, error) {
	if d.kind == plan.DrillIndexSkew {
		return nil, errSkip
	}
	// A clean queue tail first: give the old primary's in-flight writes a
	// moment to land (it cannot be waited for when it is blackholed).
	if err := e.sleep(ctx, 1500*time.Millisecond); err != nil {
		return nil, err
	}
	epoch := e.nextEpoch()
	e.mark(d, event.MarkPromote, fmt.Sprintf("promote %s (epoch %d)", d.survivor, epoch))
	var notes []string
	err := e.apply(ctx, event.StepPromote, adapter.Action{Kind: adapter.Promote, Primary: d.survivor, Epoch: epoch},
		&adapter.Action{Kind: adapter.Promote, Primary: e.snap.Primary}, "promote exactly one survivor")
	if notes, err = e.missed(d, "promote", err, notes); err != nil {
		return notes, err
	}
	emit := e.p.WebhookPolicy.EmitFrom
	err = e.apply(ctx, event.StepPromote, adapter.Action{Kind: adapter.EmitFrom, EmitFrom: []string{emit}},
		&adapter.Action{Kind: adapter.EmitFrom, EmitFrom: []string{e.snap.Primary}}, "emit webhooks only from the survivor")
	if notes, err = e.missed(d, "emit policy", err, notes); err != nil {
		return notes, err
	}
	if err := e.apply(ctx, event.StepPromote, adapter.Action{Kind: adapter.Freeze, Region: d.survivor, Frozen: false},
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
func (e *Engine) missed(d *drillRun, action string, err error, notes []string) ([]string, error) {
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

func (e *Engine) stepObserve(ctx context.Context, d *drillRun) ([]string, error) {
	var notes []string
	if d.kind == plan.DrillHardOutage || d.kind == plan.DrillWebhookReroute {
		// Unplanned: clamp after the fact.
		if err := e.prewarm(ctx, d, event.StepObserve); err != nil {
			notes = append(notes, "clamp: "+err.Error())
		}
	}
	end := time.Now().Add(e.hold())
	clamped := false
	var failed []string
	// Every second while the change holds, and once more after a round that
	// failed: a reading over a limit is judged against the next one (a blip
	// that clears is reported, not counted), so the last round needs one.
	for confirm := false; time.Now().Before(end) || confirm; confirm = !confirm && len(failed) > 0 && !time.Now().Before(end) {
		if err := e.sleep(ctx, time.Second); err != nil {
			return notes, err
		}
		failed = e.runChecks(ctx, d, plan.PhaseLive)
		if !clamped && slices.Contains(failed, "p95_latency") {
			// p95 over the SLO: lower k in retrieval for a while (ranking
			// stays deterministic: same index, same fusion, fewer chunks).
			clamped = true
			if note, err := e.clampK(ctx, d); err != nil {
				notes = append(notes, "clamp k: "+err.Error())
			} else {
				notes = append(notes, note)
			}
		}
	}
	return notes, nil
}

// clampK halves the survivor's default top-k; restore puts it back.
func (e *Engine) clampK(ctx context.Context, d *drillRun) (string, error) {
	h, err := e.t.Health(ctx, d.survivor)
	if err != nil {
		return "", err
	}
	k, zero := max(1, h.K/2), 0
	e.mark(d, event.MarkClamp, fmt.Sprintf("k %d → %d on %s", h.K, k, d.survivor))
	err = e.apply(ctx, event.StepObserve, adapter.Action{Kind: adapter.Scale, Region: d.survivor, K: &k},
		&adapter.Action{Kind: adapter.Scale, Region: d.survivor, K: &zero}, "p95 above the SLO: lower k in retrieval")
	return fmt.Sprintf("p95 above the SLO: k %d → %d on %s", h.K, k, d.survivor), err
}

func (e *Engine) prewarm(ctx context.Context, d *drillRun, step event.Step) error {
	h, err := e.t.Health(ctx, d.survivor)
	if err != nil {
		return err
	}
	want, was := max(2*h.MinInstances, 4)+2, e.snap.MinInst[d.survivor]
	return e.apply(ctx, step, adapter.Action{Kind: adapter.Scale, Region: d.survivor, MinInstances: &want},
		&adapter.Action{Kind: adapter.Scale, Region: d.survivor, MinInstances: &was}, "pre-warm the survivor")
}

func (e *Engine) stepVerify(ctx context.Context, d *drillRun) ([]string, error) {
	region := d.survivor
	if d.kind == plan.DrillIndexSkew {
		region = d.evac // the skewed follower is the one to verify
	}
	bad, err := e.verifyRegion(ctx, d, region)
	if err != nil {
		return nil, err
	}
	if bad == "" {
		return []string{region + ": probe set within targets"}, nil
	}
	// ΔS ≥ risk or citations diverged: rebuild from the artifact, purge, probe again.
	notes := []string{region + ": " + bad + "; rebuilding and purging"}
	e.mark(d, event.MarkRebuild, "rebuild "+region)
	if err := e.apply(ctx, event.StepVerify, adapter.Action{Kind: adapter.Rebuild, Region: region}, nil, "rebuild from the same artifact"); err != nil {
		return notes, err
	}
	if err := e.purgeWithEvidence(ctx, d, event.StepVerify, region); err != nil {
		return notes, err
	}
	d.stopTraffic() // drill C: the skewed index is gone
	if err := e.t.Do(ctx, adapter.Action{Kind: adapter.Warm, Region: region, Tenant: hotTenant, Questions: e.hotQuestions()}); err != nil {
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

func (e *Engine) stepReturn(ctx context.Context, d *drillRun) ([]string, error) {
	switch d.kind {
	case plan.DrillReturnToHome:
		return e.returnHome(ctx, d)
	case plan.DrillIndexSkew:
		// The skewed follower was rebuilt in step 5 (or not); let the edge
		// readmit it after its hysteresis.
		return nil, errSkip
	}
	// A, B, D end by undoing their changes: the region comes back as it was,
	// its cache re-warmed for the traffic it takes back.
	e.mark(d, event.MarkRestore, "restore "+d.evac)
	if err := e.restore(ctx, event.StepReturn); err != nil {
		return nil, err
	}
	if err := e.t.Do(ctx, adapter.Action{Kind: adapter.Warm, Region: d.evac, Tenant: hotTenant, Questions: e.hotQuestions()}); err != nil {
		return []string{"restored; re-warm failed: " + err.Error()}, nil
	}
	return []string{"restored the pre-drill state and re-warmed " + d.evac}, nil
}

func (e *Engine) returnHome(ctx context.Context, d *drillRun) ([]string, error) {
	var notes []string
	// The repaired region must be reachable before anything else.
	if err := e.apply(ctx, event.StepReturn, adapter.Action{Kind: adapter.ClearFaults, Region: d.evac}, nil, "repair: lift faults"); err != nil {
		return notes, err
	}
	if e.p.ReturnToHome.RebuildFollower {
		e.mark(d, event.MarkRebuild, "rebuild "+d.evac)
		if err := e.apply(ctx, event.StepReturn, adapter.Action{Kind: adapter.Rebuild, Region: d.evac}, nil, "rebuild from the same artifact"); err != nil {
			return notes, err
		}
	}
	hs, _ := e.t.HealthAll(ctx)
	if hs[d.evac].IndexHash != hs[d.survivor].IndexHash {
		notes = append(notes, fmt.Sprintf("INDEX_HASH of %s (%s) differs from %s (%s): refusing reuse", d.evac, hs[d.evac].IndexHash, d.survivor, hs[d.survivor].IndexHash))
		e.record(journal.RefusedReuse, event.StepReturn, event.RefusedReuse(d.evac))
		return notes, fmt.Errorf("%w: index hash mismatch after rebuild: %s keeps weight 0", ErrDrillFailed, d.evac)
	}
	if e.p.ReturnToHome.PurgeCache {
		if err := e.purgeWithEvidence(ctx, d, event.StepReturn, d.evac); err != nil {
			return notes, err
		}
		if err := e.t.Do(ctx, adapter.Action{Kind: adapter.Warm, Region: d.evac, Tenant: hotTenant, Questions: e.hotQuestions()}); err != nil {
			notes = append(notes, "re-warm: "+err.Error())
		}
	}
	// Unfreeze the returning region (it forwards its queue to the primary).
	if err := e.apply(ctx, event.StepReturn, adapter.Action{Kind: adapter.Freeze, Region: d.evac, Frozen: false}, nil, "the returning region forwards its queue"); err != nil {
		return notes, err
	}
	prev := 0
	for _, w := range e.p.ReturnToHome.GradualWeights {
		e.mark(d, event.MarkWeight, fmt.Sprintf("%s → %d", d.evac, w))
		if err := e.apply(ctx, event.StepReturn, adapter.Action{Kind: adapter.SetWeights, Weights: e.weightsWith(ctx, d.evac, w)},
			&adapter.Action{Kind: adapter.SetWeights, Weights: e.weightsWith(ctx, d.evac, prev)}, "gradual weight step"); err != nil {
			return notes, err
		}
		if err := e.sleep(ctx, plan.Seconds(e.p.Phases.StepHoldS)); err != nil {
			return notes, err
		}
		if failed := e.runChecks(ctx, d, plan.PhaseLive); len(failed) > 0 {
			notes = append(notes, fmt.Sprintf("guard failed at weight %d: %v; holding one more step", w, failed))
			if err := e.sleep(ctx, plan.Seconds(e.p.Phases.StepHoldS)); err != nil {
				return notes, err
			}
		}
		prev = w
	}
	// Hand the primary back home with a fence.
	e.mark(d, event.MarkRestore, "primary back to "+d.evac)
	return notes, e.restore(ctx, event.StepReturn)
}

func (e *Engine) stepClose(ctx context.Context, d *drillRun) ([]string, error) {
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
	if err := e.t.Do(ctx, adapter.Action{Kind: adapter.Warm, Region: d.evac, Tenant: hotTenant, Questions: e.hotQuestions()}); err != nil {
		notes = append(notes, "re-warm "+d.evac+": "+err.Error())
	}
	e.runChecks(ctx, d, plan.PhasePost)
	return notes, nil
}

// waitDrain waits until every region's backlog is at most the threshold or
// the drain timeout passes; the time it took is journaled.
func (e *Engine) waitDrain(ctx context.Context, d *drillRun) error {
	start := time.Now()
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
			return e.write(journal.Drained, event.StepClose, "", event.Drained{Drill: d.letter, Seconds: time.Since(start).Seconds(), OK: true})
		}
		if time.Now().After(deadline) {
			return e.write(journal.Drained, event.StepClose, "", event.Drained{Drill: d.letter, Seconds: time.Since(start).Seconds(), Backlog: &total})
		}
		if err := e.sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}
