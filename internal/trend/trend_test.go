package trend_test

import (
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/compare"
	"github.com/regiondrill/regiondrill/internal/fixture"
	"github.com/regiondrill/regiondrill/internal/history"
	"github.com/regiondrill/regiondrill/internal/trend"
)

// runs are recorded reports as the history returns them, a day apart:
// pass, pass, the cold-start failure, pass.
func runs(t *testing.T) []*history.Run {
	t.Helper()
	var out []*history.Run
	for i, f := range []string{"b-pass-1.json", "a-pass-default-routing.json", "a-cold-start-fail.json", "b-pass-1.json"} {
		rep, err := compare.Load(fixture.Path(f))
		if err != nil {
			t.Fatal(err)
		}
		r := history.FromReport(rep)
		r.ID, r.Bundle = int64(i+1), filepath.Join("/evidence", "run"+string(rune('1'+i)))
		r.Started = time.Date(2026, 1, 1+i, 12, 0, 0, 0, time.UTC)
		out = append(out, r)
	}
	return out
}

func TestTrendPage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "trend")
	path, err := trend.WriteDir(dir, runs(t), "last 4 runs")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := html.UnescapeString(string(b))
	for _, want := range []string{
		`content="default-src 'none'; style-src 'unsafe-inline'"`,
		"drill A: planned evacuation", "drill B: hard outage",
		"cutover_s <span>target ≤ 30 s; 2 runs</span>",
		"p95_vs_baseline <span>target ≤ +25%; 2 runs, 1 failed</span>",
		`class="fail"><title>run 3, 2026-01-03 12:00Z: p95_vs_baseline = 7.511 (FAIL)</title>`,
		`href="../../../../evidence/run1/report.html"`, "last 4 runs",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Drill B's cutover chart holds runs 1 and 4, A's runs 2 and 3.
	if strings.Count(page, "<svg") != 14 {
		t.Errorf("%d charts, want 14 (7 numeric targets of A and of B)", strings.Count(page, "<svg"))
	}
	// Nothing on the page is fetched: no src, no remote href, no script.
	if m := regexp.MustCompile(`(?i)(src=|<script|https?://|url\()`).FindString(page); m != "" {
		t.Errorf("the page would load something: %q", m)
	}
}

func TestEmptyHistory(t *testing.T) {
	b, err := trend.Build(nil, "", func(*history.Run) string { return "" }).Render()
	if err != nil || !strings.Contains(string(b), "No numeric targets recorded yet") {
		t.Fatalf("%v\n%s", err, b)
	}
}
