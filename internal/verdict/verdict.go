// Package verdict holds the result of a drill as data: the acceptance
// targets, checks, write ledger, diagnoses and series that report.json,
// junit.xml and report.html are rendered from.
package verdict

import (
	"encoding/json"
	"github.com/regiondrill/regiondrill/internal/ledger"
	"time"
)

// SchemaVersion identifies the report.json format (docs/report.md).
const SchemaVersion = "regiondrill.report/v1"

// Outcome is the run's verdict: pass, fail, inconclusive or aborted.
type Outcome string

// Outcomes. Inconclusive means no target failed but at least one lacked the
// observations it needs: the run proves nothing about it, so it does not pass.
const (
	Pass         Outcome = "pass"
	Fail         Outcome = "fail"
	Inconclusive Outcome = "inconclusive"
	Aborted      Outcome = "aborted"
)

// Status is one target's result. A target without the observations it rests
// on is inconclusive, never pass.
type Status string

// Statuses of a target.
const (
	StatusPass         Status = "pass"
	StatusFail         Status = "fail"
	StatusInconclusive Status = "inconclusive"
)

// StatusOf is pass or fail.
func StatusOf(pass bool) Status {
	if pass {
		return StatusPass
	}
	return StatusFail
}

// Target is one acceptance target judged. Pass is Status == pass, kept for
// readers of report.json written before Status existed.
type Target struct {
	ID     string `json:"id"`     // e.g. cutover_s
	Drill  string `json:"drill"`  // drill letter it belongs to; "" for the whole run
	Target string `json:"target"` // human form of the threshold, e.g. "≤ 30 s"
	Value  any    `json:"value"`  // measured value (number, bool or string)
	Pass   bool   `json:"pass"`
	Status Status `json:"status"`
	// Missing says which observation an inconclusive target lacked.
	Missing string  `json:"missing,omitempty"`
	Detail  string  `json:"detail,omitempty"`
	Limit   float64 `json:"limit,omitempty"`
	// Vantage is the vantage point the target judges; "" for the whole run.
	Vantage string `json:"vantage,omitempty"`
}

// Inconclusive marks t as lacking the observation missing.
func (t Target) Inconclusive(missing string) Target {
	t.Pass, t.Status, t.Missing = false, StatusInconclusive, missing
	if t.Value == nil {
		t.Value = "not observed"
	}
	return t
}

// Check is one pre/live/post check result.
type Check struct {
	Phase  string `json:"phase"` // pre, live, post
	Name   string `json:"name"`
	Drill  string `json:"drill"`
	Pass   bool   `json:"pass"`
	Value  string `json:"value"`
	Detail string `json:"detail,omitempty"`
	AtMS   int64  `json:"at_ms"`
	// Advisory checks are reported; their failure fails no drill.
	Advisory bool `json:"advisory,omitempty"`
}

// Step is one runbook step on the timeline.
type Step struct {
	Drill   string   `json:"drill"`
	Name    string   `json:"name"` // e.g. "2 evacuate"
	StartMS int64    `json:"start_ms"`
	EndMS   int64    `json:"end_ms"`
	Outcome string   `json:"outcome"` // ok, failed, skipped, interrupted
	Notes   []string `json:"notes,omitempty"`
}

// Event is an action on the timeline (evacuate, promote, weight step...).
type Event struct {
	AtMS  int64  `json:"at_ms"`
	Drill string `json:"drill"`
	Label string `json:"label"`
}

// Ledger is the write ledger: the ledger's counts of every class, the
// split-brain keys and a few examples of violations.
type Ledger struct {
	ledger.Counts
	SplitBrain int      `json:"split_brain"`
	Examples   []string `json:"examples,omitempty"`
}

// Webhooks is the webhook reconciliation: the ledger's counts and the
// deliveries by sending region.
type Webhooks struct {
	ledger.WebhookCounts
	ByRegion map[string]int `json:"by_region"`
}

// Diagnosis names one of the page's typical failures with its evidence and
// the page's exact fix. A diagnosis fails the run.
type Diagnosis struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Drill    string   `json:"drill"` // the drill its evidence comes from
	Evidence []string `json:"evidence"`
	Fix      string   `json:"fix"`
	// FromMS and ToMS bound the time the evidence comes from (ms since
	// started); both 0 when the evidence has no time (a pre-check).
	FromMS int64 `json:"from_ms"`
	ToMS   int64 `json:"to_ms"`
	// Refs name the report items the evidence rests on: "acceptance/<id>/<drill>",
	// "check/<phase>/<name>/<drill>" or "write/<key>".
	Refs []string `json:"refs,omitempty"`
}

// RegionLatency is the latency, from the client's side, of the requests
// one region answered in one window of one drill: the page's "p75 / p95 /
// p99 latency per region". Evidence beside the p95 target, which is judged
// over every region with confidence bounds.
type RegionLatency struct {
	Drill    string        `json:"drill"`
	Window   LatencyWindow `json:"window"`
	Region   string        `json:"region"`
	Requests int           `json:"requests"`
	P50      float64       `json:"p50_ms"`
	P75      float64       `json:"p75_ms"`
	P95      float64       `json:"p95_ms"`
	P99      float64       `json:"p99_ms"`
}

// LatencyWindow names the windows of RegionLatency.
type LatencyWindow string

const (
	// WindowBaseline is the drill's baseline, before anything changed.
	WindowBaseline LatencyWindow = "baseline"
	// WindowChange is where the p95 target looks: from the decision (from
	// the end of the cutover for an unplanned outage) to the end of the
	// observe step; for a drill without an evacuation, from the end of the
	// baseline to the end of the drill.
	WindowChange LatencyWindow = "change"
	// WindowReturn is from the first step that brings the evacuated region
	// back (a restore or a weight step) to the end of the drill.
	WindowReturn LatencyWindow = "return"
)

// Cutover is one drill's cutover: from the evacuation decision until the
// evacuated region served nothing and the outage's failures had ended.
type Cutover struct {
	Drill    string  `json:"drill"`
	Seconds  float64 `json:"seconds"`
	Complete bool    `json:"complete"`
	// FailedDuring are the failed requests sent during the cutover;
	// FailedAfter those sent after it while the region was still evacuated,
	// of which AttributedAfter were attributable to the evacuated region
	// (it answered, or nobody answered a session last pinned to it), out of
	// RequestsAfter requests sent in that time.
	FailedDuring    int `json:"failed_during"`
	FailedAfter     int `json:"failed_after"`
	AttributedAfter int `json:"attributed_after"`
	RequestsAfter   int `json:"requests_after"`
	// BackgroundErrorRate is the error rate the cutover's tests assumed:
	// the baseline's, at least 1%.
	BackgroundErrorRate float64 `json:"background_error_rate"`
}

// Contract is a region's index metadata and contract fields at a moment.
type Contract struct {
	Region     string    `json:"region"`
	Ready      bool      `json:"ready"`
	Role       string    `json:"role"`
	IndexHash  string    `json:"index_hash"`
	Metric     string    `json:"metric"`
	Analyzer   string    `json:"analyzer"`
	BuildTS    time.Time `json:"build_ts"`
	SchemaRev  string    `json:"schema_rev"`
	ModelTag   string    `json:"model_tag"`
	SecretsRev string    `json:"secrets_rev"`
	Release    string    `json:"release"`
}

// RegionContracts holds before and after snapshots.
type RegionContracts struct {
	Before Contract `json:"before"`
	After  Contract `json:"after"`
}

// Probe is one probe result.
type Probe struct {
	Phase     string  `json:"phase"` // before, after
	Drill     string  `json:"drill"`
	Region    string  `json:"region"`
	ProbeID   string  `json:"probe_id"`
	DeltaS    float64 `json:"delta_s"`
	Coverage  float64 `json:"coverage"`
	Lambda    string  `json:"lambda"`
	CitesGold bool    `json:"cites_gold"`
}

// Second is one per-second sample of the series behind the charts.
type Second struct {
	T          int64              `json:"t"` // seconds since start
	Requests   int                `json:"requests"`
	Errors     int                `json:"errors"`
	Err5xx     int                `json:"err_5xx"`
	P50        float64            `json:"p50_ms"`
	P95        float64            `json:"p95_ms"`
	P99        float64            `json:"p99_ms"`
	ByRegion   map[string]int     `json:"by_region"`
	P95Region  map[string]float64 `json:"p95_ms_by_region"`
	Backlog    map[string]int     `json:"backlog"`
	BacklogAge map[string]float64 `json:"backlog_age_s"`
	CacheHit   float64            `json:"cache_hit_ratio"`
	Cold       int                `json:"cold"`
}

// SLO is the error budget the drill consumed.
type SLO struct {
	Availability     float64 `json:"availability_objective"`
	LatencyMS        float64 `json:"latency_objective_ms"`
	LatencyObjective float64 `json:"latency_objective"`
	Requests         int     `json:"requests"`
	Bad              int     `json:"bad"`  // failed requests
	Slow             int     `json:"slow"` // over the latency objective
	// BudgetConsumed is bad / (requests × (1 − availability)): 1.0 means the
	// drill used the whole budget of its own traffic.
	BudgetConsumed        float64 `json:"availability_budget_consumed"`
	LatencyBudgetConsumed float64 `json:"latency_budget_consumed"`
}

// Report is the whole result.
type Report struct {
	Schema      string                     `json:"schema"`
	Verdict     Outcome                    `json:"verdict"`
	Reason      string                     `json:"reason,omitempty"`
	Started     time.Time                  `json:"started"`
	DurationS   float64                    `json:"duration_s"`
	Drills      []string                   `json:"drills"`
	Target      string                     `json:"target"` // lab or the target's edge
	Acceptance  []Target                   `json:"acceptance"`
	Checks      []Check                    `json:"checks"`
	Diagnoses   []Diagnosis                `json:"diagnoses"`
	Writes      Ledger                     `json:"writes"`
	Webhooks    Webhooks                   `json:"webhooks"`
	CutoverS    *float64                   `json:"cutover_s"`
	Cutovers    []Cutover                  `json:"cutovers,omitempty"` // one per drill with an evacuation decision
	Latency     []RegionLatency            `json:"latency_by_region,omitempty"`
	Regions     map[string]RegionContracts `json:"regions"`
	Probes      []Probe                    `json:"probes"`
	Steps       []Step                     `json:"steps"`
	Events      []Event                    `json:"events"`
	Series      []Second                   `json:"series"`
	RegionNames []string                   `json:"region_names"`
	SLO         SLO                        `json:"slo"`
	Load        json.RawMessage            `json:"load,omitempty"` // generator summary
	StopReason  string                     `json:"stop_reason,omitempty"`
	Plan        json.RawMessage            `json:"plan"`
	// VantagePoints judges each agent's clients on their own; absent
	// without agents.
	VantagePoints []VantagePoint `json:"vantage_points,omitempty"`
}

// Failed lists acceptance targets that did not pass (failed or
// inconclusive), in report order.
func (r *Report) Failed() []Target {
	var out []Target
	for _, t := range r.Acceptance {
		if !t.Pass {
			out = append(out, t)
		}
	}
	return out
}

// Inconclusive lists the targets that lacked their observations.
func (r *Report) Inconclusive() []Target {
	var out []Target
	for _, t := range r.Acceptance {
		if t.Status == StatusInconclusive {
			out = append(out, t)
		}
	}
	return out
}
