package judge

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/probe"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// judgeParity adds index_hash_parity (from the health samples) and the
// contracts_equal and answers_equal post-checks as targets.
func (r *run) judgeParity(rep *verdict.Report, w window) {
	pass, val, detail := r.hashParity(w)
	t := verdict.Target{ID: "index_hash_parity", Drill: w.letter, Target: "equal", Value: val, Pass: pass, Detail: detail}
	if val == "" {
		t = t.Inconclusive(detail)
	}
	add(rep, t)
	for _, id := range []string{"contracts_equal", "answers_equal"} {
		c, ok := r.checkResult(w.letter, "post", id)
		t := verdict.Target{ID: id, Drill: w.letter, Target: "equal", Value: c.Value, Pass: ok && c.Pass, Detail: c.Detail}
		if !ok {
			t = t.Inconclusive(r.notRun("post", id))
		}
		add(rep, t)
	}
}

// notRun says why a check has no result.
func (r *run) notRun(phase, name string) string {
	list := map[string][]string{"pre": names(r.plan.Checks.Pre), "live": names(r.plan.Checks.Live), "post": names(r.plan.Checks.Post)}[phase]
	if !slices.Contains(list, name) {
		return fmt.Sprintf("the %s-check %s is not in checks.%s", phase, name, phase)
	}
	return fmt.Sprintf("the %s-check %s did not run (the drill stopped before it)", phase, name)
}

func names[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// hashParity: every region's INDEX_HASH equal in the last sample of the
// drill. The value is "" when no sample holds every region.
func (r *run) hashParity(w window) (bool, string, string) {
	var last *sample
	for i := range r.health {
		if r.health[i].at <= w.to && len(r.health[i].Regions) == len(r.plan.Regions) {
			last = &r.health[i]
		}
	}
	if last == nil {
		return false, "", "no health sample of the drill reached every region"
	}
	hashes := map[string][]string{}
	for name, h := range last.Regions {
		hashes[h.IndexHash] = append(hashes[h.IndexHash], name)
	}
	var parts []string
	for h, rs := range hashes {
		sort.Strings(rs)
		parts = append(parts, strings.Join(rs, ",")+"="+h)
	}
	sort.Strings(parts)
	return len(hashes) == 1, fmt.Sprintf("%d distinct", len(hashes)), strings.Join(parts, "; ")
}

// probeSet is one drill's probe results at its before and after points:
// phase → region → probe id → result.
type probeSet map[event.ProbePhase]map[string]map[string]probe.Result

func (r *run) probeSet(letter string) (probeSet, []string) {
	ps := probeSet{}
	var errs []string
	for _, p := range r.probes {
		if string(p.Drill) != letter || (p.Phase != event.ProbeBefore && p.Phase != event.ProbeAfter) {
			continue
		}
		if p.Error != "" {
			errs = append(errs, fmt.Sprintf("%s %s: %s", p.Phase, p.Region, p.Error))
		}
		if ps[p.Phase] == nil {
			ps[p.Phase] = map[string]map[string]probe.Result{}
		}
		if ps[p.Phase][p.Region] == nil {
			ps[p.Phase][p.Region] = map[string]probe.Result{}
		}
		for _, res := range p.Results {
			ps[p.Phase][p.Region][res.ProbeID] = res
		}
	}
	return ps, errs
}

// worstMedian is the worse of the per-phase medians of f over every
// region's results (worse: higher when high is bad), and the count.
func (ps probeSet) worstMedian(f func(probe.Result) float64, highIsBad bool) (float64, int) {
	worst, n, any := 0.0, 0, false
	for _, phase := range []event.ProbePhase{event.ProbeBefore, event.ProbeAfter} {
		var vs []float64
		for _, byID := range ps[phase] {
			for _, res := range byID {
				vs = append(vs, f(res))
			}
		}
		if len(vs) == 0 {
			continue
		}
		n += len(vs)
		sort.Float64s(vs)
		m := vs[len(vs)/2]
		if !any || (highIsBad && m > worst) || (!highIsBad && m < worst) {
			worst, any = m, true
		}
	}
	if !any {
		return math.NaN(), 0
	}
	return worst, n
}

// pairs calls f for every probe asked in the reference region and in
// another region at the same phase, and returns per "phase region" the
// mean of f; the reference is the plan's first region.
func (r *run) pairs(ps probeSet, f func(ref, other probe.Result) float64) map[string]float64 {
	ref := r.plan.Regions[0]
	out := map[string]float64{}
	for _, phase := range []event.ProbePhase{event.ProbeBefore, event.ProbeAfter} {
		for region, byID := range ps[phase] {
			if region == ref {
				continue
			}
			sum, n := 0.0, 0
			for id, a := range ps[phase][ref] {
				if b, ok := byID[id]; ok {
					sum += f(a, b)
					n++
				}
			}
			if n > 0 {
				out[string(phase)+" "+region] = sum / float64(n)
			}
		}
	}
	return out
}

func worstOf(m map[string]float64, highIsBad bool) (string, float64) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	at, v := "", math.NaN()
	for _, k := range keys {
		if at == "" || (highIsBad && m[k] > v) || (!highIsBad && m[k] < v) {
			at, v = k, m[k]
		}
	}
	return at, v
}

// judgeProbes adds the RAG targets over the drill's before/after probes:
// ΔS, λ, coverage, dual-home overlap and ΔS drift between regions.
func (r *run) judgeProbes(rep *verdict.Report, w window) {
	th, rp := r.plan.Thresholds, r.plan.RAGProbe
	ps, errs := r.probeSet(w.letter)
	none := "no probe result before or after the drill"
	if len(errs) > 0 {
		none += " (" + strings.Join(errs, "; ") + ")"
	}
	ds, n := ps.worstMedian(func(x probe.Result) float64 { return x.DeltaS }, true)
	t := verdict.Target{ID: "delta_s", Drill: w.letter, Target: fmt.Sprintf("median ≤ %g", th.DeltaS), Value: round3(ds), Pass: ds <= th.DeltaS, Limit: th.DeltaS,
		Detail: fmt.Sprintf("worst of the before/after medians of ΔS(question, retrieved context) over %d probe results", n)}
	add(rep, orMissing(t, n == 0, none))

	conv := 0
	for _, byRegion := range ps {
		for _, byID := range byRegion {
			for _, res := range byID {
				if res.Lambda == probe.Convergent {
					conv++
				}
			}
		}
	}
	share := 0.0
	if n > 0 {
		share = float64(conv) / float64(n)
	}
	t = verdict.Target{ID: "lambda", Drill: w.letter, Target: "convergent", Value: fmt.Sprintf("%.0f%% convergent", share*100), Pass: share >= 0.9,
		Detail: "share of probes whose λ over rounds is convergent, before and after (≥ 90%)"}
	add(rep, orMissing(t, n == 0, none))

	cov, _ := ps.worstMedian(func(x probe.Result) float64 { return x.Coverage }, false)
	t = verdict.Target{ID: "coverage", Drill: w.letter, Target: fmt.Sprintf("median ≥ %g", rp.CoverageMin), Value: round3(cov), Pass: cov >= rp.CoverageMin, Limit: rp.CoverageMin,
		Detail: "worst of the before/after medians of the share of the gold answer's tokens in the retrieved chunks"}
	add(rep, orMissing(t, n == 0, none))

	grounded, _ := ps.worstMedian(func(x probe.Result) float64 { return x.Grounded }, false)
	t = verdict.Target{ID: "answer_grounded", Drill: w.letter, Target: fmt.Sprintf("median ≥ %g", rp.CoverageMin), Value: round3(grounded), Pass: grounded >= rp.CoverageMin, Limit: rp.CoverageMin,
		Detail: "worst of the before/after medians of the share of the gold answer's tokens in the answer itself: an answer that echoes the question scores low"}
	add(rep, orMissing(t, n == 0, none))

	noPair := fmt.Sprintf("no probe was asked of %s and another region at the same point", r.plan.Regions[0])
	overlap := r.pairs(ps, func(a, b probe.Result) float64 { return probe.Overlap(a.TopChunks, b.TopChunks, rp.DualhomeK) })
	at, ov := worstOf(overlap, false)
	t = verdict.Target{ID: "dualhome_overlap", Drill: w.letter, Target: fmt.Sprintf("mean ≥ %g", rp.DualhomeMin), Value: round3(ov), Pass: ov >= rp.DualhomeMin, Limit: rp.DualhomeMin,
		Detail: fmt.Sprintf("mean share of %s's top %d chunks in the other region's top %d, per probe; worst at %s", r.plan.Regions[0], rp.DualhomeK, rp.DualhomeK, at)}
	add(rep, orMissing(t, len(overlap) == 0, noPair))

	drift := r.pairs(ps, func(a, b probe.Result) float64 { return math.Abs(a.DeltaS - b.DeltaS) })
	at, dv := worstOf(drift, true)
	t = verdict.Target{ID: "delta_s_drift", Drill: w.letter, Target: fmt.Sprintf("≤ %g", th.DeltaSDrift), Value: round3(dv), Pass: dv <= th.DeltaSDrift, Limit: th.DeltaSDrift,
		Detail: fmt.Sprintf("mean |ΔS difference| between %s and another region on the same probe; worst at %s", r.plan.Regions[0], at)}
	add(rep, orMissing(t, len(drift) == 0, noPair))
}

// orMissing makes t inconclusive when its observation is missing.
func orMissing(t verdict.Target, missing bool, why string) verdict.Target {
	if missing {
		t.Value = nil
		return t.Inconclusive(why)
	}
	return t
}
