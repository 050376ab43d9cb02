package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/regiondrill/regiondrill/internal/natsauth"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/cli"
	"github.com/regiondrill/regiondrill/internal/lab"
)

// startProcess runs a Debian service binary on loopback for one test and
// waits until addr accepts connections.
func startProcess(t *testing.T, addr string, name string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not on PATH", name)
	}
	cmd := exec.Command(name, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s: %v\n%s", name, addr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// labPlan writes a plan that drills a lab started by the test.
func labPlan(t *testing.T, ep lab.Endpoints, drill, extra string) string {
	t.Helper()
	plan := fmt.Sprintf(`{"regions":["us-east","eu-west"],"evacuate":"us-east","promote_survivor":"eu-west","drills":[%q],
	 "routing":{"mode":"latency","stick_minutes":15,"hysteresis_s":1},
	 "phases":{"baseline_s":8,"hold_s":6,"step_hold_s":1,"drain_timeout_s":30,"probe_rounds":1},"load":{"rate_rps":50}%s,
	 "targets":{"regions":{"us-east":{"base_url":%q},"eu-west":{"base_url":%q}},
	   "router":{"kind":"lab","address":%q},"faults":%q,"sink":%q%s}}`,
		drill, extra, ep.Regions["us-east"], ep.Regions["eu-west"], strings.TrimPrefix(ep.Edge, "http://"), ep.Faults, ep.Sink, "")
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(path, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type reportSummary struct {
	Verdict    string `json:"verdict"`
	StopReason string `json:"stop_reason"`
	Writes     struct {
		Acknowledged, Lost, Duplicates, Indeterminate int
	} `json:"writes"`
}

func runPlanFile(t *testing.T, token, plan string) (int, reportSummary, string) {
	t.Helper()
	t.Setenv("REGIONDRILL_TOKEN", token)
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr strings.Builder
	code := cli.Run(context.Background(), []string{"run", plan, "--out", out}, strings.NewReader(""), &stdout, &stderr)
	var rep reportSummary
	b, _ := os.ReadFile(filepath.Join(out, "report.json"))
	_ = json.Unmarshal(b, &rep)
	t.Log(stdout.String())
	return code, rep, filepath.Join(out, "journal.jsonl")
}

// The lab's write path over an external nats-server (Debian's, with
// JetStream and a user and password) passes drill B's write ledger; without
// the credentials the lab does not start.
func TestDrillBOverExternalNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end drill")
	}
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	auth := natsauth.Credentials{User: "regions", Password: "ext-secret"}
	startProcess(t, addr, "nats-server", "-js", "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-sd", t.TempDir(), "--user", auth.User, "--pass", auth.Password)
	if l, err := lab.Start(context.Background(), lab.Config{Regions: []string{"us-east", "eu-west"}, NATSURL: "nats://" + addr}); err == nil {
		_ = l.Close()
		t.Fatal("the lab started on an authenticated nats-server without credentials")
	}
	l, err := lab.Start(context.Background(), lab.Config{Regions: []string{"us-east", "eu-west"}, Hysteresis: time.Second, NATSURL: "nats://" + addr, NATSAuth: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	code, rep, _ := runPlanFile(t, l.Endpoints().Token, labPlan(t, l.Endpoints(), "B", ""))
	if code != 0 || rep.Writes.Acknowledged == 0 || rep.Writes.Lost != 0 || rep.Writes.Duplicates != 0 {
		t.Fatalf("drill B over external NATS: exit %d, writes %+v", code, rep.Writes)
	}
}

// A stop condition written as PromQL against a real Prometheus scraping the
// lab trips the drill when a region fails, and the drill rolls back.
func TestPromQLStopConditionTrips(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end drill")
	}
	l, err := lab.Start(context.Background(), lab.Config{Regions: []string{"us-east", "eu-west"}, Hysteresis: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ep := l.Endpoints()
	var targets []string
	for _, r := range []string{"us-east", "eu-west"} {
		targets = append(targets, fmt.Sprintf("%q", strings.TrimPrefix(ep.Regions[r], "http://")))
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\nscrape_configs:\n  - job_name: regions\n    static_configs:\n      - targets: [%s]\n", strings.Join(targets, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startProcess(t, addr, "prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	// Wait until Prometheus has scraped both regions up.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/api/v1/query?query=count(up%7Bjob%3D%22regions%22%7D%3D%3D1)")
		if err == nil {
			var b struct {
				Data struct {
					Result []struct {
						Value []any `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&b)
			resp.Body.Close()
			if len(b.Data.Result) == 1 && b.Data.Result[0].Value[1] == "2" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus never saw both regions up")
		}
		time.Sleep(250 * time.Millisecond)
	}
	stop := fmt.Sprintf(`,"stop_conditions":[{"metric":"prometheus","query":"count(up{job=\"regions\"} == 0)","above":0,"for_s":0,"url":%q}]`, "http://"+addr)
	code, rep, journal := runPlanFile(t, ep.Token, labPlan(t, ep, "B", stop))
	if code != cli.ExitFail || !strings.HasPrefix(rep.StopReason, "prometheus") {
		t.Fatalf("exit %d, stop reason %q: the PromQL alarm did not stop the drill", code, rep.StopReason)
	}
	b, _ := os.ReadFile(journal)
	if !strings.Contains(string(b), `"type":"stop"`) || !strings.Contains(string(b), `"type":"undone"`) {
		t.Fatal("the journal shows no stop followed by a restore")
	}
}
