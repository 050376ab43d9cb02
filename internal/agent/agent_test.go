package agent_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/regiondrill/regiondrill/internal/agent"
	"github.com/regiondrill/regiondrill/internal/cli"
	"github.com/regiondrill/regiondrill/internal/drill"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// natsServer runs an in-process JetStream server on loopback for one test
// (internal/agent/server_test.go).
var (
	natsServer = agent.NATSServerForTest
	freePort   = agent.FreePortForTest
)

// startAgent runs an agent in-process until the test ends (or stop is
// called) and waits until it listens.
func startAgent(t *testing.T, url, name string, skew time.Duration, auth agent.Auth) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	cfg := agent.Config{URL: url, Name: name, Auth: auth, Heartbeat: 200 * time.Millisecond,
		Ready: func() { close(ready) }}
	if skew != 0 {
		cfg.Clock = func() time.Time { return time.Now().Add(skew) }
	}
	go func() { done <- agent.Run(ctx, cfg) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("agent %s: %v", name, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("agent %s not ready", name)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent %s: %v", name, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// agentsPlan is a plan whose load comes from the named agents, equal
// shares; opts are more fields of its agents block.
func agentsPlan(t *testing.T, url, opts string, names ...string) *plan.Plan {
	t.Helper()
	var vps []string
	for _, n := range names {
		vps = append(vps, fmt.Sprintf(`{"name": %q, "share": %g}`, n, 1/float64(len(names))))
	}
	doc := fmt.Sprintf(`{"regions": ["us-east", "eu-west"], "evacuate": "us-east",
	 "agents": {"nats_url": %q, %s "vantage_points": [%s]}}`, url, opts, strings.Join(vps, ","))
	p, err := plan.Parse([]byte(doc), "plan.json")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// counter is a target that answers every request and counts them.
type counter struct {
	srv  *httptest.Server
	hits atomic.Int64
	last atomic.Int64 // Unix ns of the last request
}

func newCounter(t *testing.T) *counter {
	c := &counter{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c.hits.Add(1)
		c.last.Store(time.Now().UnixNano())
		w.Header().Set("X-Region", "us-east")
		if r.URL.Path == "/token" {
			_, _ = w.Write([]byte(`{"token":"t"}`))
			return
		}
		_, _ = w.Write([]byte(`{"answer":"ok"}`))
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// coordinated is a coordinator running the load of a plan as a drill's
// Traffic, with its journal.
type coordinated struct {
	c       *agent.Coordinator
	journal string
	stop    func()      // ends the load the way the engine does
	done    chan error  // Run's result
	stops   chan string // stop conditions the coordinator tripped
}

func runCoordinator(t *testing.T, p *plan.Plan, target string, rate float64) *coordinated {
	t.Helper()
	return runCoordinatorWith(t, p, load.Config{URL: target, Rate: rate, Duration: time.Hour, Sessions: 4, WriteRatio: 0,
		Timeout: time.Second, Seed: 7})
}

// runCoordinatorWith is runCoordinator with the whole base load config.
func runCoordinatorWith(t *testing.T, p *plan.Plan, base load.Config) *coordinated {
	t.Helper()
	c, err := agent.Dial(p, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if _, err := c.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := journal.Create(path, time.Now(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	co := &coordinated{c: c, journal: path, stop: cancel, done: make(chan error, 1), stops: make(chan string, 4)}
	env := drill.TrafficEnv{
		Base:    base,
		Journal: j,
		Stop:    func(_ event.Stop, why string) { co.stops <- why },
	}
	go func() { co.done <- c.Run(ctx, env) }()
	return co
}

// notes reads the coordinator's events of one type from a journal.
func notes[T any](t *testing.T, path string, typ journal.Type) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	err = journal.Scan(f, func(ev journal.Event) error {
		if ev.Type != typ {
			return nil
		}
		var v T
		if err := ev.Decode(&v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// records reads the merged records of a journal by vantage index.
func records(t *testing.T, path string) map[int][]load.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int][]load.Record{}
	err = journal.Scan(f, func(ev journal.Event) error {
		if ev.Type != journal.Records {
			return nil
		}
		var b load.Batch
		if err := ev.Decode(&b); err != nil {
			return err
		}
		for _, r := range b {
			out[event.VantageOf(r.Seq)] = append(out[event.VantageOf(r.Seq)], r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Agents whose clocks run 250 ms ahead and behind are measured to within
// 5 ms on loopback, and their records land on the coordinator's timeline:
// each vantage's first request is due at the load's start, not 250 ms off.
func TestClockOffsetCorrected(t *testing.T) {
	s := natsServer(t, nil)
	startAgent(t, s.ClientURL(), "ahead", 250*time.Millisecond, agent.Auth{})
	startAgent(t, s.ClientURL(), "behind", -250*time.Millisecond, agent.Auth{})
	p := agentsPlan(t, s.ClientURL(), "", "ahead", "behind")
	target := newCounter(t)
	co := runCoordinator(t, p, target.srv.URL, 40)
	time.Sleep(1500 * time.Millisecond)
	co.stop()
	if err := <-co.done; err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"ahead": 250 * time.Millisecond, "behind": -250 * time.Millisecond}
	vs := notes[[]event.Vantage](t, co.journal, journal.AgentsVantages)
	if len(vs) != 1 || len(vs[0]) != 2 {
		t.Fatalf("vantages note: %+v", vs)
	}
	for _, v := range vs[0] {
		if !v.Assigned || v.Clock == nil {
			t.Fatalf("%s not assigned: %+v", v.Name, v)
		}
		if e := time.Duration(v.Clock.OffsetNS) - want[v.Name]; e.Abs() > 5*time.Millisecond {
			t.Errorf("%s: offset %v measured, true %v: error %v > 5 ms", v.Name, time.Duration(v.Clock.OffsetNS), want[v.Name], e)
		}
	}
	after := notes[event.AgentsClock](t, co.journal, journal.AgentsClock)
	if len(after) != 1 || len(after[0].Offsets) != 2 {
		t.Fatalf("no clock measured after the load: %+v", after)
	}
	for name, o := range after[0].Offsets {
		if e := time.Duration(o.OffsetNS) - want[name]; e.Abs() > 5*time.Millisecond {
			t.Errorf("%s after the load: error %v > 5 ms", name, e)
		}
	}
	// Corrected: each vantage's schedule starts at the load's start on the
	// coordinator's clock (the agent may start a little late on a busy
	// machine, never 250 ms early or late).
	recs := records(t, co.journal)
	for i, v := range vs[0] {
		first := int64(1 << 62)
		for _, r := range recs[i+1] {
			first = min(first, r.Sched)
		}
		t.Logf("%s: first request due %v after the load start; offset measured %v ± %v", v.Name, time.Duration(first), time.Duration(v.Clock.OffsetNS), time.Duration(v.Clock.DelayNS/2))
		if len(recs[i+1]) == 0 || first < -5e6 || first > 100e6 {
			t.Errorf("%s: first request due at %v on the drill's timeline, want within [-5ms, 100ms] of the load start (%d records)",
				v.Name, time.Duration(first), len(recs[i+1]))
		}
	}
}

// The session life reaches the agent: its sessions end and new ones, with
// numbers of their own, take their place.
func TestAgentSessionsChurn(t *testing.T) {
	s := natsServer(t, nil)
	startAgent(t, s.ClientURL(), "a", 0, agent.Auth{})
	p := agentsPlan(t, s.ClientURL(), "", "a")
	target := newCounter(t)
	co := runCoordinatorWith(t, p, load.Config{URL: target.srv.URL, Rate: 50, Duration: time.Hour, Sessions: 2,
		SessionLife: 200 * time.Millisecond, Timeout: time.Second, Seed: 7})
	time.Sleep(1500 * time.Millisecond)
	co.stop()
	if err := <-co.done; err != nil {
		t.Fatal(err)
	}
	sessions, tokens := map[uint32]bool{}, 0
	for _, r := range records(t, co.journal)[1] {
		if r.Session>>agent.SessionShift != 1 {
			t.Fatalf("record of vantage 1 with session %#x", r.Session)
		}
		sessions[r.Session] = true
		if r.Kind == load.KindToken {
			tokens++
		}
	}
	// About a second of load with a 200 ms life: each of the 2 slots turns
	// over several times.
	if len(sessions) <= 4 || tokens != len(sessions) {
		t.Fatalf("the agent ran %d sessions with %d token fetches; want more than 4, one fetch each", len(sessions), tokens)
	}
}

// The dead man's switch: a coordinator that dies mid-drill (its NATS
// connection gone, no stop sent) leaves no agent loading the target for
// longer than the lease.
func TestCoordinatorDeathStopsAgents(t *testing.T) {
	s := natsServer(t, nil)
	for _, n := range []string{"a1", "a2"} {
		startAgent(t, s.ClientURL(), n, 0, agent.Auth{})
	}
	p := agentsPlan(t, s.ClientURL(), `"lease_s": 1,`, "a1", "a2")
	target := newCounter(t)
	co := runCoordinator(t, p, target.srv.URL, 100)
	deadline := time.Now().Add(10 * time.Second)
	for target.hits.Load() < 50 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if target.hits.Load() < 50 {
		t.Fatalf("the agents never loaded the target: %d requests", target.hits.Load())
	}
	co.c.Close() // the coordinator dies: no stop, no renewal
	died := time.Now()
	time.Sleep(2500 * time.Millisecond)
	last := time.Unix(0, target.last.Load())
	if after := last.Sub(died); after > time.Second+300*time.Millisecond {
		t.Fatalf("an agent kept loading %v after the coordinator died; the lease is 1 s", after)
	}
	if after := last.Sub(died); after < 500*time.Millisecond {
		t.Logf("load stopped %v after the coordinator died (expected about the 1 s lease)", after)
	}
	co.stop()
	<-co.done
	// Both agents are idle again and take the next drill.
	watcher, err := agent.Dial(p, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	if live, err := watcher.Prepare(context.Background()); err != nil || len(live) != 2 {
		t.Fatalf("agents not ready for the next drill: %v %v", live, err)
	}
}

// Wrong credentials: the agent refuses to start with a clear error (exit 2
// from the command line), never heartbeats, and the coordinator, which
// only assigns work to agents it hears, refuses the run.
func TestWrongCredentialsRefused(t *testing.T) {
	s := natsServer(t, &server.Options{Username: "drill", Password: "right"})
	err := agent.Run(context.Background(), agent.Config{URL: s.ClientURL(), Name: "eu", Auth: agent.Auth{User: "drill", Password: "wrong"}})
	if !errors.Is(err, agent.ErrAuth) {
		t.Fatalf("agent with a wrong password: %v, want ErrAuth", err)
	}
	t.Setenv(agent.EnvUser, "drill")
	t.Setenv(agent.EnvPassword, "wrong")
	var stdout, stderr strings.Builder
	code := cli.Run(context.Background(), []string{"agent", "--nats", s.ClientURL(), "--name", "eu"}, strings.NewReader(""), &stdout, &stderr)
	if code != cli.ExitInvalid || !strings.Contains(stderr.String(), "refused these credentials") {
		t.Fatalf("regiondrill agent with a wrong password: exit %d, stderr %q", code, stderr.String())
	}
	t.Setenv(agent.EnvPassword, "right")
	startAgent(t, s.ClientURL(), "us", 0, agent.Auth{}.FromEnv(""))
	p := agentsPlan(t, s.ClientURL(), `"wait_s": 1,`, "us", "eu")
	c, err := agent.Dial(p, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	live, err := c.Prepare(context.Background())
	if !errors.Is(err, agent.ErrTooFewAgents) || len(live) != 1 || !strings.Contains(err.Error(), "eu (no heartbeat)") {
		t.Fatalf("coordinator with one agent refused: live %v, err %v", live, err)
	}
}

// A NATS server restarted while the agents stream loses no record: every
// vantage's journal holds each record it sent exactly once.
func TestNATSRestartLosesNoRecord(t *testing.T) {
	opts := &server.Options{Port: freePort(t), StoreDir: t.TempDir()}
	s := natsServer(t, opts)
	for _, n := range []string{"a1", "a2"} {
		startAgent(t, s.ClientURL(), n, 0, agent.Auth{})
	}
	p := agentsPlan(t, s.ClientURL(), `"heartbeat_lost_s": 4,`, "a1", "a2")
	target := newCounter(t)
	co := runCoordinator(t, p, target.srv.URL, 200)
	time.Sleep(1200 * time.Millisecond)
	s.Shutdown()
	s.WaitForShutdown()
	time.Sleep(500 * time.Millisecond)
	s2 := natsServer(t, &server.Options{Port: opts.Port, StoreDir: opts.StoreDir})
	_ = s2
	time.Sleep(1500 * time.Millisecond)
	co.stop()
	stopped := time.Now()
	if err := <-co.done; err != nil {
		t.Fatal(err)
	}
	t.Logf("the coordinator returned %v after the stop", time.Since(stopped))
	select {
	case why := <-co.stops:
		t.Fatalf("the restart tripped the drill: %s", why)
	default:
	}
	ends := notes[event.AgentEnd](t, co.journal, journal.AgentsEnd)
	if len(ends) != 2 {
		t.Fatalf("ends: %+v", ends)
	}
	if lost := notes[event.AgentLost](t, co.journal, journal.AgentsLost); len(lost) > 0 {
		t.Fatalf("an agent was declared lost over a server restart: %+v", lost)
	}
	recs := records(t, co.journal)
	for _, e := range ends {
		i := 1
		if e.Vantage == "a2" {
			i = 2
		}
		seen := map[uint64]int{}
		for _, r := range recs[i] {
			seen[r.Seq&(1<<event.VantageShift-1)]++
		}
		if e.Records == 0 || uint64(len(recs[i])) != e.Records || e.Received != e.Records {
			t.Errorf("%s: sent %d records, journal holds %d (received %d)", e.Vantage, e.Records, len(recs[i]), e.Received)
		}
		for seq, n := range seen {
			if n != 1 {
				t.Errorf("%s: record %d journaled %d times", e.Vantage, seq, n)
			}
		}
	}
}
