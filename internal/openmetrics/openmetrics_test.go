package openmetrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/regiondrill/regiondrill/internal/compare"
	"github.com/regiondrill/regiondrill/internal/fixture"
	"github.com/regiondrill/regiondrill/internal/manifest"
	"github.com/regiondrill/regiondrill/internal/openmetrics"
	"github.com/regiondrill/regiondrill/internal/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func result(t *testing.T, name string) openmetrics.Result {
	t.Helper()
	rep, err := compare.Load(fixture.Path(name))
	if err != nil {
		t.Fatal(err)
	}
	h, err := manifest.PlanHash(rep.Plan)
	if err != nil {
		t.Fatal(err)
	}
	k, err := plan.Key(rep.Plan)
	if err != nil {
		t.Fatal(err)
	}
	return openmetrics.Result{Report: rep, PlanSHA256: h, PlanKey: k, ToolVersion: "v-test"}
}

func parse(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the Prometheus text parser refused the file: %v\n%s", err, b)
	}
	return fams
}

// sample finds the value of name with every label in want.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func TestTextfileParses(t *testing.T) {
	pass, fail := result(t, "b-pass-1.json"), result(t, "a-cold-start-fail.json")
	for _, f := range []openmetrics.Format{openmetrics.OpenMetrics, openmetrics.Prometheus} {
		t.Run(string(f), func(t *testing.T) {
			var b bytes.Buffer
			if err := openmetrics.Write(&b, pass, f); err != nil {
				t.Fatal(err)
			}
			if f == openmetrics.OpenMetrics && !strings.HasSuffix(b.String(), "# EOF\n") {
				t.Fatalf("OpenMetrics text must end with # EOF:\n%s", b.String())
			}
			golden(t, "b-pass."+string(f)+".txt", b.Bytes())
			fams := parse(t, b.Bytes())
			common := map[string]string{"plan": pass.PlanKey[:12], "deployment": "lab"}
			with := func(kv ...string) map[string]string {
				m := map[string]string{}
				for k, v := range common {
					m[k] = v
				}
				for i := 0; i+1 < len(kv); i += 2 {
					m[kv[i]] = kv[i+1]
				}
				return m
			}
			checks := []struct {
				name   string
				labels map[string]string
				want   float64
			}{
				{"regiondrill_cutover_seconds", with("drill", "B", "region", "us-east"), 0.725},
				{"regiondrill_target_pass", with("target", "cutover_s", "drill", "B"), 1},
				{"regiondrill_target_pass", with("target", "answers_equal", "drill", "B"), 1},
				{"regiondrill_target_value", with("target", "backlog_drain_s", "drill", "B"), 1.269},
				{"regiondrill_writes_lost_total", with(), 0},
				{"regiondrill_writes_attempted_total", with(), float64(pass.Report.Writes.Attempted)},
				{"regiondrill_run_pass", with(), 1},
				{"regiondrill_run_verdict", with("verdict", "fail"), 0},
				{"regiondrill_run_timestamp_seconds", with(), float64(pass.Report.Started.UnixNano()) / 1e9},
				{"regiondrill_run_info", with("tool_version", "v-test", "drills", "B"), 1},
			}
			for _, c := range checks {
				got, ok := sample(fams, c.name, c.labels)
				if !ok || got != c.want {
					t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
				}
			}
			// The classic format types counters for node_exporter's
			// parser; OpenMetrics' counter samples read as untyped there.
			typ := fams["regiondrill_writes_lost_total"].GetType()
			if f == openmetrics.Prometheus && typ != dto.MetricType_COUNTER || f == openmetrics.OpenMetrics && typ != dto.MetricType_UNTYPED {
				t.Errorf("%s: writes_lost_total is %v", f, typ)
			}
			if n := len(fams["regiondrill_target_value"].GetMetric()); n != 7 {
				t.Errorf("%d numeric targets, want 7", n)
			}
		})
	}
	t.Run("failing run", func(t *testing.T) {
		var b bytes.Buffer
		if err := openmetrics.Write(&b, fail, openmetrics.OpenMetrics); err != nil {
			t.Fatal(err)
		}
		fams := parse(t, b.Bytes())
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"regiondrill_run_pass", nil, 0},
			{"regiondrill_run_verdict", map[string]string{"verdict": "fail"}, 1},
			{"regiondrill_target_pass", map[string]string{"target": "p95_vs_baseline", "drill": "A"}, 0},
			{"regiondrill_diagnosis", map[string]string{"diagnosis": "cold_start_storm", "drill": "A"}, 1},
		} {
			if got, ok := sample(fams, c.name, c.labels); !ok || got != c.want {
				t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
			}
		}
	})
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (run with -update if the change is meant):\n%s", name, got)
	}
}

func TestWriteFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "regiondrill.prom")
	if err := openmetrics.WriteFile(path, result(t, "b-pass-1.json"), openmetrics.OpenMetrics); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	if err := openmetrics.WriteFile(filepath.Join(dir, "x.prom"), result(t, "b-pass-1.json"), "json"); err == nil {
		t.Fatal("unknown format accepted")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("a failed write left a file: %v", entries)
	}
}

// startPushgateway runs Debian's prometheus-pushgateway on a random
// loopback port and returns its URL.
func startPushgateway(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-pushgateway")
	if err != nil {
		if bin, err = exec.LookPath("pushgateway"); err != nil {
			t.Skip("prometheus-pushgateway is not installed (apt-get install prometheus-pushgateway)")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // the gateway binds it itself; a clash shows as a start failure
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--web.listen-address="+addr)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	// It logs when it listens; no polling.
	if err := fixture.WaitLine(stderr, "Listening on", 30*time.Second); err != nil {
		t.Fatalf("pushgateway: %v", err)
	}
	return "http://" + addr
}

// Results pushed to a real Pushgateway come back from its /metrics with the
// job and grouping labels; a second push to the same group replaces the
// first, another plan gets its own group.
func TestPushgateway(t *testing.T) {
	url := startPushgateway(t)
	ctx := context.Background()
	pass, fail := result(t, "b-pass-1.json"), result(t, "a-cold-start-fail.json")
	for _, r := range []openmetrics.Result{pass, pass, fail} {
		if err := openmetrics.Push(ctx, url, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fams := parse(t, body)
	group := func(r openmetrics.Result, kv ...string) map[string]string {
		m := map[string]string{"job": "regiondrill", "plan": r.PlanKey[:12], "deployment": "lab"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"regiondrill_cutover_seconds", group(pass, "drill", "B", "region", "us-east"), 0.725},
		{"regiondrill_run_pass", group(pass), 1},
		{"regiondrill_writes_lost_total", group(pass), 0},
		{"regiondrill_run_pass", group(fail), 0},
		{"regiondrill_target_pass", group(fail, "target", "p95_vs_baseline", "drill", "A"), 0},
		{"regiondrill_run_timestamp_seconds", group(fail), float64(fail.Report.Started.UnixNano()) / 1e9},
	} {
		if got, ok := sample(fams, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if n := len(fams["regiondrill_run_pass"].GetMetric()); n != 2 {
		t.Errorf("%d groups hold regiondrill_run_pass, want 2 (pushing a group again replaces it)", n)
	}
	if !strings.Contains(string(body), "push_time_seconds") {
		t.Error("no push_time_seconds: the pushes did not land")
	}
}

// docs/METRICS.md lists every metric, and the Grafana dashboard queries
// only metrics that exist.
func TestDocsAndDashboardMatchTheMetrics(t *testing.T) {
	doc, err := os.ReadFile("../../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	names := append(openmetrics.Names(), "regiondrill_run_info")
	for _, n := range names {
		if !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("docs/METRICS.md does not list %s", n)
		}
	}
	dash, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`regiondrill_[a-z0-9_]+`)
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			for _, m := range used.FindAllString(q.Expr, -1) {
				if !slices.Contains(names, m) {
					t.Errorf("panel %q queries %s, which regiondrill does not write", p.Title, m)
				}
			}
		}
	}
}
