package drill

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/probe"
)

// probeCount is how many gold probes each probe point asks per region.
const probeCount = 24

// probeRegion asks the gold probes in one region for the plan's rounds and
// returns the last round's results, λ observed across rounds. A probe that
// fails (after its retries) is left out of later rounds; the error is for a
// stop, an interrupt, or a set of which no probe was answered.
func (e *Engine) probeRegion(ctx context.Context, region string, n, rounds int) (probeSet, error) {
	probes := e.o.Corpus.Probes[:min(n, len(e.o.Corpus.Probes))]
	prev := make([][]probe.Round, len(probes))
	set := newProbeSet(probes)
	for range max(1, rounds) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var budget atomic.Int32
		budget.Store(probeRetryBudget)
		sem := make(chan struct{}, 4)
		for i, p := range probes {
			if !set.ok(i) {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if e.tripped.Load() || ctx.Err() != nil {
					return // a stop condition or an interrupt: no more probing
				}
				res, err := e.askProbe(ctx, region, p, prev[i], &budget)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					set.errs[i] = err
					return
				}
				set.results[i] = res
				prev[i] = append(prev[i], res.Round())
			}()
		}
		wg.Wait()
		if e.tripped.Load() {
			return set, fmt.Errorf("%w: probing abandoned", ErrStopped)
		}
		if ctx.Err() != nil {
			return set, ErrInterrupted
		}
		if len(probes) > 0 && set.unanswered() == len(probes) {
			return set, fmt.Errorf("%w in %s: %w", errNoProbeAnswered, region, set.errs[0])
		}
	}
	return set, nil
}

// probeData is the journal's view of a probe set: the answered results,
// and what failed.
func probeData(d *drillRun, phase event.ProbePhase, region string, set probeSet, err error) event.Probe {
	pd := event.Probe{Drill: d.letter, Phase: phase, Region: region, Results: set.answered(), Error: set.failures()}
	if err != nil {
		pd.Error = err.Error()
	}
	return pd
}

func (e *Engine) probeAll(ctx context.Context, d *drillRun, phase event.ProbePhase) error {
	// Regions are probed at once (each answers its own probes), and
	// journaled in the plan's order.
	sets := make([]probeSet, len(e.p.Regions))
	errs := make([]error, len(e.p.Regions))
	var wg sync.WaitGroup
	for i, r := range e.p.Regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sets[i], errs[i] = e.probeRegion(ctx, r, probeCount, e.p.Phases.ProbeRounds)
		}()
	}
	wg.Wait()
	for i, r := range e.p.Regions {
		e.record(journal.Probe, "", probeData(d, phase, r, sets[i], errs[i]))
	}
	if ctx.Err() != nil {
		return ErrInterrupted
	}
	for _, err := range errs {
		if errors.Is(err, ErrStopped) {
			return err
		}
	}
	return nil
}

// verifyRegion runs the probe set in one region and says what is wrong with
// it ("" when ΔS and citations are within targets).
func (e *Engine) verifyRegion(ctx context.Context, d *drillRun, region string) (string, error) {
	set, err := e.probeRegion(ctx, region, probeCount, 1)
	e.record(journal.Probe, event.StepVerify, probeData(d, event.ProbeVerify, region, set, err))
	if err != nil {
		return "probe failed: " + err.Error(), nil
	}
	if set.tooFew() {
		return set.failures(), nil
	}
	res := set.answered()
	risky, noGold := 0, 0
	for _, r := range res {
		if r.DeltaS >= e.p.RAGProbe.DeltaSRisk {
			risky++
		}
		if !r.CitesGold {
			noGold++
		}
	}
	// The reference: the same probes in another region that is serving and
	// reachable (never the evacuated one); without one, gold alone judges.
	ref := ""
	for _, r := range e.p.Regions {
		if r == region || (r == d.evac && d.info.Evacuates) {
			continue
		}
		if _, err := e.t.Health(ctx, r); err == nil {
			ref = r
			break
		}
	}
	diverged := 0
	h, _ := e.t.Health(ctx, region)
	var rh contract.Health
	if ref != "" {
		refSet, rerr := e.probeRegion(ctx, ref, probeCount, 1)
		if rerr == nil {
			for i := range set.results {
				if set.ok(i) && refSet.ok(i) && set.results[i].Answer != refSet.results[i].Answer {
					diverged++
				}
			}
		}
		rh, _ = e.t.Health(ctx, ref)
	} else {
		rh = h
	}
	switch {
	case diverged > 0:
		return fmt.Sprintf("%d/%d answers diverge from %s", diverged, len(res), ref), nil
	case h.IndexHash != rh.IndexHash:
		return fmt.Sprintf("INDEX_HASH %s differs from %s's %s", h.IndexHash, ref, rh.IndexHash), nil
	case risky > len(res)/4:
		return fmt.Sprintf("%d/%d probes at ΔS ≥ %.2f", risky, len(res), e.p.RAGProbe.DeltaSRisk), nil
	case noGold > len(res)/4:
		return fmt.Sprintf("%d/%d probes cite no gold doc", noGold, len(res)), nil
	}
	return "", nil
}
