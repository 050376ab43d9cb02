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

func diag(rep *verdict.Report, id, drill string, evidence ...string) {
	f := failures[id]
	for i, d := range rep.Diagnoses {
		if d.ID == id {
			rep.Diagnoses[i].Evidence = append(rep.Diagnoses[i].Evidence, evidence...)
			return
		}
	}
	rep.Diagnoses = append(rep.Diagnoses, verdict.Diagnosis{ID: f.id, Title: f.title, Drill: drill, Evidence: evidence, Fix: f.fix})
}

func (r *run) diagnose(rep *verdict.Report, led *ledger.Ledger, wh ledger.WebhookLedger) {
	drills := strings.Join(rep.Drills, ",")
	// Split brain: duplicates, direct writes, two appliers in one epoch.
	if led.Duplicates > 0 || len(led.SplitBrain) > 0 {
		var ev []string
		if led.Duplicates > 0 {
			ev = append(ev, fmt.Sprintf("%d writes are stored more than once across regions", led.Duplicates))
		}
		for _, sb := range led.SplitBrain {
			ev = append(ev, fmt.Sprintf("%s: %d records (e.g. key %s) by %s at epoch %d", sb.Kind, sb.Count, sb.Key, strings.Join(sb.Regions, ","), sb.Epoch))
		}
		for _, it := range led.Items {
			if it.Class == ledger.Duplicate {
				ev = append(ev, "example: "+it.Evidence)
				break
			}
		}
		diag(rep, "split_brain_writes", drills, ev...)
	}
	if led.Lost > 0 {
		diag(rep, "write_loss", drills, fmt.Sprintf("%d acknowledged writes are in no region's store", led.Lost))
	}
	// Webhooks.
	if wh.Duplicates > 0 || wh.FromDisallowedRegion > 0 {
		ev := []string{fmt.Sprintf("%d duplicate deliveries of %d expected webhooks", wh.Duplicates, wh.Expected)}
		if wh.FromDisallowedRegion > 0 {
			ev = append(ev, fmt.Sprintf("%d deliveries came from a region outside the emit policy", wh.FromDisallowedRegion))
		}
		by := []string{}
		for reg, n := range rep.Webhooks.ByRegion {
			by = append(by, fmt.Sprintf("%s sent %d", reg, n))
		}
		sort.Strings(by)
		diag(rep, "webhook_duplicates", drills, append(ev, strings.Join(by, ", "))...)
	}
	// Answers and index parity.
	for _, t := range rep.Acceptance {
		if (t.ID == "answers_equal" || t.ID == "index_hash_parity") && !t.Pass && t.Value != "not measured" {
			diag(rep, "answers_differ_after_return", t.Drill, fmt.Sprintf("%s (drill %s): %v — %s", t.ID, t.Drill, t.Value, t.Detail))
		}
		if t.ID == "cache_purged" && !t.Pass {
			diag(rep, "cache_not_purged", t.Drill, fmt.Sprintf("the purge returned but %v entries remained: %s", t.Value, t.Detail))
		}
	}
	for _, s := range r.steps {
		for _, n := range s.Notes {
			if strings.Contains(n, "index hash mismatch") || strings.Contains(n, "INDEX_HASH") && strings.Contains(n, "refusing") {
				diag(rep, "answers_differ_after_return", s.Drill, "step "+s.Name+": "+n)
			}
		}
	}
	// Auth failures after the flip: 401s after a decision, few before.
	for _, w := range r.windows() {
		if w.decision < 0 {
			continue
		}
		before, after := 0, 0
		for i := range r.records {
			rec := &r.records[i]
			if rec.Err != load.ErrAuth {
				continue
			}
			if rec.Sched < r.ns(w.decision) && rec.Sched >= r.ns(w.from) {
				before++
			} else if rec.Sched >= r.ns(w.decision) && rec.Sched < r.ns(w.to) {
				after++
			}
		}
		if after > 0 && after > before {
			diag(rep, "auth_failures_after_flip", w.letter, fmt.Sprintf("drill %s: %d requests refused with 401/403 after the flip, %d before it", w.letter, after, before))
		}
	}
	for _, c := range r.checks {
		if c.Phase == "pre" && c.Name == "env_parity" && !c.Pass && strings.HasPrefix(c.Value, "secrets_rev") {
			diag(rep, "auth_failures_after_flip", c.Drill, "pre-check env_parity: secrets_rev differs between regions ("+c.Detail+"): a session moved by the flip would carry a key the survivor does not accept")
		}
	}
	// Cold-start storm: p95 over baseline, with cold starts after the decision.
	for _, t := range rep.Acceptance {
		if t.ID != "p95_vs_baseline" || t.Pass {
			continue
		}
		var w *window
		for _, x := range r.windows() {
			if x.letter == t.Drill {
				x := x
				w = &x
			}
		}
		if w == nil || w.decision < 0 {
			continue
		}
		cold, coldLat, hotLat := 0, []int64{}, []int64{}
		for i := range r.records {
			rec := &r.records[i]
			if rec.Sched < r.ns(w.decision) || rec.Sched >= r.ns(w.to) || rec.End == 0 {
				continue
			}
			if rec.Cold {
				cold++
				coldLat = append(coldLat, rec.Latency())
			} else {
				hotLat = append(hotLat, rec.Latency())
			}
		}
		if cold > 0 {
			diag(rep, "cold_start_storm", t.Drill, fmt.Sprintf("drill %s: %d requests waited on a cold start after the flip; cold p95 %.0f ms vs hot p95 %.0f ms; p95 %v over baseline",
				t.Drill, cold, p95(coldLat), p95(hotLat), t.Value))
		}
	}
	_ = measure.AllRegions
}

func p95(ns []int64) float64 {
	if len(ns) == 0 {
		return 0
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i] < ns[j] })
	return float64(ns[(len(ns)*95)/100]) / 1e6
}
