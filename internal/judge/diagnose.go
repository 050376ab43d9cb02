package judge

import (
	"fmt"
	"sort"
	"strings"

	"github.com/regiondrill/regiondrill/internal/ledger"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/measure"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// failure is one of the page's typical drill failures: its id, title and
// the page's exact fix. The registry is the one list of diagnoses.
type failure struct{ id, title, fix string }

var failures = map[string]failure{
	"split_brain_writes": {"split_brain_writes", "Split-brain writes during cutover",
		"Missing freeze or idempotency. Enforce queue-first and dedupe keys."},
	"answers_differ_after_return": {"answers_differ_after_return", "Answers differ after return-to-home",
		"Follower index rebuilt with different analyzer or metric. Refuse reuse until INDEX_HASH matches."},
	"webhook_duplicates": {"webhook_duplicates", "Webhook loops or duplicates",
		"Third-party still targets evacuated region. Emit only from survivor and apply dedupe_key."},
	"cold_start_storm": {"cold_start_storm", "Cold-start storm after promotion",
		"Concurrency limits not scaled. Pre-warm and clamp."},
	"auth_failures_after_flip": {"auth_failures_after_flip", "Auth failures after route flip",
		"Stale region-pinned keys. Rotate with dual-accept and force refresh."},
	"cache_not_purged": {"cache_not_purged", "Edge cache not purged before re-warm",
		"Purge API acknowledges enqueue, not completion. Probe each region and continue until the purge has completed, then re-warm."},
	"write_loss": {"write_loss", "Acknowledged writes lost",
		"Acknowledge only after the write is durable in a queue; replay the queue after the region returns."},
}

func (r *run) diagnose(rep *verdict.Report, led *ledger.Ledger, wh ledger.WebhookLedger) {
	r.diagnoseWrites(rep, led)
	r.diagnoseWebhooks(rep, wh)
	// Answers and index parity.
	for _, t := range rep.Acceptance {
		// Only answers that were compared and differ, hashes that differ, or
		// answers clients got from another index are evidence: a probe that
		// could not be asked is not.
		differ := t.ID == "answers_equal" && answersDiffered(t.Value) || t.ID == "index_hash_parity" || t.ID == "skewed_index_served"
		if differ && t.Status == verdict.StatusFail {
			r.diagTarget(rep, "answers_differ_after_return", t, fmt.Sprintf("%s (drill %s): %v — %s", t.ID, t.Drill, t.Value, t.Detail))
		}
		if t.ID == "cache_purged" && t.Status == verdict.StatusFail {
			r.diagTarget(rep, "cache_not_purged", t, fmt.Sprintf("the purge returned but %v: %s", t.Value, t.Detail))
		}
	}
	for _, s := range r.steps {
		for _, n := range s.Notes {
			if strings.Contains(n, "index hash mismatch") || strings.Contains(n, "INDEX_HASH") && strings.Contains(n, "refusing") {
				diagAt(rep, "answers_differ_after_return", s.Drill, span{s.StartMS, s.EndMS}, "step "+s.Name+": "+n)
			}
		}
	}
	// Auth failures after the flip: their share after the decision stands
	// out against their share before it.
	for _, w := range r.windows() {
		if w.decision < 0 {
			continue
		}
		isAuth := func(rec *load.Record) bool { return rec.Err == load.ErrAuth }
		before := r.share(r.ns(w.from), r.ns(w.decision), isAuth)
		after := r.share(r.ns(w.decision), r.ns(w.to), isAuth)
		if p, ok := after.standsOut(before); ok {
			diagAt(rep, "auth_failures_after_flip", w.letter, span{w.decision, w.to}, fmt.Sprintf("drill %s: %s of requests refused with 401/403 after the flip against %s before it (one-sided Fisher exact p = %.2g)",
				w.letter, after, before, p))
		}
	}
	for _, c := range r.checks {
		if c.Phase == "pre" && c.Name == "env_parity" && !c.Pass && strings.HasPrefix(c.Value, "secrets_rev") {
			diagAt(rep, "auth_failures_after_flip", c.Drill, span{c.AtMS, c.AtMS}, "pre-check env_parity: secrets_rev differs between regions ("+c.Detail+"): a session moved by the flip would carry a key the survivor does not accept")
		}
	}
	// Cold-start storm: p95 over baseline, and a share of cold requests in
	// the window p95 was judged in that stands out against the baseline's
	// (steady traffic: a pool that thrashes while the load starts up is
	// not the storm after promotion).
	for _, t := range rep.Acceptance {
		if t.ID != "p95_vs_baseline" || t.Status != verdict.StatusFail {
			continue
		}
		var w *window
		for _, x := range r.windows() {
			if x.letter == t.Drill {
				w = &x
			}
		}
		if w == nil || w.decision < 0 {
			continue
		}
		// The window the p95 target judged: the cold starts must explain it.
		cutoverS := 0.0
		for _, c := range rep.Cutovers {
			if c.Drill == w.letter {
				cutoverS = c.Seconds
			}
		}
		from, to := r.changeWindow(*w, cutoverS)
		isCold := func(rec *load.Record) bool { return rec.Cold }
		baseFrom, baseTo := r.baselineWindow(*w)
		before := r.share(baseFrom, baseTo, isCold)
		after := r.share(from, to, isCold)
		p, ok := after.standsOut(before)
		if !ok {
			continue
		}
		var coldLat, hotLat []int64
		for i := range r.records {
			rec := &r.records[i]
			if rec.Sched < from || rec.Sched >= to || rec.End == 0 {
				continue
			}
			if rec.Cold {
				coldLat = append(coldLat, rec.Latency())
			} else {
				hotLat = append(hotLat, rec.Latency())
			}
		}
		diagAt(rep, "cold_start_storm", t.Drill, span{w.decision, w.to}, fmt.Sprintf("drill %s: %s of requests waited on a cold start after the flip against %s in the baseline (one-sided Fisher exact p = %.2g); cold p95 %.0f ms vs hot p95 %.0f ms; p95 %v over baseline",
			t.Drill, after, before, p, p95(coldLat), p95(hotLat), t.Value))
	}
}

// Evidence must stand out: at least minEvidence observations, and a share
// that a one-sided Fisher exact test finds larger than the reference's at
// significance diagnoseAlpha. One cold request or one 401 is never enough.
// A diagnosis only names the cause of a verdict already reached, so it
// takes the usual 5% rather than the verdict's stricter tests.
const (
	minEvidence   = 5
	diagnoseAlpha = 0.05
)

// share is how many of the counted requests in a window matched.
type share struct{ hit, n int }

func (s share) String() string {
	if s.n == 0 {
		return "0 of 0"
	}
	return fmt.Sprintf("%d of %d (%.1f%%)", s.hit, s.n, 100*float64(s.hit)/float64(s.n))
}

// standsOut reports whether s stands out against ref, with the test's p-value.
func (s share) standsOut(ref share) (float64, bool) {
	if s.hit < minEvidence {
		return 1, false
	}
	p := measure.FisherGreater(s.hit, s.n, ref.hit, ref.n)
	return p, p < diagnoseAlpha
}

// share counts the finished asks and writes scheduled in [from, to) (load
// ns) and those among them that match.
func (r *run) share(from, to int64, match func(*load.Record) bool) share {
	var s share
	for i := range r.records {
		rec := &r.records[i]
		if rec.Kind == load.KindToken || rec.End == 0 || rec.Err == load.ErrCanceled || rec.Sched < from || rec.Sched >= to {
			continue
		}
		s.n++
		if match(rec) {
			s.hit++
		}
	}
	return s
}

// answersDiffered reads the answers_equal check's value ("N differ", with
// unanswered probes noted after it) and reports whether answers that were
// compared differed.
func answersDiffered(v any) bool {
	var n int
	s, _ := v.(string)
	_, err := fmt.Sscanf(s, "%d differ", &n)
	return err == nil && n > 0
}

func p95(ns []int64) float64 {
	if len(ns) == 0 {
		return 0
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i] < ns[j] })
	return float64(ns[(len(ns)*95)/100]) / 1e6
}
