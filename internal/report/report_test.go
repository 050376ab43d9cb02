package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/report"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.* and docs/report-*.png")

func render(t testing.TB, w report.Writer, r *verdict.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := w(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for _, variant := range []string{"pass", "fail"} {
		r := fixture(variant == "fail")
		for _, f := range []struct {
			ext string
			w   report.Writer
		}{{"json", report.WriteJSON}, {"xml", report.WriteJUnit}, {"csv", report.WriteCSV}, {"html", report.WriteHTML}} {
			t.Run(variant+"."+f.ext, func(t *testing.T) {
				got := render(t, f.w, r)
				if again := render(t, f.w, r); !bytes.Equal(got, again) {
					t.Fatal("two renderings of the same report differ")
				}
				path := filepath.Join("testdata", variant+".golden."+f.ext)
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from golden; run go test -update and review the diff", path)
				}
			})
		}
	}
}

// The JSON is the report's stable form: decoding it and encoding again must
// give the same bytes.
func TestJSONRoundTrip(t *testing.T) {
	first := render(t, report.WriteJSON, fixture(true))
	var back verdict.Report
	if err := json.Unmarshal(first, &back); err != nil {
		t.Fatal(err)
	}
	if back.Schema != verdict.SchemaVersion {
		t.Fatalf("schema %q", back.Schema)
	}
	if second := render(t, report.WriteJSON, &back); !bytes.Equal(first, second) {
		t.Fatal("report.json changed after a round trip")
	}
	// HTML rendered from the decoded report equals the original's.
	if !bytes.Equal(render(t, report.WriteHTML, fixture(true)), render(t, report.WriteHTML, &back)) {
		t.Fatal("report.html from decoded JSON differs")
	}
}

func TestJSONEmptyListsAndSchema(t *testing.T) {
	out := string(render(t, report.WriteJSON, &verdict.Report{}))
	for _, want := range []string{`"schema": "regiondrill.report/v1"`, `"acceptance": []`, `"series": []`, `"drills": []`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
}

type jSuites struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Stamp    string `xml:"timestamp,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func parseJUnit(t *testing.T, r *verdict.Report) jSuites {
	t.Helper()
	var s jSuites
	if err := xml.Unmarshal(render(t, report.WriteJUnit, r), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJUnitStructure(t *testing.T) {
	r := fixture(true)
	s := parseJUnit(t, r)
	if len(s.Suites) != 2 || s.Suites[0].Name != "regiondrill drill A: planned evacuation" || s.Suites[1].Name != "regiondrill drill E: return to home" {
		t.Fatalf("suites: %+v", s.Suites)
	}
	if want := len(r.Acceptance) + len(r.Checks); s.Tests != want {
		t.Errorf("tests = %d, want %d", s.Tests, want)
	}
	failed := len(r.Failed())
	for _, c := range r.Checks {
		if !c.Pass {
			failed++
		}
	}
	if s.Failures != failed {
		t.Errorf("failures = %d, want %d", s.Failures, failed)
	}
	sum := 0
	for _, su := range s.Suites {
		sum += su.Tests
		if su.Stamp != "2025-03-14T09:30:00" {
			t.Errorf("timestamp %q is not r.Started", su.Stamp)
		}
	}
	if sum != s.Tests {
		t.Errorf("suite tests sum %d ≠ total %d", sum, s.Tests)
	}
	var msg, body string
	names := map[string]bool{}
	for _, c := range s.Suites[0].Cases {
		names[c.Name] = true
		if c.Name == "acceptance/cutover_s" && c.Failure != nil {
			msg, body = c.Failure.Message, c.Failure.Body
		}
	}
	if msg != "measured 41, target ≤ 30 s" || !strings.Contains(body, "sticky sessions") {
		t.Errorf("cutover failure = %q / %q", msg, body)
	}
	if !names["pre/env_parity"] || !names["live/error_rate"] {
		t.Errorf("check cases missing: %v", names)
	}
}

// A target of a drill not in r.Drills and an aborted run must still show up.
func TestJUnitKeepsStrayTargetsAndAbort(t *testing.T) {
	r := fixture(false)
	r.Verdict = verdict.Aborted
	r.StopReason = "stop condition: error rate > 50 %"
	r.Acceptance = append(r.Acceptance, verdict.Target{ID: "orphan", Drill: "C", Target: "equal", Value: false})
	s := parseJUnit(t, r)
	last := s.Suites[len(s.Suites)-1]
	if last.Name != "regiondrill whole run" {
		t.Fatalf("last suite %q", last.Name)
	}
	var sawOrphan, sawAbort bool
	for _, c := range last.Cases {
		sawOrphan = sawOrphan || (c.Name == "acceptance/orphan" && c.Failure != nil)
		sawAbort = sawAbort || (c.Name == "run/aborted" && c.Error != nil && strings.Contains(c.Error.Message, "error rate > 50 %"))
	}
	if !sawOrphan || !sawAbort || s.Errors != 1 {
		t.Fatalf("orphan %v abort %v errors %d", sawOrphan, sawAbort, s.Errors)
	}
}

func TestCSV(t *testing.T) {
	r := fixture(true)
	rows, err := csv.NewReader(bytes.NewReader(render(t, report.WriteCSV, r))).ReadAll()
	if err != nil {
		t.Fatal(err) // also fails on ragged rows
	}
	if len(rows) != len(r.Series)+1 {
		t.Fatalf("%d rows for %d seconds", len(rows), len(r.Series))
	}
	want := "t,requests,errors,err_5xx,p50_ms,p95_ms,p99_ms,us-east_requests,us-east_p95_ms,us-east_backlog,us-east_backlog_age_s,eu-west_requests,eu-west_p95_ms,eu-west_backlog,eu-west_backlog_age_s,cache_hit_ratio,cold"
	if got := strings.Join(rows[0], ","); got != want {
		t.Fatalf("header\n got %s\nwant %s", got, want)
	}
	if rows[11][0] != "10" || rows[11][3] == "0" {
		t.Errorf("row for t=10: %v", rows[11])
	}
}

func TestWriteAll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := report.WriteAll(dir, fixture(false)); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "junit.xml report.html report.json samples.csv" {
		t.Fatalf("files: %s", got)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if !bytes.Equal(b, render(t, report.WriteJSON, fixture(false))) {
		t.Fatal("report.json differs from WriteJSON")
	}
	// A directory that cannot be created is an error, not a silent no-op.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if err := report.WriteAll(filepath.Join(file, "x"), fixture(false)); err == nil {
		t.Fatal("WriteAll into a path under a file succeeded")
	}
}

// An unencodable report leaves no partial file and no temp file behind.
func TestWriteAllAtomic(t *testing.T) {
	dir := t.TempDir()
	if err := report.WriteAll(dir, fixture(false)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	bad := fixture(false)
	bad.Plan = json.RawMessage(`{broken`)
	if err := report.WriteAll(dir, bad); err == nil {
		t.Fatal("invalid plan JSON was written")
	}
	after, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if !bytes.Equal(before, after) {
		t.Fatal("failed write replaced report.json")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Fatalf("temp file left: %s", e.Name())
		}
	}
}

var externalRef = regexp.MustCompile(`(?i)(src|href|xlink:href|action)\s*=\s*["']?\s*(https?:|//)|url\(|@import`)

// externalRefs finds anything in a page that would make a request.
func externalRefs(html []byte) []string {
	var out []string
	for _, m := range externalRef.FindAll(html, -1) {
		out = append(out, string(m))
	}
	return out
}

func TestHTMLSelfContained(t *testing.T) {
	r := fixture(true)
	r.Diagnoses[0].Fix += " Open: https://example.invalid/stateless_kv_queue_patterns.md"
	html := render(t, report.WriteHTML, r)
	if refs := externalRefs(html); len(refs) > 0 {
		t.Fatalf("external references: %v", refs)
	}
	// The detector itself fires on a page that would load something.
	for _, bad := range []string{`<img src="https://x.invalid/a.png">`, `<link href="//cdn.invalid/x.css">`, `body{background:url(a.png)}`} {
		if len(externalRefs([]byte(bad))) == 0 {
			t.Errorf("detector missed %s", bad)
		}
	}
}

func TestHTMLFailingFirstScreen(t *testing.T) {
	html := string(render(t, report.WriteHTML, fixture(true)))
	banner := strings.Index(html, `class="banner fail"`)
	acc := strings.Index(html, `id="acceptance"`)
	firstFail := strings.Index(html, `<td class="mono">write_loss</td>`)
	firstPass := strings.Index(html, `<td class="mono">longest_5xx_run_s</td>`)
	diag := strings.Index(html, "Split-brain writes during cutover")
	charts := strings.Index(html, `id="charts"`)
	if !(banner >= 0 && banner < acc && acc < firstFail && firstFail < firstPass && firstPass < diag && diag < charts) {
		t.Fatalf("order: banner %d acceptance %d fail %d pass %d diagnosis %d charts %d", banner, acc, firstFail, firstPass, diag, charts)
	}
	// cutover_s failed and comes before the passing longest_5xx_run_s too.
	if strings.Index(html, `>cutover_s<`) > firstPass {
		t.Error("failing cutover_s listed after a passing target")
	}
	for _, want := range []string{"FAIL — 5 of 9 targets failed, 1 without evidence", "INCONCLUSIVE", "The drill consumed 10333.3% of its availability error budget"} {
		if !strings.Contains(html, want) {
			t.Errorf("missing %q", want)
		}
	}
}

func TestHTMLHighlights(t *testing.T) {
	html := string(render(t, report.WriteHTML, fixture(true)))
	for _, want := range []string{
		// us-east is the first region, so eu-west's cells are the ones marked.
		`<td class="mono diff">standard</td>`,         // analyzer mismatch after
		`<td class="mono diff">ih-5f2c9a1e</td>`,      // index hash mismatch
		`<td class="mono diff-expected">primary</td>`, // roles differ by design
		`<td class="num hot">3</td>`,                  // lost writes
		`<td class="num hot">5</td>`,                  // webhooks from the evacuated region
	} {
		if !strings.Contains(html, want) {
			t.Errorf("missing %s", want)
		}
	}
	pass := string(render(t, report.WriteHTML, fixture(false)))
	if strings.Contains(pass, `class="mono diff"`) || strings.Contains(pass, `hot"`) {
		t.Error("passing report highlights a difference")
	}
}

func TestHTMLEscapes(t *testing.T) {
	r := fixture(true)
	r.RegionNames = append(r.RegionNames, `<script>alert(1)</script>`)
	r.Events = append(r.Events, verdict.Event{AtMS: 30000, Label: `"><script>x()</script>`})
	r.Diagnoses[0].Evidence = append(r.Diagnoses[0].Evidence, `<img src=x onerror=y>`)
	html := string(render(t, report.WriteHTML, r))
	if strings.Contains(html, "<script") || strings.Contains(html, "<img") {
		t.Fatal("markup from report data reached the page unescaped")
	}
}

var dataSeries = regexp.MustCompile(`data-chart="([a-z_]+)"|data-series="[^"]*"(?: data-points="(\d+)")?`)

// seriesPerChart counts data-bearing elements per chart and the largest
// point count of any series.
func seriesPerChart(html string) (map[string]int, int) {
	counts := map[string]int{}
	chart, maxPts := "", 0
	for _, m := range dataSeries.FindAllStringSubmatch(html, -1) {
		if m[1] != "" {
			chart = m[1]
			counts[chart] += 0
			continue
		}
		counts[chart]++
		if m[2] != "" {
			n := 0
			for _, c := range m[2] {
				n = n*10 + int(c-'0')
			}
			maxPts = max(maxPts, n)
		}
	}
	return counts, maxPts
}

func TestHTMLChartsHaveData(t *testing.T) {
	counts, _ := seriesPerChart(string(render(t, report.WriteHTML, fixture(true))))
	for _, c := range []string{"slo", "traffic", "backlog", "cache", "delta_s"} {
		if counts[c] == 0 {
			t.Errorf("chart %s has no data series (%v)", c, counts)
		}
	}
}

func TestHTMLEmptyReport(t *testing.T) {
	html := string(render(t, report.WriteHTML, &verdict.Report{}))
	if n := strings.Count(html, ">no data<"); n != 8 { // every panel of every chart
		t.Errorf("%d 'no data' labels", n)
	}
	counts, _ := seriesPerChart(html)
	for c, n := range counts {
		if n != 0 {
			t.Errorf("empty report drew %d series in %s", n, c)
		}
	}
	for _, w := range []report.Writer{report.WriteJSON, report.WriteJUnit, report.WriteCSV} {
		render(t, w, &verdict.Report{})
	}
}

func longReport(seconds int) *verdict.Report {
	r := fixture(true)
	base := r.Series
	r.Series = nil
	for i := range seconds {
		s := base[i%len(base)]
		s.T = int64(i)
		r.Series = append(r.Series, s)
	}
	r.DurationS = float64(seconds)
	return r
}

func TestHTMLSizeAndDownsampling(t *testing.T) {
	small := render(t, report.WriteHTML, fixture(true))
	if len(small) > 2<<20 {
		t.Fatalf("60 s report is %d bytes", len(small))
	}
	big := string(render(t, report.WriteHTML, longReport(3600)))
	counts, maxPts := seriesPerChart(big)
	if maxPts > 600 || maxPts < 300 {
		t.Errorf("largest series has %d points, want 300..600", maxPts)
	}
	if counts["slo"] == 0 || len(big) > 2<<20 {
		t.Errorf("1 h report: %d bytes, counts %v", len(big), counts)
	}
	t.Logf("60 s report %d bytes; 3600 s report %d bytes", len(small), len(big))
}

func BenchmarkWriteHTML3600(b *testing.B) {
	r := longReport(3600)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := report.WriteHTML(&buf, r); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

func BenchmarkWriteAll3600(b *testing.B) {
	r := longReport(3600)
	dir := b.TempDir()
	for b.Loop() {
		if err := report.WriteAll(dir, r); err != nil {
			b.Fatal(err)
		}
	}
}
