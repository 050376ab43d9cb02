package drill

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/measure"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/probe"
)

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

// healthFields are the health fields that parity checks compare, by their
// contract names.
var healthFields = map[string]func(contract.Health) string{
	"release":     func(h contract.Health) string { return h.Env.Release },
	"runtime":     func(h contract.Health) string { return h.Env.Runtime },
	"config":      func(h contract.Health) string { return h.Env.Config },
	"schema_rev":  func(h contract.Health) string { return h.SchemaRev },
	"model_tag":   func(h contract.Health) string { return h.ModelTag },
	"secrets_rev": func(h contract.Health) string { return h.SecretsRev },
	"index_hash":  func(h contract.Health) string { return h.IndexHash },
	"metric":      func(h contract.Health) string { return h.Metric },
	"analyzer":    func(h contract.Health) string { return h.Analyzer },
}

// sameFields passes when every region reports one value for each field
// named; the first field that differs fails it, with who reports what.
func sameFields(c *checkEnv, names ...string) (bool, string, string) {
	for _, name := range names {
		if n, detail := distinct(c, healthFields[name]); n > 1 {
			return false, name + " differs", detail
		}
	}
	return true, "equal", strings.Join(names, ", ") + " equal"
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
	ok, value, detail := sameFields(c, "release", "runtime", "config", "schema_rev", "model_tag", "secrets_rev")
	if ok {
		detail += "; all READY"
	}
	return ok, value, detail
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
	return sameFields(c, "index_hash", "metric", "analyzer", "schema_rev", "model_tag", "secrets_rev")
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
