package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/regiondrill/regiondrill/internal/verdict"
)

//go:embed report.html.tmpl
var pageSource string

var pageTmpl = template.Must(template.New("report").Parse(pageSource))

// WriteHTML writes report.html: one self-contained page with inline CSS and
// inline SVG charts; it makes no request when opened.
func WriteHTML(w io.Writer, r *verdict.Report) error {
	if err := pageTmpl.Execute(w, newPage(r)); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	return nil
}

type kv struct{ K, V, Class string }

type targetRow struct {
	ID, Drill, Threshold, Value, Detail string
	Pass                                bool
	Status, Missing, Anchor             string
}

type diagView struct {
	verdict.Diagnosis
	DrillTitle, Window string
	Links              []kv     // K: anchor, V: the item's name
	Records            []string // records without a row of their own (write/<key>)
}

type chartView struct {
	ID, Title, Caption string
	SVG                template.HTML
}

type lambdaRow struct {
	Probe, Regions      string
	Before, After       [4]int
	MaxBefore, MaxAfter string
	Bad                 bool
}

type cell struct{ Text, Class string }

type parityRow struct {
	Region, Phase string
	First         bool
	Cells         []cell
}

type stepRow struct {
	Drill, Name, Start, Duration, Outcome string
	Notes                                 []string
}

type checkRow struct {
	Phase, Name, Drill, Value, Detail, At string
	Pass                                  bool
}

// latencyRow is one line of the latency-by-region table.
type latencyRow struct {
	Drill, Window, Region, Requests, P50, P75, P95, P99 string
}

type page struct {
	Verdict, VerdictClass, Reason, StopReason string
	Drills                                    []string
	Target, Started, Duration                 string
	Key                                       []kv
	Acceptance                                []targetRow
	Failed, Inconclusive, Total               int
	Vantages                                  []vantageRow
	Diagnoses                                 []diagView
	Charts                                    []chartView
	Latency                                   []latencyRow
	DeltaS                                    chartView
	LambdaStates                              []string
	Lambda                                    []lambdaRow
	Writes                                    verdict.Ledger
	Webhooks                                  verdict.Webhooks
	WebhookRegions                            []kv
	ParityFields                              []string
	ParityRef                                 string
	Parity                                    []parityRow
	SLO                                       verdict.SLO
	SLOAvail, SLOLatency, SLOAvailObj, SLOLat string
	SignOff                                   string
	Steps                                     []stepRow
	Checks                                    []checkRow
	Plan, Load                                string
}

func newPage(r *verdict.Report) *page {
	p := &page{
		Verdict:    strings.ToUpper(string(r.Verdict)),
		Reason:     r.Reason,
		StopReason: r.StopReason,
		Target:     r.Target,
		Duration:   fmtFixed(r.DurationS, 1) + " s",
		Writes:     r.Writes,
		Webhooks:   r.Webhooks,
		SLO:        r.SLO,
	}
	switch r.Verdict {
	case verdict.Pass:
		p.VerdictClass = "pass"
	case verdict.Fail:
		p.VerdictClass = "fail"
	case verdict.Aborted:
		p.VerdictClass = "aborted"
	case verdict.Inconclusive:
		p.VerdictClass = "inconclusive"
	default:
		p.VerdictClass = "unknown"
		if p.Verdict == "" {
			p.Verdict = "NO VERDICT"
		}
	}
	if r.Started.IsZero() {
		p.Started = "—"
	} else {
		p.Started = r.Started.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	for _, d := range r.Drills {
		p.Drills = append(p.Drills, drillTitle(d))
	}
	p.Key = keyNumbers(r)

	for _, t := range r.Acceptance {
		status := t.Status
		if status == "" {
			status = verdict.StatusOf(t.Pass)
		}
		p.Acceptance = append(p.Acceptance, targetRow{
			ID: TargetName(t), Drill: drillLetter(t.Drill), Threshold: t.Target, Value: fmtValue(t.Value), Detail: t.Detail, Pass: t.Pass,
			Status: string(status), Missing: t.Missing, Anchor: "acceptance/" + t.ID + "/" + t.Drill,
		})
		switch status {
		case verdict.StatusFail:
			p.Failed++
		case verdict.StatusInconclusive:
			p.Inconclusive++
		}
	}
	rank := map[string]int{string(verdict.StatusFail): 0, string(verdict.StatusInconclusive): 1}
	slices.SortStableFunc(p.Acceptance, func(a, b targetRow) int {
		ra, ok := rank[a.Status]
		if !ok {
			ra = 2
		}
		rb, ok := rank[b.Status]
		if !ok {
			rb = 2
		}
		return ra - rb
	})
	p.Total = len(r.Acceptance)
	for _, d := range r.Diagnoses {
		v := diagView{Diagnosis: d, DrillTitle: drillTitle(d.Drill)}
		if d.FromMS != 0 || d.ToMS != 0 {
			v.Window = "evidence from " + fmtFixed(float64(d.FromMS)/1000, 1) + " s to " + fmtFixed(float64(d.ToMS)/1000, 1) + " s"
		}
		for _, ref := range d.Refs {
			if strings.HasPrefix(ref, "acceptance/") { // a row of the acceptance table
				v.Links = append(v.Links, kv{K: ref, V: ref})
			} else {
				v.Records = append(v.Records, ref)
			}
		}
		p.Diagnoses = append(p.Diagnoses, v)
	}

	regions := regionNames(r)
	gs := buckets(r.Series)
	tl := newTimeline(r)
	for _, c := range []timeChart{
		sloChart(r, gs, regions, tl),
		trafficChart(gs, regions, tl),
		backlogChart(gs, regions, tl),
		cacheChart(gs, tl),
	} {
		p.Charts = append(p.Charts, chartView{ID: c.id, Title: c.title, Caption: c.caption, SVG: c.render()})
	}
	vrows, vcharts := vantageView(r, regions, tl)
	p.Vantages, p.Charts = vrows, append(p.Charts, vcharts...)
	for _, l := range r.Latency {
		p.Latency = append(p.Latency, latencyRow{Drill: l.Drill, Window: string(l.Window), Region: l.Region,
			Requests: strconv.Itoa(l.Requests), P50: fmtFixed(l.P50, 1), P75: fmtFixed(l.P75, 1), P95: fmtFixed(l.P95, 1), P99: fmtFixed(l.P99, 1)})
	}
	p.DeltaS = chartView{
		ID: "delta_s", Title: "ΔS histogram, probe set before vs after",
		Caption: "All bars should sit left of the amber line (ΔS ≤ 0.45); any bar right of the red line (ΔS ≥ 0.60) means rebuild the index and purge caches.",
		SVG:     deltaSChart(r.Probes),
	}
	p.LambdaStates = lambdaStates
	p.Lambda = lambdaTable(r.Probes)
	p.WebhookRegions = sortedCounts(r.Webhooks.ByRegion)
	p.ParityFields, p.Parity = parityTable(r)
	if len(p.Parity) > 0 {
		p.ParityRef = p.Parity[0].Region
	}

	p.SLOAvailObj = fmtNum(100*r.SLO.Availability) + " %"
	p.SLOLat = "p" + fmtNum(100*r.SLO.LatencyObjective) + " ≤ " + fmtNum(r.SLO.LatencyMS) + " ms"
	p.SLOAvail = fmtFixed(100*r.SLO.BudgetConsumed, 1)
	p.SLOLatency = fmtFixed(100*r.SLO.LatencyBudgetConsumed, 1)
	p.SignOff = "The drill consumed " + p.SLOAvail + "% of its availability error budget and " + p.SLOLatency + "% of its latency budget."

	for _, s := range r.Steps {
		p.Steps = append(p.Steps, stepRow{
			Drill: drillLetter(s.Drill), Name: s.Name,
			Start:    fmtFixed(float64(s.StartMS)/1000, 1) + " s",
			Duration: fmtFixed(float64(s.EndMS-s.StartMS)/1000, 1) + " s",
			Outcome:  s.Outcome, Notes: s.Notes,
		})
	}
	for _, c := range r.Checks {
		p.Checks = append(p.Checks, checkRow{
			Phase: c.Phase, Name: c.Name, Drill: drillLetter(c.Drill), Value: c.Value, Detail: c.Detail, Pass: c.Pass,
			At: fmtFixed(float64(c.AtMS)/1000, 1) + " s",
		})
	}
	p.Plan = prettyJSON(r.Plan)
	p.Load = prettyJSON(r.Load)
	return p
}

// keyNumbers are the few figures the banner shows.
func keyNumbers(r *verdict.Report) []kv {
	var out []kv
	if r.CutoverS != nil {
		out = append(out, kv{K: "cutover", V: fmtFixed(*r.CutoverS, 1) + " s"})
	} else {
		out = append(out, kv{K: "cutover", V: "not measured"})
	}
	longest := 0
	run := 0
	var last int64 = -2
	for _, s := range r.Series {
		if s.Err5xx > 0 {
			if s.T == last+1 {
				run++
			} else {
				run = 1
			}
			last = s.T
			longest = max(longest, run)
		}
	}
	out = append(out, kv{K: "longest 5xx run", V: strconv.Itoa(longest) + " s", Class: flag(longest > 60)})
	out = append(out, kv{K: "writes lost", V: strconv.Itoa(r.Writes.Lost), Class: flag(r.Writes.Lost > 0)})
	out = append(out, kv{K: "duplicates", V: strconv.Itoa(r.Writes.Duplicates + r.Webhooks.Duplicates), Class: flag(r.Writes.Duplicates+r.Webhooks.Duplicates > 0)})
	out = append(out, kv{K: "error budget used", V: fmtFixed(100*r.SLO.BudgetConsumed, 1) + " %", Class: flag(r.SLO.BudgetConsumed > 1)})
	return out
}

func flag(bad bool) string {
	if bad {
		return "bad"
	}
	return ""
}

var lambdaStates = []string{"convergent", "divergent", "recursive", "chaotic"}

func lambdaTable(probes []verdict.Probe) []lambdaRow {
	type acc struct {
		row     lambdaRow
		regions map[string]bool
		mb, ma  float64
	}
	by := map[string]*acc{}
	var ids []string
	for _, p := range probes {
		a, ok := by[p.ProbeID]
		if !ok {
			a = &acc{row: lambdaRow{Probe: p.ProbeID}, regions: map[string]bool{}, mb: -1, ma: -1}
			by[p.ProbeID] = a
			ids = append(ids, p.ProbeID)
		}
		a.regions[p.Region] = true
		i := slices.Index(lambdaStates, p.Lambda)
		switch p.Phase {
		case "before":
			if i >= 0 {
				a.row.Before[i]++
			}
			a.mb = max(a.mb, p.DeltaS)
		case "after":
			if i >= 0 {
				a.row.After[i]++
			}
			a.ma = max(a.ma, p.DeltaS)
		}
		if i != 0 || p.DeltaS > 0.45 {
			a.row.Bad = true
		}
	}
	slices.Sort(ids)
	out := make([]lambdaRow, 0, len(ids))
	for _, id := range ids {
		a := by[id]
		rs := make([]string, 0, len(a.regions))
		for r := range a.regions {
			rs = append(rs, r)
		}
		slices.Sort(rs)
		a.row.Regions = strings.Join(rs, ", ")
		a.row.MaxBefore, a.row.MaxAfter = "—", "—"
		if a.mb >= 0 {
			a.row.MaxBefore = fmtFixed(a.mb, 2)
		}
		if a.ma >= 0 {
			a.row.MaxAfter = fmtFixed(a.ma, 2)
		}
		out = append(out, a.row)
	}
	return out
}

func sortedCounts(m map[string]int) []kv {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]kv, 0, len(keys))
	for _, k := range keys {
		out = append(out, kv{K: k, V: strconv.Itoa(m[k])})
	}
	return out
}

var parityFields = []string{"INDEX_HASH", "METRIC", "ANALYZER", "BUILD_TS", "schema_rev", "model_tag", "secrets_rev", "release", "role", "ready"}

func contractCells(c verdict.Contract) []string {
	ts := "—"
	if !c.BuildTS.IsZero() {
		ts = c.BuildTS.UTC().Format(time.RFC3339)
	}
	return []string{c.IndexHash, c.Metric, c.Analyzer, ts, c.SchemaRev, c.ModelTag, c.SecretsRev, c.Release, c.Role, strconv.FormatBool(c.Ready)}
}

// parityTable lists each region's contract before and after; a cell that
// differs from the first region's value in the same phase is marked "diff";
// role and readiness differ by design and are marked "diff-expected".
func parityTable(r *verdict.Report) ([]string, []parityRow) {
	var names []string
	for _, n := range regionNames(r) {
		if _, ok := r.Regions[n]; ok {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return parityFields, nil
	}
	ref := map[string][]string{
		"before": contractCells(r.Regions[names[0]].Before),
		"after":  contractCells(r.Regions[names[0]].After),
	}
	var rows []parityRow
	for _, phase := range []string{"before", "after"} {
		for i, n := range names {
			c := r.Regions[n].Before
			if phase == "after" {
				c = r.Regions[n].After
			}
			row := parityRow{Region: n, Phase: phase, First: i == 0}
			for j, v := range contractCells(c) {
				class := ""
				if v != ref[phase][j] {
					class = "diff"
					if parityFields[j] == "role" || parityFields[j] == "ready" {
						class = "diff-expected"
					}
				}
				if v == "" {
					v = "—"
				}
				row.Cells = append(row.Cells, cell{Text: v, Class: class})
			}
			rows = append(rows, row)
		}
	}
	return parityFields, rows
}

func prettyJSON(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}
