package agent

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/regiondrill/regiondrill/internal/drill"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// ErrTooFewAgents refuses a run whose live agents are fewer than min_agents.
var ErrTooFewAgents = errors.New("too few agents")

// Coordinator is the drill's side of the agents: it sees their heartbeats,
// measures their clocks, assigns each vantage point its share of the load,
// keeps their lease alive and journals what they stream. It is the drill
// engine's Traffic when the plan has agents.
type Coordinator struct {
	ag    *plan.Agents
	nc    *nats.Conn
	js    jetstream.JetStream
	clock func() time.Time
	log   *slog.Logger
	run   string

	mu          sync.Mutex
	seen        map[string]seenAgent
	connected   bool
	connectedAt time.Time // last (re)connection: silence before it is ours, not the agents'

	// Set by Run.
	j        *journal.Writer
	vps      []*vantage
	byName   map[string]*vantage
	regions  *regionIndex
	batches  []load.Batch // the merged records, batch by batch as they arrived
	nrecs    int
	appends  sync.WaitGroup // journal appends of record batches in flight
	appendCh chan struct{}  // bounds them to GOMAXPROCS
	appendMu sync.Mutex
	appendEr error
	writes   map[string]load.WriteAttempt
	keys     []string // write keys in the order first seen
	loadNS   int64    // the load's start instant, coordinator clock, Unix ns
	changed  chan struct{}
	stopping bool
}

type seenAgent struct {
	hb Heartbeat
	at time.Time // when heard, by the coordinator's (monotonic) clock
}

// vantage is one vantage point during a run.
type vantage struct {
	index    int // 1-based, in plan order: Seq's top bits
	vp       plan.VantagePoint
	instance string
	version  string
	offset   event.ClockOffset
	assigned bool
	why      string // why it has no result, when lost or never assigned
	shift    int64  // ns added to its record times
	started  bool
	ended    bool
	lost     bool
	lastHB   time.Time
	received uint64
	batches  uint64
}

// AgentInfo is what the coordinator knows about one agent, for people.
type AgentInfo struct {
	Name     string        `json:"name"`
	Version  string        `json:"version"`
	State    string        `json:"state"`
	Run      string        `json:"run,omitempty"`
	Instance string        `json:"instance"`
	Age      time.Duration `json:"age"` // since its last heartbeat
}

// Dial connects the coordinator to the plan's NATS and starts listening for
// heartbeats.
func Dial(p *plan.Plan, clock func() time.Time, logger *slog.Logger) (*Coordinator, error) {
	if p.Agents == nil {
		return nil, errors.New("agent: the plan has no agents")
	}
	if clock == nil {
		clock = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	c := &Coordinator{ag: p.Agents, clock: clock, log: logger, run: "r" + hex.EncodeToString(b),
		seen: map[string]seenAgent{}, connected: true, connectedAt: time.Now(), changed: make(chan struct{}, 1)}
	a := p.Agents
	auth := Auth{Creds: a.Creds, NKey: a.NKey, TLSCA: a.TLSCA}.FromEnv(a.TokenEnv)
	if a.TokenEnv != "" && auth.Token == "" {
		return nil, fmt.Errorf("agents.token_env: %s is not set", a.TokenEnv)
	}
	nc, err := Connect(a.NATSURL, "regiondrill coordinator", auth,
		nats.DisconnectErrHandler(func(*nats.Conn, error) { c.setConnected(false) }),
		nats.ReconnectHandler(func(*nats.Conn) { c.setConnected(true) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { c.log.Error("nats refused", "err", err) }))
	if err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("agents: jetstream: %w", err)
	}
	if _, err := nc.Subscribe(HeartbeatWildcard, c.onHeartbeat); err != nil {
		nc.Close()
		return nil, fmt.Errorf("agents: %w", err)
	}
	return c, nil
}

// Close disconnects.
func (c *Coordinator) Close() { c.nc.Close() }

// RunID names this run's subjects and stream.
func (c *Coordinator) RunID() string { return c.run }

func (c *Coordinator) setConnected(up bool) {
	c.mu.Lock()
	c.connected = up
	if up {
		c.connectedAt = time.Now()
	}
	c.mu.Unlock()
}

func (c *Coordinator) onHeartbeat(m *nats.Msg) {
	var hb Heartbeat
	if json.Unmarshal(m.Data, &hb) != nil || hb.Name == "" || HeartbeatSubject(hb.Name) != m.Subject {
		return // only an agent's own subject speaks for it
	}
	now := time.Now()
	c.mu.Lock()
	c.seen[hb.Name] = seenAgent{hb: hb, at: now}
	if v := c.byName[hb.Name]; v != nil && hb.Instance == v.instance {
		v.lastHB = now
	}
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// Agents lists the agents heard from, by name.
func (c *Coordinator) Agents() []AgentInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []AgentInfo
	for _, s := range c.seen {
		out = append(out, AgentInfo{Name: s.hb.Name, Version: s.hb.Version, State: s.hb.State, Run: s.hb.Run,
			Instance: s.hb.Instance, Age: time.Since(s.at)})
	}
	slices.SortFunc(out, func(a, b AgentInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// live are the vantage points whose agent was heard within
// heartbeat_lost_s and is idle (or already loading for this run).
func (c *Coordinator) live() (live, missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, vp := range c.ag.VantagePoints {
		s, ok := c.seen[vp.Name]
		switch {
		case !ok || time.Since(s.at) > c.ag.HeartbeatLost():
			missing = append(missing, vp.Name+" (no heartbeat)")
		case s.hb.State != StateIdle && s.hb.Run != c.run:
			missing = append(missing, vp.Name+" (busy with run "+s.hb.Run+")")
		default:
			live = append(live, vp.Name)
		}
	}
	return live, missing
}

// Prepare waits up to agents.wait_s for a heartbeat from every vantage
// point's agent and returns those heard; fewer than min_agents is
// ErrTooFewAgents, before anything is touched.
func (c *Coordinator) Prepare(ctx context.Context) ([]string, error) {
	deadline := time.NewTimer(c.ag.Wait())
	defer deadline.Stop()
	for {
		live, missing := c.live()
		if len(missing) == 0 {
			return live, nil
		}
		select {
		case <-ctx.Done():
			return live, ctx.Err()
		case <-deadline.C:
			if len(live) < c.ag.MinAgents {
				return live, fmt.Errorf("%w: %d of %d vantage points have an agent ready, min_agents is %d; missing: %s",
					ErrTooFewAgents, len(live), len(c.ag.VantagePoints), c.ag.MinAgents, strings.Join(missing, ", "))
			}
			return live, nil
		case <-c.changed:
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Offsets measures the clock offset of each named agent, concurrently.
func (c *Coordinator) Offsets(ctx context.Context, names []string) (map[string]event.ClockOffset, map[string]error) {
	offs, errs := map[string]event.ClockOffset{}, map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() {
			o, err := MeasureOffset(ctx, c.nc, n, c.clock)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[n] = err
				return
			}
			offs[n] = o
		})
	}
	wg.Wait()
	return offs, errs
}

// record journals one of the coordinator's events (event.Vantage and the
// others); a failed append is kept and Run returns it.
func (c *Coordinator) record(typ journal.Type, v any) {
	if _, err := c.j.Append(typ, "", "", v); err != nil {
		c.appendMu.Lock()
		c.appendEr = cmp.Or(c.appendEr, err)
		c.appendMu.Unlock()
	}
}

// Run is the Traffic of a drill with agents: it assigns each live vantage
// point its schedule, journals what the agents stream as it arrives, keeps
// their lease alive, watches their heartbeats, and when ctx ends stops them
// and waits for the last of their records.
func (c *Coordinator) Run(ctx context.Context, env drill.TrafficEnv) error {
	c.j = env.Journal
	c.appendCh = make(chan struct{}, runtime.GOMAXPROCS(0))
	c.regions = newRegionIndex()
	c.writes = map[string]load.WriteAttempt{}
	c.byName = map[string]*vantage{}
	for i, vp := range c.ag.VantagePoints {
		v := &vantage{index: i + 1, vp: vp}
		c.vps = append(c.vps, v)
		c.byName[vp.Name] = v
	}
	setup, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.createStream(setup); err != nil {
		return err
	}
	cons, err := c.js.OrderedConsumer(setup, StreamName(c.run), jetstream.OrderedConsumerConfig{})
	if err != nil {
		return fmt.Errorf("agents: consumer: %w", err)
	}
	// At most 64 messages (about 10 MB of records) in flight: more would
	// pass the client's pending limit and make the server drop some.
	cc, err := cons.Consume(c.onData, jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("agents: consume: %w", err)
	}
	defer cc.Stop()

	live, _ := c.live()
	offs, errs := c.Offsets(setup, live)
	lead := 500 * time.Millisecond
	for _, o := range offs {
		lead = max(lead, 4*time.Duration(o.DelayNS))
	}
	loadAtMS := c.j.Since() + lead.Milliseconds()
	c.loadNS = c.j.Origin().Add(time.Duration(loadAtMS) * time.Millisecond).UnixNano()
	c.record(journal.LoadStart, event.LoadStart{AtMS: loadAtMS})

	stopLease := c.keepLease()
	defer stopLease()
	notes := c.assign(setup, env.Base, live, offs, errs)
	c.record(journal.AgentsVantages, notes)
	assigned := 0
	for _, n := range notes {
		if n.Assigned {
			assigned++
		}
	}
	for _, v := range c.vps {
		if !v.assigned {
			c.record(journal.AgentsLost, event.AgentLost{Vantage: v.vp.Name, LastHeartbeatMS: c.j.Since(), Why: v.why})
		}
	}
	if assigned < c.ag.MinAgents {
		env.Stop(event.Stop{Condition: event.StopAgentsLost, Value: float64(len(c.vps) - assigned), Above: float64(len(c.vps) - c.ag.MinAgents)},
			fmt.Sprintf("%d of %d agents took their assignment, min_agents is %d", assigned, len(c.vps), c.ag.MinAgents))
	}

	watchDone := make(chan struct{})
	go c.watch(env, watchDone)
	<-ctx.Done()
	c.mu.Lock()
	c.stopping = true
	c.mu.Unlock()
	c.publishStop()
	// Wait for every assigned vantage's end (or its loss): requests in
	// flight get the generator's grace, publishing a little more.
	grace := env.Base.Grace
	if grace == 0 {
		grace = env.Base.Timeout
	}
	c.waitEnds(grace + 15*time.Second)
	<-watchDone
	c.afterClock()
	stopLease()
	if c.allEnded() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.js.DeleteStream(dctx, StreamName(c.run)) // everything is in the journal now
		dcancel()
	}
	return errors.Join(c.settle(), c.j.Flush())
}

// createStream makes the run's stream: file storage, replicated on three
// servers where the cluster has them (deduplicated by message id), so a
// server restarted mid-drill loses no record. A cluster still electing its
// JetStream leader does not answer at all, so every request has its own
// deadline and the coordinator asks again until setup's deadline. One replica only where the servers say three
// cannot be placed: a single server at once, a cluster too small for three
// after it has said so for placeWait.
func (c *Coordinator) createStream(ctx context.Context) error {
	const (
		perTry    = 5 * time.Second
		placeWait = 5 * time.Second
	)
	cfg := jetstream.StreamConfig{
		Name: StreamName(c.run), Subjects: []string{DataSubject(c.run, "*")},
		Storage: jetstream.FileStorage, Replicas: 3, Duplicates: 10 * time.Minute, MaxAge: 24 * time.Hour,
	}
	var unplaced time.Time // when three replicas were first refused as unplaceable
	for {
		try, cancel := context.WithTimeout(ctx, perTry)
		_, err := c.js.CreateStream(try, cfg)
		cancel()
		if err == nil {
			return nil
		}
		switch code := apiErrorCode(err); {
		case cfg.Replicas > 1 && code == codeReplicasNotSupported:
			cfg.Replicas = 1
			continue
		case cfg.Replicas > 1 && (code == codeNoPeers || code == codeInsufficientResources):
			if unplaced.IsZero() {
				unplaced = time.Now()
			}
			if time.Since(unplaced) >= placeWait {
				c.log.Warn("three replicas cannot be placed; the run's stream has one", "stream", cfg.Name, "err", err)
				cfg.Replicas = 1
				continue
			}
		default:
			unplaced = time.Time{}
		}
		c.log.Warn("the run's stream was not created; asking again", "stream", cfg.Name, "replicas", cfg.Replicas, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("agents: create the run's stream %s: %w", cfg.Name, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// JetStream API error codes the stream's creation acts on.
const (
	codeNoPeers               = 10005 // no suitable peers for placement
	codeInsufficientResources = 10023
	codeReplicasNotSupported  = 10074 // replicas > 1 on a server without a cluster
)

func apiErrorCode(err error) jetstream.ErrorCode {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	return 0
}

// assign gives every live vantage point its schedule.
func (c *Coordinator) assign(ctx context.Context, base load.Config, live []string, offs map[string]event.ClockOffset, errs map[string]error) []event.Vantage {
	var notes []event.Vantage
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, v := range c.vps {
		rate := base.Rate * v.vp.Share
		sessions := max(1, int(math.Round(float64(base.Sessions)*v.vp.Share)))
		seed := base.Seed*1000 + int64(v.index)
		entry := v.vp.Entry
		if entry == "" {
			entry = base.URL
		}
		n := event.Vantage{Index: v.index, Name: v.vp.Name, Share: v.vp.Share, Entry: entry, Rate: rate, Sessions: sessions, Seed: seed}
		c.mu.Lock()
		s := c.seen[v.vp.Name]
		c.mu.Unlock()
		off, measured := offs[v.vp.Name]
		switch {
		case !slices.Contains(live, v.vp.Name):
			v.why = "no agent ready when the drill started"
		case !measured:
			v.why = fmt.Sprintf("clock not measured: %v", errs[v.vp.Name])
		}
		if v.why != "" {
			n.Why = v.why
			mu.Lock()
			notes = append(notes, n)
			mu.Unlock()
			continue
		}
		v.instance, v.version, v.offset = s.hb.Instance, s.hb.Version, off
		n.Instance, n.Version, n.Clock = v.instance, v.version, &off
		asg := Assignment{Run: c.run, Vantage: v.vp.Name, Instance: v.instance, Entry: entry, Rate: rate, Sessions: sessions, SessionMS: ceilMS(base.SessionLife),
			WriteRatio: base.WriteRatio, ReplayRatio: base.ReplayRatio, TimeoutMS: int(base.Timeout / time.Millisecond),
			MaxRetries: base.MaxRetries, MaxWorkers: base.MaxWorkers, MinWorkers: base.MinWorkers, Tenants: base.Tenants, Questions: base.Questions, Seed: seed, TokenAuth: base.TokenAuth,
			StartNS: c.loadNS + off.OffsetNS, DurationMS: base.Duration.Milliseconds(), LeaseMS: c.ag.Lease().Milliseconds(),
			Subject: DataSubject(c.run, v.vp.Name), Lease: LeaseSubject(c.run), Stop: StopSubject(c.run)}
		wg.Go(func() {
			err := c.sendAssignment(ctx, v.vp.Name, asg)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				n.Why = err.Error()
			} else {
				n.Assigned = true
			}
			notes = append(notes, n)
		})
	}
	wg.Wait()
	slices.SortFunc(notes, func(a, b event.Vantage) int { return a.Index - b.Index })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range notes {
		v := c.byName[n.Name]
		v.assigned, v.why, v.lastHB = n.Assigned, n.Why, time.Now()
	}
	return notes
}

// ceilMS is d in whole milliseconds, rounded up: a session life under a
// millisecond must not reach the agent as 0, which means no churn at all.
func ceilMS(d time.Duration) int64 {
	ms := d.Milliseconds()
	if d > time.Duration(ms)*time.Millisecond {
		ms++
	}
	return ms
}

func (c *Coordinator) sendAssignment(ctx context.Context, name string, asg Assignment) error {
	b, err := json.Marshal(asg)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := c.nc.RequestWithContext(rctx, AssignSubject(name), b)
	if err != nil {
		return fmt.Errorf("assignment not answered: %w", err)
	}
	var r AssignReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return fmt.Errorf("assignment answer: %w", err)
	}
	if !r.Accepted {
		return fmt.Errorf("assignment refused: %s", r.Error)
	}
	return nil
}

// keepLease renews the agents' lease until the returned func is called;
// once stopping, it repeats the stop order with every renewal, so an agent
// that reconnects hears it.
func (c *Coordinator) keepLease() func() {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(renewEvery(c.ag.Lease()))
		defer t.Stop()
		for {
			_ = c.nc.Publish(LeaseSubject(c.run), nil)
			c.mu.Lock()
			stopping := c.stopping
			c.mu.Unlock()
			if stopping {
				c.publishStop()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

func (c *Coordinator) publishStop() { _ = c.nc.Publish(StopSubject(c.run), nil) }

// watch declares lost the agents that fell silent (or restarted) while
// they loaded, and trips the drill when fewer than min_agents remain.
// Silence while the coordinator itself was cut off from NATS is not held
// against an agent.
func (c *Coordinator) watch(env drill.TrafficEnv, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	tripped := false
	for {
		select {
		case <-t.C:
		case <-c.changed:
		}
		var lost []event.AgentLost
		alive := 0
		c.mu.Lock()
		now := time.Now()
		for _, v := range c.vps {
			if !v.assigned || v.lost || v.ended {
				if v.assigned && !v.lost {
					alive++
				}
				continue
			}
			s := c.seen[v.vp.Name]
			why := ""
			switch {
			case s.hb.Instance != v.instance && s.at.After(v.lastHB):
				why = "the agent restarted (new instance " + s.hb.Instance + "): its load was lost"
			case c.connected && now.Sub(v.lastHB) > c.ag.HeartbeatLost() && now.Sub(c.connectedAt) > c.ag.HeartbeatLost():
				why = fmt.Sprintf("no heartbeat for %.1f s", now.Sub(v.lastHB).Seconds())
			}
			if why == "" {
				alive++
				continue
			}
			v.lost, v.why = true, why
			at := c.j.Since() - now.Sub(v.lastHB).Milliseconds()
			lost = append(lost, event.AgentLost{Vantage: v.vp.Name, LastHeartbeatMS: at, Why: why})
		}
		stopping := c.stopping
		pending := c.pendingLocked()
		c.mu.Unlock()
		for _, l := range lost {
			c.log.Warn("agent lost", "vantage", l.Vantage, "why", l.Why)
			c.record(journal.AgentsLost, l)
		}
		if alive < c.ag.MinAgents && !stopping && !tripped {
			tripped = true
			env.Stop(event.Stop{Condition: event.StopAgentsLost, Value: float64(len(c.vps) - alive), Above: float64(len(c.vps) - c.ag.MinAgents)},
				fmt.Sprintf("%d of %d agents alive, min_agents is %d (%s)", alive, len(c.vps), c.ag.MinAgents, c.lostSummary()))
		}
		if stopping && pending == 0 {
			return
		}
	}
}

// lostSummary names the lost vantages and why.
func (c *Coordinator) lostSummary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, v := range c.vps {
		if v.lost || !v.assigned {
			parts = append(parts, v.vp.Name+": "+v.why)
		}
	}
	return "lost " + strings.Join(parts, "; ")
}

// pendingLocked counts the assigned vantages neither ended nor lost.
func (c *Coordinator) pendingLocked() int {
	n := 0
	for _, v := range c.vps {
		if v.assigned && !v.ended && !v.lost {
			n++
		}
	}
	return n
}

// waitEnds waits up to limit for every assigned vantage to end or be lost;
// those still pending then are declared lost.
func (c *Coordinator) waitEnds(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && !c.nc.IsClosed() {
		c.mu.Lock()
		pending := c.pendingLocked()
		c.mu.Unlock()
		if pending == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	var late []event.AgentLost
	c.mu.Lock()
	for _, v := range c.vps {
		if v.assigned && !v.ended && !v.lost {
			v.lost, v.why = true, fmt.Sprintf("its last records did not arrive within %s of the stop", limit)
			late = append(late, event.AgentLost{Vantage: v.vp.Name, LastHeartbeatMS: c.j.Since() - time.Since(v.lastHB).Milliseconds(), Why: v.why})
		}
	}
	c.mu.Unlock()
	for _, l := range late {
		c.record(journal.AgentsLost, l)
	}
}

func (c *Coordinator) allEnded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.vps {
		if !v.ended {
			return false
		}
	}
	return true
}

// afterClock measures the clocks again once the load is over.
func (c *Coordinator) afterClock() {
	var names []string
	c.mu.Lock()
	for _, v := range c.vps {
		if v.ended {
			names = append(names, v.vp.Name)
		}
	}
	c.mu.Unlock()
	if len(names) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, errs := c.Offsets(ctx, names)
	n := event.AgentsClock{Phase: "after", Offsets: offs}
	for k, e := range errs {
		if n.Errors == nil {
			n.Errors = map[string]string{}
		}
		n.Errors[k] = e.Error()
	}
	c.record(journal.AgentsClock, n)
}

// onData journals one message of the run's stream. The ordered consumer
// hands them over one at a time, in stream order, so each vantage's start
// comes before its records and its end after them.
func (c *Coordinator) onData(m jetstream.Msg) {
	subj := m.Subject()
	name := subj[strings.LastIndexByte(subj, '.')+1:]
	c.mu.Lock()
	v := c.byName[name]
	c.mu.Unlock()
	if v == nil {
		return
	}
	var err error
	switch m.Headers().Get(KindHeader) {
	case KindStart:
		err = c.onStart(v, m.Data())
	case KindRecords:
		err = c.onRecords(v, m.Headers().Get(RegionsHdr), m.Data())
	case KindWrites:
		err = c.onWrites(v, m.Data())
	case KindEnd:
		err = c.onEnd(v, m.Data())
	}
	if err != nil {
		c.log.Error("agent data refused", "vantage", name, "err", err)
		c.record(journal.AgentsBadData, event.AgentBadData{Vantage: name, Error: err.Error()})
	}
}

func (c *Coordinator) onStart(v *vantage, data []byte) error {
	var s Start
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	c.mu.Lock()
	v.shift = s.StartedNS - v.offset.OffsetNS - c.loadNS
	v.started = true
	shift := v.shift
	c.mu.Unlock()
	c.record(journal.AgentsStart, event.AgentStart{Vantage: v.vp.Name, StartedNS: s.StartedNS, ShiftNS: shift})
	return nil
}

func (c *Coordinator) onRecords(v *vantage, table string, data []byte) error {
	var regions []string
	if err := json.Unmarshal([]byte(table), &regions); err != nil {
		return fmt.Errorf("region table: %w", err)
	}
	var b load.Batch
	if err := b.UnmarshalJSON(data); err != nil {
		return err
	}
	c.mu.Lock()
	m, grown := c.regions.mapping(regions)
	names := slices.Clone(c.regions.names)
	rebase(b, v.index, v.shift, &m)
	c.batches = append(c.batches, b)
	c.nrecs += len(b)
	v.received += uint64(len(b))
	v.batches++
	c.mu.Unlock()
	if grown { // before the records that use the new indexes
		c.record(journal.RegionsIndex, event.RegionsIndex(names))
	}
	// Encoding a batch for the journal is a large part of the merge's
	// work: it runs on every core while the next message is decoded. The
	// array form is compact JSON of integers, which AppendRaw writes as it
	// is (Append would compact it twice more). The judge orders records
	// itself; the end of a vantage waits for its batches (settle).
	c.appendCh <- struct{}{}
	c.appends.Go(func() {
		defer func() { <-c.appendCh }()
		data, _ := b.MarshalJSON()
		if _, err := c.j.AppendRaw(journal.Records, "", v.vp.Name, data); err != nil {
			c.appendMu.Lock()
			c.appendEr = cmp.Or(c.appendEr, err)
			c.appendMu.Unlock()
		}
	})
	return nil
}

// settle waits for the record batches being journaled and returns the
// first error any of them met.
func (c *Coordinator) settle() error {
	c.appends.Wait()
	c.appendMu.Lock()
	defer c.appendMu.Unlock()
	return c.appendEr
}

func (c *Coordinator) onWrites(v *vantage, data []byte) error {
	var ws []load.WriteAttempt
	if err := json.Unmarshal(data, &ws); err != nil {
		return err
	}
	c.mu.Lock()
	rebaseWrites(ws, v.index, v.shift)
	for _, w := range ws {
		if _, ok := c.writes[w.Key]; !ok {
			c.keys = append(c.keys, w.Key)
		}
		c.writes[w.Key] = w
	}
	c.mu.Unlock()
	_, err := c.j.Append(journal.Writes, "", v.vp.Name, ws)
	return err
}

func (c *Coordinator) onEnd(v *vantage, data []byte) error {
	var e event.VantageEnd
	if err := json.Unmarshal(data, &e); err != nil {
		return err
	}
	if err := c.settle(); err != nil { // its records are in the journal before its end
		return err
	}
	c.mu.Lock()
	v.ended = true
	received := v.received
	early := !c.stopping && !v.lost && e.Reason != event.EndDone
	if early { // it ended on its own while the drill went on: the rest of the drill is unseen from there
		v.lost, v.why = true, "its load ended early: "+string(e.Reason)+" "+e.Error
	}
	c.mu.Unlock()
	c.record(journal.AgentsEnd, event.AgentEnd{Vantage: v.vp.Name, Received: received, VantageEnd: e})
	if early {
		c.record(journal.AgentsLost, event.AgentLost{Vantage: v.vp.Name, LastHeartbeatMS: c.j.Since(), Why: v.why})
		select {
		case c.changed <- struct{}{}:
		default:
		}
	}
	return nil
}

// Records are the merged records journaled so far.
func (c *Coordinator) Records() []load.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]load.Record, 0, c.nrecs)
	for _, b := range c.batches {
		out = append(out, b...)
	}
	return out
}

// Writes are the agents' write attempts, each key's last report.
func (c *Coordinator) Writes() []load.WriteAttempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]load.WriteAttempt, 0, len(c.keys))
	for _, k := range c.keys {
		out = append(out, c.writes[k])
	}
	return out
}

var _ drill.Traffic = (*Coordinator)(nil)
