package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/report"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// A run with agents renders its vantage points everywhere: a table and one
// SLO chart each in report.html, the vantage_points array in report.json,
// one JUnit case per vantage and target; an inconclusive vantage says so.
func TestVantagePointsRendered(t *testing.T) {
	r := fixture(false)
	r.Verdict, r.Reason = verdict.Inconclusive, "vantage ap inconclusive: agent lost at 21.0 s (its last heartbeat): no heartbeat for 3.0 s"
	cut := 1.25
	zero := 0.0
	ratio := 0.12
	r.VantagePoints = []verdict.VantagePoint{
		{Name: "us", Entry: "https://us.example.com", Requests: 1500, Errors: 12, CutoverS: &cut, Max5xxBurstS: 1, P95VsBaseline: &ratio,
			ClockOffsetMS: 0.05, ClockErrorMS: 0.1, Verdict: verdict.Pass, Series: r.Series},
		{Name: "ap", Entry: "https://ap.example.com", Requests: 600, CutoverS: &zero, P95VsBaseline: &zero, ClockOffsetMS: 249.9, ClockErrorMS: 0.2,
			Verdict: verdict.Inconclusive, Reason: "inconclusive: agent lost at 21.0 s (its last heartbeat): no heartbeat for 3.0 s", Series: r.Series},
	}
	r.Acceptance = append(r.Acceptance,
		verdict.Target{ID: "cutover_s", Drill: "A", Vantage: "us", Target: "≤ 30 s", Value: 1.25, Pass: true},
		verdict.Target{ID: "vantage_conclusive", Vantage: "ap", Target: "agent alive to the end"}.Inconclusive("vantage ap: agent lost"))

	var html, js, junit bytes.Buffer
	for _, w := range []struct {
		write report.Writer
		out   *bytes.Buffer
	}{{report.WriteHTML, &html}, {report.WriteJSON, &js}, {report.WriteJUnit, &junit}} {
		if err := w.write(w.out, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{`id="vantages"`, `id="chart-slo-us"`, `id="chart-slo-ap"`, "SLO seen from ap", "INCONCLUSIVE",
		"249.9 ms ± 0.2", "12 %", "cutover_s@us"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	var back struct {
		Vantages []map[string]any `json:"vantage_points"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Vantages) != 2 {
		t.Fatalf("report.json vantage_points: %v %v", back.Vantages, err)
	}
	for _, k := range []string{"name", "requests", "cutover_s", "max_5xx_burst_s", "p95_vs_baseline", "clock_offset_ms", "verdict"} {
		if _, ok := back.Vantages[0][k]; !ok {
			t.Errorf("report.json vantage point lacks %q", k)
		}
	}
	for _, want := range []string{`name="vantage/us/cutover_s"`, `name="vantage/ap/vantage_conclusive"`} {
		if !strings.Contains(junit.String(), want) {
			t.Errorf("junit.xml lacks %s", want)
		}
	}
	// Without agents nothing of this appears.
	var plain bytes.Buffer
	if err := report.WriteJSON(&plain, fixture(false)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "vantage") {
		t.Error("a report without agents mentions vantage points")
	}
}
