package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/cli"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/lab"
	"github.com/regiondrill/regiondrill/internal/lab/edge"
	"github.com/regiondrill/regiondrill/internal/lab/fault"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// asCLI makes the test binary run the regiondrill command line: the agents
// of the end-to-end test are separate `regiondrill agent` processes.
const asCLI = "REGIONDRILL_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// process is a child process of one test.
type process struct {
	cmd  *exec.Cmd
	args []string
	out  *strings.Builder
}

func spawn(t *testing.T, env []string, name string, args ...string) *process {
	t.Helper()
	p := &process{args: args, out: &strings.Builder{}}
	p.cmd = exec.Command(name, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = p.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = p.cmd.Process.Kill()
				<-done
			}
		}
	})
	return p
}

func waitListening(t *testing.T, addr string, p *process) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening: %v\n%s", addr, err, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cluster is three nats-server processes with JetStream, routed together.
type cluster struct {
	urls  []string
	nodes []*process
	bin   string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("nats-server not on PATH")
	}
	c := &cluster{bin: bin}
	var client, route []int
	for range 3 {
		client, route = append(client, freePort(t)), append(route, freePort(t))
	}
	for i := range 3 {
		var routes []string
		for j := range 3 {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", route[j]))
			}
		}
		args := []string{"-js", "-a", "127.0.0.1", "-p", fmt.Sprint(client[i]), "-sd", t.TempDir(),
			"--server_name", fmt.Sprintf("n%d", i+1), "--cluster_name", "rd",
			"--cluster", fmt.Sprintf("nats://127.0.0.1:%d", route[i]), "--routes", strings.Join(routes, ",")}
		c.nodes = append(c.nodes, spawn(t, nil, bin, args...))
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", client[i]))
	}
	for i, n := range c.nodes {
		waitListening(t, strings.TrimPrefix(c.urls[i], "nats://"), n)
	}
	return c
}

// restart stops node i gracefully and starts it again with its state.
func (c *cluster) restart(t *testing.T, i int, down time.Duration) {
	n := c.nodes[i]
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	_ = n.cmd.Wait()
	time.Sleep(down)
	c.nodes[i] = spawn(t, nil, c.bin, n.args...)
	waitListening(t, strings.TrimPrefix(c.urls[i], "nats://"), c.nodes[i])
}

// regionalEntry is an entry whose clients go to home and fail over to the
// other regions only when home leaves rotation (weights 100 to 1): what a
// regional hostname in front of a multi-region service does.
func regionalEntry(t *testing.T, ep lab.Endpoints, home string) string {
	t.Helper()
	var backends []edge.Backend
	weights := map[string]int{}
	for name, url := range ep.Regions {
		backends = append(backends, edge.Backend{Name: name, URL: url})
		weights[name] = 1
	}
	weights[home] = 100
	r, err := edge.New(edge.Config{Backends: backends, Mode: edge.ModeWeights, Weights: weights, Hysteresis: time.Second,
		Token: ep.Token, Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r.CheckNow(ctx)
	r.Start(ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); r.Close() })
	return "http://" + ln.Addr().String()
}

// behindLatency puts a toxiproxy adding latency in front of a URL: each
// vantage point is a different distance from the service.
func behindLatency(t *testing.T, in *fault.Injector, name, url string, d time.Duration) string {
	t.Helper()
	addr, err := in.AddProxy(name, strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Apply(fault.Spec{Kind: fault.Latency, Targets: []string{name}, Latency: d, Lease: time.Hour}); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

type vantageView struct {
	Name     string   `json:"name"`
	Requests int      `json:"requests"`
	Errors   int      `json:"errors"`
	CutoverS *float64 `json:"cutover_s"`
	Clock    float64  `json:"clock_offset_ms"`
	Verdict  string   `json:"verdict"`
	Reason   string   `json:"reason"`
}

type drillResult struct {
	code           int
	stdout, stderr string
	dir            string
	report         struct {
		Verdict  string        `json:"verdict"`
		Reason   string        `json:"reason"`
		Vantages []vantageView `json:"vantage_points"`
	}
}

func (d *drillResult) vantage(name string) vantageView {
	for _, v := range d.report.Vantages {
		if v.Name == name {
			return v
		}
	}
	return vantageView{}
}

// drillB runs drill B against the lab with the load from the agents; during
// calls at each given second after the start. Each of three vantage points
// sends 20 req/s: about 100 requests in the 5 s baseline window and more
// while the change holds, what its p95 target needs to be conclusive. The
// queue_backlog live check gets room: on a busy machine the lab's write
// queue can still hold a frozen promote's writes when it runs, and this
// test is about the agents, not the write path's drain.
func drillB(t *testing.T, ep lab.Endpoints, agents string, during map[time.Duration]func()) *drillResult {
	t.Helper()
	doc := fmt.Sprintf(`{"regions":["us-east","eu-west"],"evacuate":"us-east","promote_survivor":"eu-west","drills":["B"],
	 "routing":{"mode":"latency","stick_minutes":15,"hysteresis_s":1},
	 "phases":{"baseline_s":10,"hold_s":6,"step_hold_s":1,"drain_timeout_s":20,"probe_rounds":1},"load":{"rate_rps":60},
	 "thresholds":{"queue_backlog_max":1000},
	 "targets":{"regions":{"us-east":{"base_url":%q},"eu-west":{"base_url":%q}},
	   "router":{"kind":"lab","address":%q},"faults":%q,"sink":%q},
	 "agents":%s}`, ep.Regions["us-east"], ep.Regions["eu-west"], strings.TrimPrefix(ep.Edge, "http://"), ep.Faults, ep.Sink, agents)
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REGIONDRILL_TOKEN", ep.Token)
	for at, f := range during {
		time.AfterFunc(at, f)
	}
	d := &drillResult{dir: filepath.Join(dir, "out")}
	var stdout, stderr strings.Builder
	d.code = cli.Run(context.Background(), []string{"run", path, "--out", d.dir}, strings.NewReader(""), &stdout, &stderr)
	d.stdout, d.stderr = stdout.String(), stderr.String()
	b, err := os.ReadFile(filepath.Join(d.dir, "report.json"))
	if err != nil {
		t.Fatalf("no report: %v\n%s\n%s", err, d.stdout, d.stderr)
	}
	if err := json.Unmarshal(b, &d.report); err != nil {
		t.Fatal(err)
	}
	t.Log(d.stdout)
	return d
}

// Three agents, each a `regiondrill agent` process behind its own latency,
// on a three-node nats-server cluster, send drill B's load to the lab: the
// one whose entry prefers the evacuated region sees the cutover, the two
// that enter through the survivor see none; a node restarted mid-drill
// loses no record. Then an agent killed mid-drill makes its vantage
// inconclusive and the run exit 1, the others still judged.
func TestThreeAgentsDrillB(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end drill")
	}
	nc := startCluster(t)
	l, err := lab.Start(context.Background(), lab.Config{Regions: []string{"us-east", "eu-west"}, Hysteresis: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	ep := l.Endpoints()
	in := fault.New(nil, time.Now)
	t.Cleanup(func() { _ = in.Close() })
	entries := map[string]string{
		"us": behindLatency(t, in, "to-us", regionalEntry(t, ep, "us-east"), 5*time.Millisecond),
		"eu": behindLatency(t, in, "to-eu", ep.Regions["eu-west"], 10*time.Millisecond),
		"ap": behindLatency(t, in, "to-ap", ep.Regions["eu-west"], 40*time.Millisecond),
	}
	skews := map[string]string{"us": "0s", "eu": "-250ms", "ap": "250ms"}
	procs := map[string]*process{}
	for i, name := range []string{"us", "eu", "ap"} {
		procs[name] = spawn(t, []string{asCLI + "=1"}, os.Args[0], "agent", "--nats", nc.urls[i], "--name", name,
			"--clock-skew", skews[name], "--heartbeat", "250ms")
	}
	agents := func(min int) string {
		return fmt.Sprintf(`{"nats_url":%q,"min_agents":%d,"lease_s":3,"wait_s":20,"heartbeat_lost_s":2,"vantage_points":[
		  {"name":"us","share":0.34,"entry":%q},{"name":"eu","share":0.33,"entry":%q},{"name":"ap","share":0.33,"entry":%q}]}`,
			strings.Join(nc.urls, ","), min, entries["us"], entries["eu"], entries["ap"])
	}

	t.Run("drill B passes, the cutover only where it was", func(t *testing.T) {
		d := drillB(t, ep, agents(3), map[time.Duration]func(){
			19 * time.Second: func() { nc.restart(t, 1, 300*time.Millisecond) }, // eu's node, while the region is out
		})
		if d.code != cli.ExitPass || d.report.Verdict != string(verdict.Pass) {
			t.Fatalf("exit %d, verdict %s (%s)\n%s", d.code, d.report.Verdict, d.report.Reason, d.stderr)
		}
		us, eu, ap := d.vantage("us"), d.vantage("eu"), d.vantage("ap")
		if us.CutoverS == nil || *us.CutoverS <= 0 {
			t.Errorf("us entered through the evacuated region and shows no cutover: %+v", us)
		}
		for _, v := range []vantageView{eu, ap} {
			if v.CutoverS == nil || *v.CutoverS != 0 || v.Errors != 0 {
				t.Errorf("%s entered through the survivor and shows a cutover or errors: %+v", v.Name, v)
			}
		}
		for _, v := range d.report.Vantages {
			want := map[string]float64{"us": 0, "eu": -250, "ap": 250}[v.Name]
			if v.Requests < 100 || v.Clock-want > 5 || want-v.Clock > 5 {
				t.Errorf("%s: %d requests, clock offset %.3f ms (true %v ms)", v.Name, v.Requests, v.Clock, want)
			}
		}
		jpath := filepath.Join(d.dir, "journal.jsonl")
		if lost := notes[event.AgentLost](t, jpath, journal.AgentsLost); len(lost) > 0 {
			t.Errorf("agents lost over a node restart: %+v", lost)
		}
		for _, e := range notes[event.AgentEnd](t, jpath, journal.AgentsEnd) {
			if e.Records == 0 || e.Received != e.Records || e.Reason != event.EndStopped {
				t.Errorf("%s: sent %d records, journaled %d, ended %s", e.Vantage, e.Records, e.Received, e.Reason)
			}
		}
	})

	t.Run("an agent killed mid-drill is inconclusive", func(t *testing.T) {
		d := drillB(t, ep, agents(2), map[time.Duration]func(){
			15 * time.Second: func() { _ = procs["ap"].cmd.Process.Kill() },
		})
		ap := d.vantage("ap")
		if d.code != cli.ExitFail || !strings.HasPrefix(ap.Reason, "inconclusive: agent lost") ||
			!strings.Contains(d.stdout, "vantage ap inconclusive") {
			t.Fatalf("exit %d, ap %+v\n%s", d.code, ap, d.stderr)
		}
		for _, name := range []string{"us", "eu"} {
			if v := d.vantage(name); v.Verdict != string(verdict.Pass) {
				t.Errorf("%s was not judged on its own: %+v", name, v)
			}
		}
	})
}
