package drill

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/measure"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/probe"
	"github.com/regiondrill/regiondrill/internal/pulse"
	"github.com/regiondrill/regiondrill/internal/stall"
)

// hotTenant is the tenant whose questions make the hot path.
const hotTenant = "t1"

// probeCount is how many gold probes each probe point asks per region.
const probeCount = 24

func (e *Engine) hotQuestions() []string {
	var qs []string
	for i, p := range e.o.Corpus.Probes {
		if i >= 16 {
			break
		}
		qs = append(qs, p.Question)
	}
	return qs
}

func (e *Engine) startLoad(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	var qs []string
	for _, p := range e.o.Corpus.Probes {
		qs = append(qs, p.Question)
	}
	cfg := load.Config{
		URL: e.t.Endpoints().Edge, Rate: e.p.Load.RateRPS, Duration: 24 * time.Hour,
		Sessions: e.p.Load.Sessions, WriteRatio: e.p.Load.WriteRatio, ReplayRatio: e.p.Load.ReplayRatio,
		Timeout: e.p.RequestTimeout(), MaxRetries: e.p.Load.MaxRetries,
		Tenants: []string{hotTenant, "t2", "t3", "t4", "t5", "t6", "t7", "t8"}, Questions: qs, Seed: e.p.Seed,
		TokenAuth: e.t.Endpoints().Token,
	}
	if e.o.Traffic != nil {
		return e.startTraffic(ctx, cfg)
	}
	e.rec = load.NewRecorder()
	gen, err := load.New(cfg)
	if err != nil {
		e.record(journal.LoadError, "", event.LoadError(err.Error()))
		close(done)
		return done
	}
	e.gen = gen
	e.pulse = pulse.New(e.o.Clock)
	// The generator runs in this process: a stall of the process delays its
	// sends and its clocks, and the judge must know when that happened.
	mon := &stall.Monitor{Clock: e.o.Clock, OnStall: func(span time.Duration) {
		to := e.j.Since()
		e.record(journal.Stall, "", event.Stall{FromMS: to - span.Milliseconds(), ToMS: to})
	}}
	go mon.Run(ctx)
	e.record(journal.LoadStart, "", event.LoadStart{AtMS: e.j.Since()})
	go func() {
		defer close(done)
		sum, err := gen.Run(ctx, pulse.Tee(e.rec, e.pulse))
		if err != nil {
			e.record(journal.LoadError, "", event.LoadError(err.Error()))
		}
		if sum != nil {
			e.record(journal.LoadSummary, "", sum)
		}
	}()
	return done
}

// sampleTimeout bounds one health sample and one lock renewal. Health
// answers of a busy 2-core machine take up to 0.7 s; a sample that takes
// longer than the 1 s tick only delays the next one.
const sampleTimeout = 2 * time.Second

func (e *Engine) startSampler(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		over := map[int]time.Time{}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			hctx, cancel := context.WithTimeout(ctx, sampleTimeout)
			hs, errs := e.healthQuick(hctx)
			cancel()
			e.seen.put(hs, errs, time.Now())
			smp := event.Health{Regions: hs, Errors: errs, Rotation: e.rotation(ctx)}
			if e.pulse != nil {
				ps := e.pulse.Take()
				smp.Load = &ps
			}
			e.record(journal.Health, "", smp)
			lctx, lcancel := context.WithTimeout(ctx, sampleTimeout)
			e.renewLock(lctx)
			lcancel()
			e.checkStops(hs, over)
		}
	}()
	return done
}

// healthQuick reads every region's health concurrently.
func (e *Engine) healthQuick(ctx context.Context) (map[string]contract.Health, map[string]string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	hs, errs := map[string]contract.Health{}, map[string]string{}
	for _, r := range e.p.Regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := e.t.Health(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[r] = err.Error()
				return
			}
			hs[r] = h
		}()
	}
	wg.Wait()
	return hs, errs
}

// checkStops evaluates the plan's stop conditions; the first one that stays
// above its threshold for its duration trips the drill.
func (e *Engine) checkStops(hs map[string]contract.Health, over map[int]time.Time) {
	if len(e.p.StopConditions) == 0 || e.tripped.Load() {
		return
	}
	recs := e.records()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for i, sc := range e.p.StopConditions {
		v, ok, _ := e.stopValue(ctx, sc, recs, hs)
		if !ok || v <= sc.Above {
			delete(over, i)
			continue
		}
		since, seen := over[i]
		if !seen {
			since = time.Now()
			over[i] = since
		}
		if time.Since(since) >= plan.Seconds(sc.ForS) {
			why := fmt.Sprintf("%s %.3f above %.3f for %.0fs", sc.Metric, v, sc.Above, sc.ForS)
			e.tripped.Store(true)
			e.record(journal.Stop, "", event.Stop{Condition: string(sc.Metric), Value: v, Above: sc.Above})
			select {
			case e.stop <- why:
			default:
			}
			return
		}
	}
}

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
	for _, r := range e.p.Regions {
		set, err := e.probeRegion(ctx, r, probeCount, e.p.Phases.ProbeRounds)
		e.record(journal.Probe, "", probeData(d, phase, r, set, err))
		if ctx.Err() != nil {
			return ErrInterrupted
		}
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

func (e *Engine) allInRotation(ctx context.Context) bool {
	raw, err := e.t.RouterStatus(ctx)
	if err != nil {
		return true // a router without status: nothing to wait for
	}
	s := string(raw)
	return !strings.Contains(s, `"in_rotation":false`)
}

// runChecks runs the plan's checks of a phase and journals each; it returns
// the names of those that failed.
func (e *Engine) runChecks(ctx context.Context, d *drillRun, phase plan.Phase) []string {
	var names []plan.CheckName
	switch phase {
	case plan.PhasePre:
		names = e.p.Checks.Pre
	case plan.PhaseLive:
		names = e.p.Checks.Live
	case plan.PhasePost:
		names = e.p.Checks.Post
	}
	hs, errs := e.healthQuick(ctx)
	env := checkEnv{e: e, d: d, ctx: ctx, health: hs, healthErrs: errs}
	var failed []string
	for _, n := range names {
		fn, ok := checks[n]
		if !ok {
			continue
		}
		pass, value, detail := fn(&env)
		e.record(journal.Check, "", event.Check{Phase: phase, Name: n, Drill: d.letter, Pass: pass, Value: value, Detail: detail, AtMS: e.j.Since(),
			Advisory: slices.Contains(e.p.Checks.Advisory, n)})
		if !pass {
			failed = append(failed, string(n))
		}
	}
	return failed
}

// closeout reads what the judge needs from the target at the very end: the
// client's write attempts, every region's store and the webhook sink.
func (e *Engine) closeout(ctx context.Context) {
	// Let queues drain after the restore before the final read.
	deadline := time.Now().Add(plan.Seconds(e.p.Phases.DrainTimeoutS))
	for zeros := 0; zeros < 3 && time.Now().Before(deadline); {
		if e.backlog(ctx) == 0 {
			zeros++
		} else {
			zeros = 0
		}
		time.Sleep(250 * time.Millisecond)
	}
	if e.rec != nil {
		recs := e.rec.Records()
		e.record(journal.RegionsIndex, "", event.RegionsIndex(e.rec.Regions()))
		for i := 0; i < len(recs); i += batchSize {
			e.record(journal.Records, "", load.Batch(recs[i:min(i+batchSize, len(recs))]))
		}
	}
	if e.gen != nil {
		recordBatches(e, journal.Writes, e.gen.Writes())
	}
	var stores []contract.Writes
	for _, r := range e.sortedRegions() {
		w, err := e.t.Writes(ctx, r)
		if err != nil {
			e.record(journal.StoreError, "", event.StoreError(r+": "+err.Error()))
			continue
		}
		stores = append(stores, w)
	}
	if len(stores) == 0 {
		e.record(journal.Stores, "", stores)
	}
	for _, s := range stores { // a region's store may span several events
		for i := 0; i == 0 || i < len(s.Writes); i += batchSize {
			part := contract.Writes{Region: s.Region, Writes: s.Writes[i:min(i+batchSize, len(s.Writes))]}
			e.record(journal.Stores, "", []contract.Writes{part})
		}
		// what is still queued or was set aside, in events of their own
		for i := 0; i < len(s.Queued); i += batchSize {
			part := contract.Writes{Region: s.Region, Writes: []contract.StoredWrite{}, Queued: s.Queued[i:min(i+batchSize, len(s.Queued))]}
			e.record(journal.Stores, "", []contract.Writes{part})
		}
		for i := 0; i < len(s.Dead); i += batchSize {
			part := contract.Writes{Region: s.Region, Writes: []contract.StoredWrite{}, Dead: s.Dead[i:min(i+batchSize, len(s.Dead))]}
			e.record(journal.Stores, "", []contract.Writes{part})
		}
	}
	switch ds, err := e.t.Deliveries(ctx); {
	case e.p.Waives(plan.WaiveSink):
		e.record(journal.DeliveriesWaived, "", event.DeliveriesWaived("targets.waive names sink"))
	case err != nil:
		e.record(journal.DeliveriesError, "", event.DeliveriesError(err.Error()))
	default:
		sort.Slice(ds, func(i, j int) bool { return ds[i].ReceivedAt.Before(ds[j].ReceivedAt) })
		recordBatches(e, journal.Webhooks, ds)
	}
	if err := e.j.Flush(); err != nil {
		err = fmt.Errorf("journal: flush: %w", err)
		e.journalErr.CompareAndSwap(nil, &err)
	}
}

// batchSize bounds the items of one bulk journal event, so every journal
// line stays small whatever the size of the run.
const batchSize = 5000

// recordBatches journals items in events of at most batchSize, at least one.
func recordBatches[T any](e *Engine, typ journal.Type, items []T) {
	for i := 0; i == 0 || i < len(items); i += batchSize {
		e.record(typ, "", items[i:min(i+batchSize, len(items))])
	}
}

// checkEnv is what a check sees.
type checkEnv struct {
	e          *Engine
	d          *drillRun
	ctx        context.Context
	health     map[string]contract.Health
	healthErrs map[string]string
}

type checkFn func(*checkEnv) (pass bool, value, detail string)

// checks is the one registry of check implementations, keyed by the plan's
// check names (plan.CheckRegistry lists them and their phases).
var checks = map[plan.CheckName]checkFn{
	"env_parity":       checkEnvParity,
	"index_hash_equal": checkIndexHashEqual,
	"queue_empty":      checkQueueEmpty,
	"cache_warm":       checkCacheWarm,
	"p95_latency":      checkP95,
	"error_rate":       checkErrorRate,
	"queue_backlog":    checkQueueBacklog,
	"ΔS_probe":         checkDeltaSProbe,
	"λ_state":          checkLambda,
	"index_hash":       checkIndexHashLive,
	"answers_equal":    checkAnswersEqual,
	"contracts_equal":  checkContractsEqual,
	"backlog_zero":     checkBacklogZero,
	"cache_rewarmed":   checkCacheRewarmed,
}

func (c *checkEnv) unreachable() string {
	if len(c.healthErrs) == 0 {
		return ""
	}
	var names []string
	for r := range c.healthErrs {
		names = append(names, r)
	}
	sort.Strings(names)
	return "unreachable: " + strings.Join(names, ", ")
}

func distinct(c *checkEnv, f func(contract.Health) string) (int, string) {
	seen := map[string][]string{}
	for r, h := range c.health {
		v := f(h)
		seen[v] = append(seen[v], r)
	}
	var parts []string
	for v, rs := range seen {
		sort.Strings(rs)
		parts = append(parts, strings.Join(rs, ",")+"="+v)
	}
	sort.Strings(parts)
	return len(seen), strings.Join(parts, "; ")
}

func checkEnvParity(c *checkEnv) (bool, string, string) {
	if u := c.unreachable(); u != "" {
		return false, "unreachable", u
	}
	for r, h := range c.health {
		if !h.Ready {
			return false, "not ready", r + " reports READY=false"
		}
	}
	fields := []struct {
		name string
		f    func(contract.Health) string
	}{
		{"release", func(h contract.Health) string { return h.Env.Release }},
		{"runtime", func(h contract.Health) string { return h.Env.Runtime }},
		{"config", func(h contract.Health) string { return h.Env.Config }},
		{"schema_rev", func(h contract.Health) string { return h.SchemaRev }},
		{"model_tag", func(h contract.Health) string { return h.ModelTag }},
		{"secrets_rev", func(h contract.Health) string { return h.SecretsRev }},
	}
	for _, f := range fields {
		if n, detail := distinct(c, f.f); n > 1 {
			return false, f.name + " differs", detail
		}
	}
	return true, "equal", "release, runtime, config, schema_rev, model_tag, secrets_rev equal; all READY"
}

func checkIndexHashEqual(c *checkEnv) (bool, string, string) {
	if u := c.unreachable(); u != "" {
		return false, "unreachable", u
	}
	n, detail := distinct(c, func(h contract.Health) string { return h.IndexHash })
	return n == 1, fmt.Sprintf("%d distinct", n), detail
}

func checkQueueEmpty(c *checkEnv) (bool, string, string) {
	total := 0
	for _, h := range c.health {
		total += h.Queue.Backlog
	}
	lim := c.e.p.Thresholds.QueueBacklogMax
	return total <= lim, fmt.Sprintf("%d", total), fmt.Sprintf("backlog %d, threshold %d", total, lim)
}

func checkCacheWarm(c *checkEnv) (bool, string, string) {
	need := len(c.e.hotQuestions())
	var cold []string
	for r, h := range c.health {
		if h.Cache.Entries < need {
			cold = append(cold, fmt.Sprintf("%s has %d of %d hot keys", r, h.Cache.Entries, need))
		}
	}
	sort.Strings(cold)
	if len(cold) > 0 || c.unreachable() != "" {
		return false, "cold", strings.Join(append(cold, c.unreachable()), "; ")
	}
	return true, "warm", fmt.Sprintf("every region holds the %d hot keys", need)
}

// window returns the records scheduled in the last d.
func (c *checkEnv) window(d time.Duration) ([]load.Record, int64, int64) {
	recs := c.e.records()
	now := int64(0)
	for i := range recs {
		now = max(now, recs[i].Sched)
	}
	return recs, now - int64(d), now
}

func (c *checkEnv) baselineP95() float64 {
	recs, _, _ := c.window(0)
	return measure.Latency(recs, 0, int64(c.e.baseline()), measure.AllRegions).P95
}

func checkP95(c *checkEnv) (bool, string, string) {
	recs, from, to := c.window(3 * time.Second)
	p := measure.Latency(recs, from, to, measure.AllRegions)
	base := c.baselineP95()
	lim := c.e.p.SLO.LatencyMS
	return p.P95 <= lim, fmt.Sprintf("%.0f ms", p.P95), fmt.Sprintf("p95 of the last 3 s %.0f ms (baseline %.0f ms, SLO %.0f ms)", p.P95, base, lim)
}

func checkErrorRate(c *checkEnv) (bool, string, string) {
	recs, from, to := c.window(3 * time.Second)
	r := measure.ErrorRate(recs, from, to, measure.AllRegions)
	lim := c.e.p.Thresholds.ErrorRateMax
	return r <= lim, fmt.Sprintf("%.2f%%", r*100), fmt.Sprintf("error rate of the last 3 s, limit %.2f%%", lim*100)
}

func checkQueueBacklog(c *checkEnv) (bool, string, string) {
	total := 0
	for r, h := range c.health {
		if r == c.d.evac && c.d.info.Evacuates {
			continue // the evacuated region holds its queue until it returns
		}
		total += h.Queue.Backlog
	}
	lim := c.e.p.Thresholds.QueueBacklogMax
	return total <= lim, fmt.Sprintf("%d", total), fmt.Sprintf("serving regions' backlog, limit %d", lim)
}

// serving is the region live checks look at: the survivor, or in drill C
// the primary that keeps serving while its follower is skewed.
func (c *checkEnv) serving() string { return c.d.survivor }

func checkDeltaSProbe(c *checkEnv) (bool, string, string) {
	set, err := c.e.probeRegion(c.ctx, c.serving(), 6, 1)
	if err != nil {
		return false, "error", err.Error()
	}
	res := set.answered()
	mean := meanDeltaS(res)
	lim := c.e.p.Thresholds.DeltaS
	return mean <= lim && !set.tooFew(), fmt.Sprintf("%.3f", mean),
		strings.TrimSuffix(fmt.Sprintf("mean ΔS of %d probes in %s, limit %.2f; %s", len(res), c.serving(), lim, set.failures()), "; ")
}

func meanDeltaS(res []probe.Result) float64 {
	if len(res) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, r := range res {
		s += r.DeltaS
	}
	return s / float64(len(res))
}

func checkLambda(c *checkEnv) (bool, string, string) {
	set, err := c.e.probeRegion(c.ctx, c.serving(), 6, 2)
	if err != nil {
		return false, "error", err.Error()
	}
	res := set.answered()
	conv := 0
	for _, r := range res {
		if r.Lambda == probe.Convergent {
			conv++
		}
	}
	return conv == len(res) && !set.tooFew(), fmt.Sprintf("%d/%d convergent", conv, len(res)),
		strings.TrimSuffix("λ over two rounds of 6 probes in "+c.serving()+"; "+set.failures(), "; ")
}

func checkIndexHashLive(c *checkEnv) (bool, string, string) {
	h, ok := c.health[c.serving()]
	if !ok {
		return false, "unreachable", c.serving()
	}
	ref := ""
	for r, o := range c.health {
		if o.Role == contract.RolePrimary && r != c.serving() {
			ref = o.IndexHash
		}
	}
	if ref == "" {
		return true, h.IndexHash, "serving region's INDEX_HASH"
	}
	return h.IndexHash == ref, h.IndexHash, "serving region vs primary " + ref
}

// checkAnswersEqual compares the probes every region answered; a probe some
// region could not answer is counted apart, and more than a quarter of them
// fails the check without saying the answers differ.
func checkAnswersEqual(c *checkEnv) (bool, string, string) {
	answers := map[string]probeSet{}
	for _, r := range c.e.p.Regions {
		set, err := c.e.probeRegion(c.ctx, r, probeCount, 1)
		if err != nil {
			return false, "error", r + ": " + err.Error()
		}
		answers[r] = set
	}
	ref := c.e.p.Regions[0]
	diff, unanswered := 0, 0
	var ex []string
	for i := range answers[ref].results {
		for _, r := range c.e.p.Regions[1:] {
			if !answers[ref].ok(i) || !answers[r].ok(i) {
				unanswered++
				if len(ex) < 3 {
					ex = append(ex, fmt.Sprintf("%s: unanswered", answers[ref].ids[i]))
				}
				break
			}
			a, b := answers[ref].results[i], answers[r].results[i]
			if a.Answer != b.Answer || strings.Join(a.TopDocs, ",") != strings.Join(b.TopDocs, ",") {
				diff++
				if len(ex) < 3 {
					ex = append(ex, fmt.Sprintf("%s: %s vs %s differ", a.ProbeID, ref, r))
				}
			}
		}
	}
	value := fmt.Sprintf("%d differ", diff)
	if unanswered > 0 {
		value += fmt.Sprintf(", %d unanswered", unanswered)
	}
	return diff == 0 && unanswered <= probeCount/4, value, strings.Join(ex, "; ")
}

func checkContractsEqual(c *checkEnv) (bool, string, string) {
	if u := c.unreachable(); u != "" {
		return false, "unreachable", u
	}
	for _, f := range []struct {
		name string
		f    func(contract.Health) string
	}{
		{"index_hash", func(h contract.Health) string { return h.IndexHash }},
		{"metric", func(h contract.Health) string { return h.Metric }},
		{"analyzer", func(h contract.Health) string { return h.Analyzer }},
		{"schema_rev", func(h contract.Health) string { return h.SchemaRev }},
		{"model_tag", func(h contract.Health) string { return h.ModelTag }},
		{"secrets_rev", func(h contract.Health) string { return h.SecretsRev }},
	} {
		if n, detail := distinct(c, f.f); n > 1 {
			return false, f.name + " differs", detail
		}
	}
	return true, "equal", "index_hash, metric, analyzer, schema_rev, model_tag, secrets_rev equal"
}

func checkBacklogZero(c *checkEnv) (bool, string, string) {
	if u := c.unreachable(); u != "" {
		return false, "unreachable", u
	}
	// Back to the pre-drill baseline: under the threshold below which the
	// pre-check queue_empty calls a queue empty. The load keeps writing, so
	// the lowest of a few readings over 3 s is taken: a queue that drains
	// reaches it, one that grows does not.
	lim := c.e.p.Thresholds.QueueBacklogMax
	low := 0
	for _, h := range c.health {
		low += h.Queue.Backlog + h.Queue.WebhookBacklog
	}
	for i := 0; i < 6 && low > lim/2 && c.e.t != nil; i++ {
		if c.e.sleep(c.ctx, 500*time.Millisecond) != nil {
			break
		}
		if n := c.e.backlog(c.ctx); n >= 0 {
			low = min(low, n)
		}
	}
	return low <= lim, fmt.Sprintf("%d", low), fmt.Sprintf("lowest write and webhook backlog of every region over up to 3 s, limit %d (thresholds.queue_backlog_max)", lim)
}

func checkCacheRewarmed(c *checkEnv) (bool, string, string) {
	ok, value, detail := checkCacheWarm(c)
	if !ok {
		return false, value, detail
	}
	return true, "rewarmed", detail
}

var _ = adapter.Action{}

// backlog is the total write and webhook backlog of every region, or -1
// when a region cannot be read. Regions are read one after the other, so a
// message moving between two regions can hide: callers need a stable zero.
func (e *Engine) backlog(ctx context.Context) int {
	hs, errs := e.healthQuick(ctx)
	if len(errs) > 0 {
		return -1
	}
	total := 0
	for _, h := range hs {
		total += h.Queue.Backlog + h.Queue.WebhookBacklog
	}
	return total
}
