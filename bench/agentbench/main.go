// Command agentbench measures the agents (internal/agent) and prints one
// JSON line per measurement:
//
//   - throughput: the most one `regiondrill agent` process sends against a
//     URL while it streams every record through NATS JetStream to the
//     coordinator, which journals them (to compare with loadbench alone);
//   - merge: how long the coordinator takes to merge and journal 1,000,000
//     records streamed by four agents (synthetic agents publishing
//     pre-built batches as fast as JetStream takes them);
//   - clock: the error of the clock offsets measured over NATS for agents
//     whose clocks are shifted by known amounts, on loopback.
//
// Each run starts its own JetStream server on 127.0.0.1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/regiondrill/regiondrill/internal/agent"
	"github.com/regiondrill/regiondrill/internal/drill"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/plan"
)

func main() {
	mode := flag.String("mode", "throughput", "throughput, merge or clock")
	url := flag.String("url", "", "throughput: base URL of the target (loopback)")
	rate := flag.Float64("rate", 200000, "throughput: target requests per second")
	dur := flag.Duration("duration", 5*time.Second, "throughput: length of the schedule")
	workers := flag.Int("workers", 32, "throughput: cap on concurrent requests")
	minWorkers := flag.Int("min-workers", 0, "throughput: workers the agent starts before its first request")
	agentCmd := flag.String("agent", "", "throughput: command line that starts the agent, {url} replaced by the NATS URL")
	records := flag.Int("records", 1_000_000, "merge: records in all")
	agents := flag.Int("agents", 4, "merge and clock: agents")
	reps := flag.Int("reps", 5, "clock: measurements per agent")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	var err error
	switch *mode {
	case "throughput":
		err = throughput(*url, *rate, *dur, *workers, *minWorkers, *agentCmd)
	case "merge":
		err = merge(*records, *agents)
	case "clock":
		err = clock(*agents, *reps)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "agentbench:", err)
		os.Exit(1)
	}
}

func startNATS() (*server.Server, string, error) {
	dir, err := os.MkdirTemp("", "agentbench-")
	if err != nil {
		return nil, "", err
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		return nil, "", err
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		return nil, "", errors.New("nats server not ready")
	}
	return s, dir, nil
}

func benchPlan(url string, names []string) (*plan.Plan, error) {
	var vps []string
	for _, n := range names {
		vps = append(vps, fmt.Sprintf(`{"name":%q,"share":%s}`, n, strconv.FormatFloat(1/float64(len(names)), 'g', -1, 64)))
	}
	// Shares of 1/3 do not sum to exactly 1 in floating point; validation allows 1e-6.
	return plan.Parse([]byte(fmt.Sprintf(`{"regions":["a","b"],"evacuate":"a",
	 "agents":{"nats_url":%q,"wait_s":20,"lease_s":10,"heartbeat_lost_s":10,"vantage_points":[%s]}}`, url, strings.Join(vps, ","))), "bench.json")
}

// drive runs the coordinator's Run as a drill would for the duration given
// (or until stop returns) and returns the journal path and the coordinator.
func drive(p *plan.Plan, base load.Config, stop func()) (*agent.Coordinator, string, time.Duration, error) {
	c, err := agent.Dial(p, time.Now, nil)
	if err != nil {
		return nil, "", 0, err
	}
	if _, err := c.Prepare(context.Background()); err != nil {
		c.Close()
		return nil, "", 0, err
	}
	dir, err := os.MkdirTemp("", "agentbench-journal-")
	if err != nil {
		return nil, "", 0, err
	}
	path := filepath.Join(dir, "journal.jsonl")
	j, err := journal.Create(path, time.Now(), time.Now)
	if err != nil {
		return nil, "", 0, err
	}
	defer j.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	t0 := time.Now()
	go func() {
		done <- c.Run(ctx, drill.TrafficEnv{Base: base, Journal: j, Stop: func(_ event.Stop, why string) {
			fmt.Fprintln(os.Stderr, "agentbench: stop condition:", why)
		}})
	}()
	stop()
	cancel()
	err = <-done
	return c, path, time.Since(t0), err
}

func throughput(url string, rate float64, dur time.Duration, workers, minWorkers int, agentCmd string) error {
	if url == "" || agentCmd == "" {
		return errors.New("throughput needs -url and -agent")
	}
	s, dir, err := startNATS()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer s.Shutdown()
	argv := strings.Fields(strings.ReplaceAll(agentCmd, "{url}", s.ClientURL()))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	p, err := benchPlan(s.ClientURL(), []string{"a1"})
	if err != nil {
		return err
	}
	base := load.Config{URL: url, Rate: rate, Duration: dur, Sessions: 32, MaxWorkers: workers, MinWorkers: minWorkers, Timeout: 5 * time.Second, Seed: 1}
	// The agent's CPU is counted from when it is up and idle, as loadbench's
	// would be from its first request.
	if err := waitHeard(p); err != nil {
		return err
	}
	cpu0 := cpuTicks(cmd.Process.Pid)
	c, path, _, err := drive(p, base, func() { time.Sleep(dur + time.Second) }) // +1 s: the start lead and the grace
	if err != nil {
		return err
	}
	cpu := float64(cpuTicks(cmd.Process.Pid)-cpu0) / 100 // USER_HZ is 100 on Linux
	defer c.Close()
	defer os.RemoveAll(filepath.Dir(path))
	ok, failed := 0, 0
	first, last := int64(math.MaxInt64), int64(0)
	for _, r := range c.Records() {
		switch {
		case r.Kind == load.KindToken:
		case r.Err == load.ErrNone && r.Status/100 == 2:
			ok++
			first, last = min(first, r.Start), max(last, r.Start)
		default:
			failed++
		}
	}
	sum, err := agentSummary(path)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"ok": ok, "failed": failed, "ok_per_s": float64(ok) / dur.Seconds(),
		"sent_span_s": float64(last-first) / 1e9, "workers": sum.Workers, "completed": sum.Completed,
		"agent_cpu_s": cpu, "agent_cpu_us_per_req": cpu * 1e6 / float64(max(ok, 1))})
}

// agentSummary reads, from the journal, the agent generator's own account
// (how many requests it completed, how many workers it ended with).
func agentSummary(path string) (load.Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return load.Summary{}, err
	}
	defer f.Close()
	var sum load.Summary
	err = journal.Scan(f, func(e journal.Event) error {
		var end event.AgentEnd
		if e.Type != journal.AgentsEnd {
			return nil
		}
		if err := e.Decode(&end); err != nil {
			return err
		}
		if end.Summary != nil {
			sum = *end.Summary
		}
		return nil
	})
	return sum, err
}

// waitHeard returns once the plan's agents heartbeat.
func waitHeard(p *plan.Plan) error {
	c, err := agent.Dial(p, time.Now, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Prepare(context.Background())
	return err
}

// cpuTicks is a process's user and system CPU time in clock ticks.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:])) // fields from the third on
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// fakeAgent answers like an agent and, once assigned, publishes n records
// in batches of 2048 as fast as JetStream acknowledges them.
func fakeAgent(nc *nats.Conn, js jetstream.JetStream, name string, n int, published chan<- error) error {
	hb, _ := json.Marshal(agent.Heartbeat{Name: name, Instance: name, State: agent.StateIdle, Version: "bench"})
	if _, err := nc.Subscribe(agent.ClockSubject(name), func(m *nats.Msg) {
		now := time.Now().UnixNano()
		b, _ := json.Marshal(agent.ClockReply{RecvNS: now, SendNS: now})
		_ = m.Respond(b)
	}); err != nil {
		return err
	}
	_, err := nc.Subscribe(agent.AssignSubject(name), func(m *nats.Msg) {
		var asg agent.Assignment
		if err := json.Unmarshal(m.Data, &asg); err != nil {
			published <- err
			return
		}
		b, _ := json.Marshal(agent.AssignReply{Accepted: true})
		_ = m.Respond(b)
		go func() { published <- publishRecords(js, asg, n) }()
	})
	if err != nil {
		return err
	}
	go func() {
		for {
			if nc.Publish(agent.HeartbeatSubject(name), hb) != nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	return nc.Flush()
}

func publishRecords(js jetstream.JetStream, asg agent.Assignment, n int) error {
	seq := 0
	send := func(kind string, hdr map[string]string, body []byte) (jetstream.PubAckFuture, error) {
		seq++
		m := nats.NewMsg(asg.Subject)
		m.Data = body
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s-%s-%d", asg.Run, asg.Vantage, seq))
		m.Header.Set(agent.KindHeader, kind)
		for k, v := range hdr {
			m.Header.Set(k, v)
		}
		return js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute))
	}
	start, _ := json.Marshal(agent.Start{StartedNS: asg.StartNS})
	if _, err := send(agent.KindStart, nil, start); err != nil {
		return err
	}
	table := `["","us-east","eu-west"]`
	batch := make(load.Batch, 2048)
	for i := 0; i < n; i += len(batch) {
		b := batch[:min(len(batch), n-i)]
		for k := range b {
			at := int64(i+k) * int64(time.Second) / 50000
			b[k] = load.Record{Seq: uint64(i + k), Sched: at, Start: at, End: at + 2e7, Kind: load.KindAsk, Status: 200, Region: uint8(1 + k%2)}
		}
		body, _ := b.MarshalJSON()
		if _, err := send(agent.KindRecords, map[string]string{agent.RegionsHdr: table}, body); err != nil {
			return err
		}
	}
	end, _ := json.Marshal(event.VantageEnd{Reason: event.EndStopped, Records: uint64(n), Batches: uint64((n + 2047) / 2048)})
	if _, err := send(agent.KindEnd, nil, end); err != nil {
		return err
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-time.After(2 * time.Minute):
		return errors.New("publishing did not complete")
	}
}

// merge times the coordinator journaling n records from the given number of
// agents: from its first record journaled to the last agent's end.
func merge(n, agents int) error {
	s, dir, err := startNATS()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer s.Shutdown()
	var names []string
	published := make(chan error, agents)
	for i := range agents {
		name := fmt.Sprintf("a%d", i+1)
		names = append(names, name)
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(64))
		if err != nil {
			return err
		}
		if err := fakeAgent(nc, js, name, n/agents, published); err != nil {
			return err
		}
	}
	p, err := benchPlan(s.ClientURL(), names)
	if err != nil {
		return err
	}
	base := load.Config{URL: "http://127.0.0.1:9", Rate: 1, Duration: time.Hour, Sessions: 1, Timeout: time.Second, Seed: 1}
	var perr error
	c, path, wall, err := drive(p, base, func() {
		for range agents {
			perr = errors.Join(perr, <-published)
		}
	})
	if err != nil || perr != nil {
		return errors.Join(err, perr)
	}
	defer c.Close()
	defer os.RemoveAll(filepath.Dir(path))
	first, last, got, err := journalSpan(path)
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("journaled %d records of %d", got, n)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"records": got, "agents": agents,
		"merge_s": float64(last-first) / 1000, "run_s": wall.Seconds()})
}

// journalSpan is the journal time of the first records event and of the
// last agents_end note, and the records journaled.
func journalSpan(path string) (first, last int64, n int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	first = -1
	err = journal.Scan(f, func(ev journal.Event) error {
		switch {
		case ev.Type == journal.Records:
			var b load.Batch
			if err := ev.Decode(&b); err != nil {
				return err
			}
			n += len(b)
			if first < 0 {
				first = ev.At
			}
		case ev.Type == journal.AgentsEnd:
			last = ev.At
		}
		return nil
	})
	return first, last, n, err
}

// clock measures agents with known clock shifts, reps times each, and
// reports the errors.
func clock(agents, reps int) error {
	s, dir, err := startNATS()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer s.Shutdown()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	skews := map[string]time.Duration{}
	var names []string
	for i := range agents {
		name := fmt.Sprintf("c%d", i+1)
		skew := time.Duration((i%2)*2-1) * time.Duration(250/(1+i/2)) * time.Millisecond // ±250, ±125, ...
		skews[name] = skew
		names = append(names, name)
		ready := make(chan struct{})
		go func() {
			_ = agent.Run(ctx, agent.Config{URL: s.ClientURL(), Name: name, Heartbeat: 200 * time.Millisecond,
				Clock: func() time.Time { return time.Now().Add(skew) }, Ready: func() { close(ready) }})
		}()
		<-ready
	}
	p, err := benchPlan(s.ClientURL(), names)
	if err != nil {
		return err
	}
	c, err := agent.Dial(p, time.Now, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Prepare(ctx); err != nil {
		return err
	}
	var errsMS []float64
	for range reps {
		offs, errs := c.Offsets(ctx, names)
		if len(errs) > 0 {
			return fmt.Errorf("clock: %v", errs)
		}
		for name, o := range offs {
			errsMS = append(errsMS, math.Abs(float64(time.Duration(o.OffsetNS)-skews[name]))/1e6)
		}
	}
	slices.Sort(errsMS)
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"samples": len(errsMS),
		"median_error_ms": errsMS[len(errsMS)/2], "max_error_ms": errsMS[len(errsMS)-1]})
}
