package report_test

import (
	"encoding/json"
	"fmt"
	"github.com/regiondrill/regiondrill/internal/ledger"
	"math"
	"time"

	"github.com/regiondrill/regiondrill/internal/verdict"
)

var fixtureStart = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// fixture builds a fixed 60-second drill A+E over two regions. The failing
// variant has a slow cutover, a long 5xx run, lost and duplicate writes, an
// analyzer mismatch after return-to-home and drifting probes.
func fixture(fail bool) *verdict.Report {
	regions := []string{"us-east", "eu-west"}
	cut := 12.4
	if fail {
		cut = 41
	}
	r := &verdict.Report{
		Schema:      verdict.SchemaVersion,
		Verdict:     verdict.Pass,
		Started:     fixtureStart,
		DurationS:   60,
		Drills:      []string{"A", "E"},
		Target:      "lab",
		CutoverS:    &cut,
		RegionNames: regions,
		Plan:        json.RawMessage(`{"regions":["us-east","eu-west"],"evacuate":"us-east","promote_survivor":"eu-west","routing":{"mode":"latency","stick_minutes":15,"hysteresis_s":30},"drills":["A","E"],"seed":7}`),
		Load:        json.RawMessage(`{"rate":50,"sent":2990,"ok":2960}`),
	}
	r.Latency = []verdict.RegionLatency{
		{Drill: "A", Window: verdict.WindowBaseline, Region: "us-east", Requests: 240, P50: 81.5, P75: 96.25, P95: 140.125, P99: 180},
		{Drill: "A", Window: verdict.WindowBaseline, Region: "eu-west", Requests: 232, P50: 92, P75: 110.5, P95: 151, P99: 199.75},
		{Drill: "A", Window: verdict.WindowChange, Region: "eu-west", Requests: 1510, P50: 98.125, P75: 121, P95: 166.5, P99: 240.5},
	}
	if fail { // the survivor could not carry the load
		r.Latency[2] = verdict.RegionLatency{Drill: "A", Window: verdict.WindowChange, Region: "eu-west", Requests: 1377, P50: 180.5, P75: 305, P95: 612.25, P99: 1490}
	}
	r.Steps = []verdict.Step{
		{Drill: "A", Name: "1 pre-checks", StartMS: 0, EndMS: 8000, Outcome: "ok"},
		{Drill: "A", Name: "2 evacuate", StartMS: 8000, EndMS: 20000, Outcome: "ok", Notes: []string{"weight us-east → 0", "follower writes frozen"}},
		{Drill: "A", Name: "3 promote survivor", StartMS: 20000, EndMS: 26000, Outcome: "ok"},
		{Drill: "A", Name: "4 observe and clamp", StartMS: 26000, EndMS: 40000, Outcome: "ok"},
		{Drill: "A", Name: "5 verify answers", StartMS: 40000, EndMS: 46000, Outcome: "ok"},
		{Drill: "E", Name: "6 return-to-home", StartMS: 46000, EndMS: 56000, Outcome: "ok", Notes: []string{"gradual weights 10/30/60/100"}},
		{Drill: "E", Name: "7 closeout", StartMS: 56000, EndMS: 60000, Outcome: "ok"},
	}
	r.Events = []verdict.Event{
		{AtMS: 8000, Drill: "A", Label: "evacuate us-east (weight 0)"},
		{AtMS: 8600, Drill: "A", Label: "freeze follower writes"},
		{AtMS: 20500, Drill: "A", Label: "promote eu-west"},
		{AtMS: 46400, Drill: "E", Label: "rebuild us-east index"},
		{AtMS: 48000, Drill: "E", Label: "purge cache /answers/"},
		{AtMS: 50000, Drill: "E", Label: "weight us-east 10"},
		{AtMS: 52000, Drill: "E", Label: "weight us-east 30"},
		{AtMS: 54000, Drill: "E", Label: "weight us-east 60"},
		{AtMS: 56000, Drill: "E", Label: "weight us-east 100"},
	}
	for t := int64(0); t < 60; t++ {
		x := float64(t)
		wave := math.Sin(x / 3)
		share := 0.6 // us-east share of traffic
		switch {
		case x >= 8 && x < 8+cut:
			share = 0.6 * (1 - (x-8)/cut)
		case x >= 8+cut && x < 50:
			share = 0
		case x >= 50 && x < 52:
			share = 0.06
		case x >= 52 && x < 54:
			share = 0.18
		case x >= 54 && x < 56:
			share = 0.36
		}
		if x >= 56 {
			share = 0.6
		}
		req := 50 + int(4*wave)
		east := int(math.Round(float64(req) * share))
		s := verdict.Second{
			T:          t,
			Requests:   req,
			P50:        math.Round(38+3*wave) + 0.5,
			P95:        math.Round(118 + 9*wave),
			P99:        math.Round(190 + 15*wave),
			ByRegion:   map[string]int{"us-east": east, "eu-west": req - east},
			P95Region:  map[string]float64{"eu-west": math.Round(112 + 8*wave)},
			Backlog:    map[string]int{"us-east": 0, "eu-west": 0},
			BacklogAge: map[string]float64{"us-east": 0, "eu-west": 0},
			CacheHit:   0.92,
		}
		if east > 0 {
			s.P95Region["us-east"] = math.Round(122 + 9*wave)
		}
		if x >= 8 && x < 8+cut { // cutover: latency rises, writes queue
			s.P95 += 60
			s.P99 += 140
			s.P95Region["eu-west"] += 55
			s.Backlog["eu-west"] = int(3 * (x - 7))
			s.BacklogAge["eu-west"] = x - 7
		} else if x >= 8+cut && x < 8+cut+6 {
			s.Backlog["eu-west"] = int(math.Max(0, 3*cut-12*(x-8-cut)))
			s.BacklogAge["eu-west"] = math.Max(0, cut-3*(x-8-cut))
		}
		if x >= 20 && x < 24 {
			s.Cold = 4 - int(x-20)
		}
		if x >= 48 {
			s.CacheHit = math.Min(0.92, 0.25+0.06*(x-48))
		}
		if fail && x >= 9 && x < 9+cut*0.9 {
			s.Errors = 6 + int(2*wave)
			s.Err5xx = s.Errors - 1
		} else if t%17 == 5 {
			s.Errors = 1
		}
		r.Series = append(r.Series, s)
	}
	contract := func(region, role string, ready bool) verdict.Contract {
		return verdict.Contract{
			Region: region, Ready: ready, Role: role,
			IndexHash: "ih-5f2c9a1e", Metric: "cosine", Analyzer: "standard",
			BuildTS:   time.Date(2025, 3, 14, 6, 0, 0, 0, time.UTC),
			SchemaRev: "s12", ModelTag: "embed-v3", SecretsRev: "k41", Release: "2025.03.2",
		}
	}
	east := verdict.RegionContracts{Before: contract("us-east", "primary", true), After: contract("us-east", "follower", true)}
	west := verdict.RegionContracts{Before: contract("eu-west", "follower", true), After: contract("eu-west", "primary", true)}
	r.Acceptance = []verdict.Target{
		{ID: "cutover_s", Drill: "A", Target: "≤ 30 s", Value: cut, Pass: cut <= 30, Limit: 30},
		{ID: "longest_5xx_run_s", Drill: "A", Target: "≤ 60 s", Value: 0, Pass: true, Limit: 60},
		{ID: "p95_vs_baseline", Drill: "A", Target: "≤ +25 %", Value: 0.18, Pass: true, Limit: 0.25},
		{ID: "write_loss", Drill: "A", Target: "= 0", Value: 0, Pass: true},
		{ID: "backlog_drain_s", Drill: "A", Target: "≤ 600 s", Value: 6, Pass: true, Limit: 600},
		{ID: "index_hash_parity", Drill: "E", Target: "equal", Value: true, Pass: true},
		{ID: "delta_s_max", Drill: "E", Target: "≤ 0.45", Value: 0.31, Pass: true, Limit: 0.45},
		{ID: "lambda_convergent", Drill: "E", Target: "all convergent", Value: "8/8", Pass: true},
	}
	r.Checks = []verdict.Check{
		{Phase: "pre", Name: "env_parity", Drill: "A", Pass: true, Value: "equal", AtMS: 200},
		{Phase: "pre", Name: "index_hash_equal", Drill: "A", Pass: true, Value: "ih-5f2c9a1e", AtMS: 400},
		{Phase: "pre", Name: "queue_empty", Drill: "A", Pass: true, Value: "0", AtMS: 600},
		{Phase: "pre", Name: "cache_warm", Drill: "A", Pass: true, Value: "0.92", AtMS: 800},
		{Phase: "live", Name: "p95_latency", Drill: "A", Pass: true, Value: "178 ms", AtMS: 15000},
		{Phase: "live", Name: "error_rate", Drill: "A", Pass: true, Value: "0.4 %", AtMS: 15000},
		{Phase: "post", Name: "answers_equal", Drill: "E", Pass: true, Value: "8/8", AtMS: 57000},
		{Phase: "post", Name: "contracts_equal", Drill: "E", Pass: true, Value: "equal", AtMS: 57500},
		{Phase: "post", Name: "backlog_zero", Drill: "E", Pass: true, Value: "0", AtMS: 58000},
		{Phase: "post", Name: "cache_rewarmed", Drill: "E", Pass: true, Value: "0.92", AtMS: 59000},
	}
	r.Writes = verdict.Ledger{Counts: ledger.Counts{Attempted: 600, Acknowledged: 598, OK: 598, Indeterminate: 2, IndeterminateApplied: 2}}
	r.Webhooks = verdict.Webhooks{WebhookCounts: ledger.WebhookCounts{Expected: 40, Delivered: 40}, ByRegion: map[string]int{"eu-west": 40}}
	r.SLO = verdict.SLO{Availability: 0.999, LatencyMS: 300, LatencyObjective: 0.95, Requests: 3000, Bad: 1, Slow: 40,
		BudgetConsumed: 1.0 / 3.0, LatencyBudgetConsumed: 40.0 / 150.0}
	for i := range 8 {
		for _, phase := range []string{"before", "after"} {
			for _, rg := range regions {
				ds := 0.12 + 0.03*float64(i)
				if phase == "after" {
					ds += 0.02
				}
				r.Probes = append(r.Probes, verdict.Probe{Phase: phase, Drill: "E", Region: rg, ProbeID: fmt.Sprintf("q%02d", i+1),
					DeltaS: ds, Coverage: 0.9, Lambda: "convergent", CitesGold: true})
			}
		}
	}
	if fail {
		r.Verdict = verdict.Fail
		r.Acceptance[0].Detail = "us-east kept 8% of traffic for 41 s: sticky sessions outlived the weight flip"
		r.Acceptance[1] = verdict.Target{ID: "longest_5xx_run_s", Drill: "A", Target: "≤ 60 s", Value: 37, Pass: true, Limit: 60}
		r.Acceptance[3] = verdict.Target{ID: "write_loss", Drill: "A", Target: "= 0", Value: 3, Pass: false,
			Detail: "3 acknowledged writes missing from every store; 2 stored twice"}
		r.Acceptance[5] = verdict.Target{ID: "index_hash_parity", Drill: "E", Target: "equal", Value: false, Pass: false,
			Detail: "us-east INDEX_HASH ih-0b77d2c4 ≠ eu-west ih-5f2c9a1e"}
		r.Acceptance[6].Value, r.Acceptance[6].Pass = 0.66, false
		r.Acceptance[6].Detail = "q03 and q07 on us-east after return-to-home"
		r.Acceptance[7].Value, r.Acceptance[7].Pass = "6/8", false
		r.Reason = "5 acceptance targets failed"
		r.Checks[5] = verdict.Check{Phase: "live", Name: "error_rate", Drill: "A", Pass: false, Value: "14.2 %", Detail: "5xx for 37 s during cutover", AtMS: 15000}
		r.Checks[7] = verdict.Check{Phase: "post", Name: "contracts_equal", Drill: "E", Pass: false, Value: "analyzer differs",
			Detail: "us-east ANALYZER=whitespace, eu-west ANALYZER=standard", AtMS: 57500}
		r.Steps[1].Outcome = "failed"
		r.Steps[1].Notes = append(r.Steps[1].Notes, "cutover over 30 s")
		r.Writes = verdict.Ledger{Counts: ledger.Counts{Attempted: 600, Acknowledged: 590, OK: 585, Lost: 3, Duplicates: 2, Indeterminate: 4, IndeterminateApplied: 2},
			Examples: []string{"dk-000213 lost (acked by us-east at 9.4 s)", "dk-000288 stored twice (us-east, eu-west)"}}
		r.Webhooks = verdict.Webhooks{WebhookCounts: ledger.WebhookCounts{Expected: 40, Delivered: 42, Duplicates: 2, FromDisallowedRegion: 5}, ByRegion: map[string]int{"eu-west": 37, "us-east": 5}}
		r.SLO.Bad, r.SLO.BudgetConsumed = 310, 310.0/3.0
		r.SLO.Slow, r.SLO.LatencyBudgetConsumed = 260, 260.0/150.0
		east.After.Analyzer = "whitespace"
		east.After.IndexHash = "ih-0b77d2c4"
		east.After.BuildTS = time.Date(2025, 3, 14, 9, 30, 47, 0, time.UTC)
		for i := range r.Probes {
			p := &r.Probes[i]
			if p.Phase == "after" && p.Region == "us-east" && (p.ProbeID == "q03" || p.ProbeID == "q07") {
				p.DeltaS, p.Lambda, p.CitesGold = 0.66, "chaotic", false
				if p.ProbeID == "q07" {
					p.DeltaS, p.Lambda = 0.52, "divergent"
				}
			}
		}
		r.Diagnoses = []verdict.Diagnosis{
			{ID: "split_brain_writes", Title: "Split-brain writes during cutover", Drill: "A", FromMS: 9400, ToMS: 10800,
				Refs:     []string{"acceptance/write_loss/A"},
				Evidence: []string{"3 acknowledged writes lost, 2 stored twice", "us-east accepted writes for 1.4 s after freeze"},
				Fix:      "Missing freeze or idempotency. Enforce queue-first and dedupe keys."},
			{ID: "answers_differ", Title: "Answers differ after return-to-home", Drill: "E",
				Evidence: []string{"us-east ANALYZER=whitespace vs standard", "INDEX_HASH ih-0b77d2c4 ≠ ih-5f2c9a1e", "ΔS 0.66 on q03 (chaotic)"},
				Fix:      "Follower index rebuilt with different analyzer or metric. Refuse reuse until INDEX_HASH matches."},
			{ID: "webhook_duplicates", Title: "Webhook loops or duplicates", Drill: "A",
				Evidence: []string{"5 webhooks delivered from us-east after evacuation", "2 duplicates"},
				Fix:      "Third-party still targets evacuated region. Emit only from survivor and apply dedupe_key."},
		}
		r.Acceptance = append(r.Acceptance, verdict.Target{ID: "cache_purged", Drill: "E", Target: "hot questions miss after the purge"}.
			Inconclusive("none of the 16 hot questions was a cache hit before the purge: nothing shows it removed anything"))
	}
	for i := range r.Acceptance {
		if r.Acceptance[i].Status == "" {
			r.Acceptance[i].Status = verdict.StatusOf(r.Acceptance[i].Pass)
		}
	}
	r.Regions = map[string]verdict.RegionContracts{"us-east": east, "eu-west": west}
	return r
}
