// Package openmetrics turns a drill's result into Prometheus metrics: a
// textfile for node_exporter's textfile collector (OpenMetrics text, or the
// classic Prometheus text format) and a push to a Pushgateway, so drill
// results sit beside the dashboards a team already reads.
//
// Every metric carries the labels plan (the first 12 hex digits of the
// plan's key, plan.Key, so that tolerance edits and new defaults keep a
// plan's series) and deployment (what was drilled: "lab" or the target's
// edge URL): in a textfile as constant labels, on the Pushgateway as its
// grouping key. The drilled system is "deployment" rather than "target"
// because regiondrill_target_pass already uses target for the acceptance
// target's id.
package openmetrics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/prometheus/common/expfmt"

	"github.com/regiondrill/regiondrill/internal/atomicfile"
	"github.com/regiondrill/regiondrill/internal/compare"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// Job is the Pushgateway job name.
const Job = "regiondrill"

// Result is what the metrics are made of.
type Result struct {
	Report      *verdict.Report
	PlanSHA256  string // the plan as run
	PlanKey     string // what it drills (plan.Key): the plan label
	ToolVersion string
}

// Grouping is the plan and deployment labels of a result.
func (r Result) Grouping() prometheus.Labels {
	p := r.PlanKey
	if len(p) > 12 {
		p = p[:12]
	}
	return prometheus.Labels{"plan": p, "deployment": r.Report.Target}
}

// family is one metric and how a result fills it.
type family struct {
	name, help string
	counter    bool
	labels     []string
	fill       func(r *verdict.Report, ev string, set func(v float64, labels ...string))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// families is every metric written, in the order of docs/METRICS.md.
var families = []family{
	{"regiondrill_run_timestamp_seconds", "Start of the drill run, in seconds since the Unix epoch.", false, nil,
		func(r *verdict.Report, _ string, set func(float64, ...string)) {
			set(float64(r.Started.UnixNano()) / 1e9)
		}},
	{"regiondrill_run_duration_seconds", "Length of the drill run.", false, nil,
		func(r *verdict.Report, _ string, set func(float64, ...string)) { set(r.DurationS) }},
	{"regiondrill_run_pass", "1 when every acceptance target held (verdict pass), else 0.", false, nil,
		func(r *verdict.Report, _ string, set func(float64, ...string)) { set(b2f(r.Verdict == verdict.Pass)) }},
	{"regiondrill_run_verdict", "The run's verdict as a state set: 1 for the verdict it had, 0 for the others.", false, []string{"verdict"},
		func(r *verdict.Report, _ string, set func(float64, ...string)) {
			for _, v := range []verdict.Outcome{verdict.Pass, verdict.Fail, verdict.Inconclusive, verdict.Aborted} {
				set(b2f(r.Verdict == v), string(v))
			}
		}},
	{"regiondrill_cutover_seconds", "Evacuation decision to clean cutover, per drill, labelled with the evacuated region.", false, []string{"drill", "region"},
		func(r *verdict.Report, evacuated string, set func(float64, ...string)) {
			for _, t := range r.Acceptance {
				if v, ok := compare.Number(t.Value); ok && t.ID == "cutover_s" {
					set(v, t.Drill, evacuated)
				}
			}
		}},
	{"regiondrill_target_pass", "1 when the acceptance target held, 0 when it failed or was inconclusive.", false, []string{"target", "drill"},
		func(r *verdict.Report, _ string, set func(float64, ...string)) {
			for _, t := range uniqueTargets(r) {
				set(b2f(t.Pass), t.ID, t.Drill)
			}
		}},
	{"regiondrill_target_value", "The acceptance target's measured value, in its own unit (seconds, ratio or count; see docs/METRICS.md); numeric targets only.", false, []string{"target", "drill"},
		func(r *verdict.Report, _ string, set func(float64, ...string)) {
			for _, t := range uniqueTargets(r) {
				if v, ok := compare.Number(t.Value); ok {
					set(v, t.ID, t.Drill)
				}
			}
		}},
	{"regiondrill_diagnosis", "1 for each typical failure of the page the run diagnosed.", false, []string{"diagnosis", "drill"},
		func(r *verdict.Report, _ string, set func(float64, ...string)) {
			for _, d := range r.Diagnoses {
				set(1, d.ID, d.Drill)
			}
		}},
	{"regiondrill_writes_attempted_total", "Logical writes the drill's client attempted.", true, nil,
		func(r *verdict.Report, _ string, set func(float64, ...string)) { set(float64(r.Writes.Attempted)) }},
	{"regiondrill_writes_lost_total", "Acknowledged writes absent from every region's store.", true, nil,
		func(r *verdict.Report, _ string, set func(float64, ...string)) { set(float64(r.Writes.Lost)) }},
	{"regiondrill_writes_duplicated_total", "Writes stored more than once across the regions.", true, nil,
		func(r *verdict.Report, _ string, set func(float64, ...string)) { set(float64(r.Writes.Duplicates)) }},
	{"regiondrill_writes_indeterminate_total", "Writes whose outcome the client never learned.", true, nil,
		func(r *verdict.Report, _ string, set func(float64, ...string)) { set(float64(r.Writes.Indeterminate)) }},
	{"regiondrill_writes_split_brain_total", "Writes applied by two primaries.", true, nil,
		func(r *verdict.Report, _ string, set func(float64, ...string)) { set(float64(r.Writes.SplitBrain)) }},
	{"regiondrill_webhooks_duplicated_total", "Webhook deliveries received more than once.", true, nil,
		func(r *verdict.Report, _ string, set func(float64, ...string)) { set(float64(r.Webhooks.Duplicates)) }},
	{"regiondrill_webhooks_missing_total", "Expected webhook deliveries never received.", true, nil,
		func(r *verdict.Report, _ string, set func(float64, ...string)) { set(float64(r.Webhooks.Missing)) }},
	{"regiondrill_requests_total", "Requests the drill's client sent.", true, nil,
		func(r *verdict.Report, _ string, set func(float64, ...string)) { set(float64(r.SLO.Requests)) }},
	{"regiondrill_requests_failed_total", "Requests that failed (5xx, connect error, timeout).", true, nil,
		func(r *verdict.Report, _ string, set func(float64, ...string)) { set(float64(r.SLO.Bad)) }},
	{"regiondrill_error_budget_consumed_ratio", "Share of the error budget of the drill's own traffic it consumed (1 = all of it).", false, []string{"objective"},
		func(r *verdict.Report, _ string, set func(float64, ...string)) {
			set(r.SLO.BudgetConsumed, "availability")
			set(r.SLO.LatencyBudgetConsumed, "latency")
		}},
}

// Names lists every metric name, for docs and tests.
func Names() []string {
	out := make([]string, len(families))
	for i, f := range families {
		out[i] = f.name
	}
	return out
}

// uniqueTargets drops repeats of a target id in a drill (drill E judges one
// cache purge per purge), keeping the worst: a failure wins.
func uniqueTargets(r *verdict.Report) []verdict.Target {
	idx := map[[2]string]int{}
	var out []verdict.Target
	for _, t := range r.Acceptance {
		k := [2]string{t.ID, t.Drill}
		if i, ok := idx[k]; ok {
			if !t.Pass && out[i].Pass {
				out[i] = t
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, t)
	}
	return out
}

// evacuated is the plan's evacuate region, read from the report's plan.
func evacuated(r *verdict.Report) string {
	var p struct {
		Evacuate string `json:"evacuate"`
	}
	_ = json.Unmarshal(r.Plan, &p) // a report without a plan labels no region
	return p.Evacuate
}

// Registry builds a registry holding the result's metrics, each with the
// constant labels given (nil for none).
func Registry(res Result, constLabels prometheus.Labels) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	ev := evacuated(res.Report)
	for _, f := range families {
		var c prometheus.Collector
		var set func(v float64, labels ...string)
		if f.counter {
			vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: f.name, Help: f.help, ConstLabels: constLabels}, f.labels)
			c, set = vec, func(v float64, l ...string) { vec.WithLabelValues(l...).Add(v) }
		} else {
			vec := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: f.name, Help: f.help, ConstLabels: constLabels}, f.labels)
			c, set = vec, func(v float64, l ...string) { vec.WithLabelValues(l...).Set(v) }
		}
		f.fill(res.Report, ev, set)
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("openmetrics: %s: %w", f.name, err)
		}
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "regiondrill_run_info", ConstLabels: merge(constLabels, prometheus.Labels{
		"tool_version": res.ToolVersion, "drills": strings.Join(res.Report.Drills, ""), "plan_sha256": res.PlanSHA256}),
		Help: "Always 1; labels say which tool version ran which drills of which plan."})
	info.Set(1)
	if err := reg.Register(info); err != nil {
		return nil, fmt.Errorf("openmetrics: run_info: %w", err)
	}
	return reg, nil
}

func merge(a, b prometheus.Labels) prometheus.Labels {
	out := prometheus.Labels{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// Format is the text format of a metrics file.
type Format string

// Formats of WriteFile.
const (
	OpenMetrics Format = "openmetrics" // OpenMetrics 1.0 text, ending in # EOF
	Prometheus  Format = "prometheus"  // the classic text format 0.0.4, which node_exporter's parser types exactly
)

// Write writes the result's metrics in format f, with the plan and
// deployment labels on every sample.
func Write(w io.Writer, res Result, f Format) error {
	reg, err := Registry(res, res.Grouping())
	if err != nil {
		return err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("openmetrics: gather: %w", err)
	}
	var enc expfmt.Encoder
	switch f {
	case OpenMetrics, "":
		enc = expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeOpenMetrics))
	case Prometheus:
		enc = expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	default:
		return fmt.Errorf("openmetrics: unknown format %q (openmetrics or prometheus)", f)
	}
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("openmetrics: encode %s: %w", mf.GetName(), err)
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		if err := c.Close(); err != nil {
			return fmt.Errorf("openmetrics: %w", err)
		}
	}
	return nil
}

// WriteFile writes the metrics to path atomically (temp file in the same
// directory, then rename), as the textfile collector requires: it must never
// read a half-written file.
func WriteFile(path string, res Result, f Format) error {
	var rendered error
	err := atomicfile.Write(path, func(w io.Writer) error {
		rendered = Write(w, res, f)
		return rendered
	})
	if err != nil && rendered == nil {
		return fmt.Errorf("openmetrics: %w", err)
	}
	return err
}

// Push replaces the metrics of the result's group (job regiondrill, plan,
// deployment) on the Pushgateway at url.
func Push(ctx context.Context, url string, res Result, client *http.Client) error {
	reg, err := Registry(res, nil)
	if err != nil {
		return err
	}
	p := push.New(url, Job).Gatherer(reg)
	for k, v := range res.Grouping() {
		p = p.Grouping(k, v)
	}
	if client != nil {
		p = p.Client(client)
	}
	if err := p.PushContext(ctx); err != nil {
		return fmt.Errorf("openmetrics: push to %s: %w", url, err)
	}
	return nil
}
