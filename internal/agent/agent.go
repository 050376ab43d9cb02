package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// Config is one agent process.
type Config struct {
	URL       string        // NATS server(s)
	Name      string        // the vantage point it serves: plan agents.vantage_points[].name
	Auth      Auth          // how it authenticates to NATS
	Heartbeat time.Duration // default 1s
	// Clock is the agent's wall clock; default time.Now. Tests shift it to
	// prove the coordinator measures and corrects the offset.
	Clock  func() time.Time
	Logger *slog.Logger
	// Ready, if set, is called once the agent is connected and listening,
	// before its first heartbeat.
	Ready func()
	// HeapFloor is how far the heap may grow between two collections
	// while the agent loads, at least: 0 means DefaultHeapFloor, a negative
	// value leaves the collector as it is.
	HeapFloor int64
}

// Errors of an agent's life.
var (
	ErrBusy        = errors.New("agent: already loading for another run")
	errStopped     = errors.New("stopped by the coordinator")
	errLeaseLapsed = errors.New("the coordinator's lease lapsed")
	errShutdown    = errors.New("the agent is shutting down")
)

// Agent is a running agent process.
type Agent struct {
	cfg      Config
	nc       *nats.Conn
	js       jetstream.JetStream
	instance string
	log      *slog.Logger

	mu     sync.Mutex
	run    string // the run it is loading for, "" when idle
	cancel context.CancelCauseFunc
	works  sync.WaitGroup
	seq    atomic.Uint64
}

// Run connects, announces the agent every heartbeat and serves assignments
// until ctx ends; then it stops any load and publishes what it holds. A
// refused credential or an unreachable server ends it at once.
func Run(ctx context.Context, cfg Config) error {
	if !plan.ValidAgentName(cfg.Name) {
		return fmt.Errorf("agent: name %q must be letters, digits, '-' and '_' (one NATS subject token)", cfg.Name)
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	a := &Agent{cfg: cfg, instance: hex.EncodeToString(b), log: cfg.Logger.With("agent", cfg.Name)}
	nc, err := Connect(cfg.URL, "regiondrill agent "+cfg.Name, cfg.Auth,
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { a.log.Warn("nats disconnected", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { a.log.Info("nats reconnected", "server", c.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { a.log.Error("nats refused", "err", err) }))
	if err != nil {
		return fmt.Errorf("agent %s: %w", cfg.Name, err)
	}
	defer nc.Close()
	a.nc = nc
	if a.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("agent %s: jetstream: %w", cfg.Name, err)
	}
	if _, err := nc.Subscribe(ClockSubject(cfg.Name), answerClock(cfg.Clock)); err != nil {
		return fmt.Errorf("agent %s: %w", cfg.Name, err)
	}
	if _, err := nc.Subscribe(AssignSubject(cfg.Name), func(m *nats.Msg) { a.onAssign(ctx, m) }); err != nil {
		return fmt.Errorf("agent %s: %w", cfg.Name, err)
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("agent %s: %w", cfg.Name, err)
	}
	a.log.Info("agent ready", "server", nc.ConnectedUrlRedacted(), "instance", a.instance)
	if cfg.Ready != nil {
		cfg.Ready()
	}
	tick := time.NewTicker(cfg.Heartbeat)
	defer tick.Stop()
	for {
		a.heartbeat()
		select {
		case <-ctx.Done():
			a.mu.Lock()
			if a.cancel != nil {
				a.cancel(errShutdown)
			}
			a.mu.Unlock()
			a.works.Wait()
			_ = nc.FlushTimeout(time.Second)
			return nil
		case <-tick.C:
		}
	}
}

func (a *Agent) heapFloor() uint64 {
	switch f := a.cfg.HeapFloor; {
	case f < 0:
		return 0
	case f == 0:
		return DefaultHeapFloor
	default:
		return uint64(f)
	}
}

func (a *Agent) heartbeat() {
	a.mu.Lock()
	run := a.run
	a.mu.Unlock()
	st := StateIdle
	if run != "" {
		st = StateLoading
	}
	hb := Heartbeat{Name: a.cfg.Name, Instance: a.instance, Version: Version(), ClockNS: a.cfg.Clock().UnixNano(),
		State: st, Run: run, Seq: a.seq.Add(1)}
	b, _ := json.Marshal(hb) // plain fields always marshal
	_ = a.nc.Publish(HeartbeatSubject(a.cfg.Name), b)
}

func reply(m *nats.Msg, r AssignReply) {
	b, _ := json.Marshal(r) // a bool and a string always marshal
	_ = m.Respond(b)
}

// onAssign takes an assignment meant for this instance when idle.
func (a *Agent) onAssign(ctx context.Context, m *nats.Msg) {
	var asg Assignment
	if err := json.Unmarshal(m.Data, &asg); err != nil {
		reply(m, AssignReply{Error: "bad assignment: " + err.Error()})
		return
	}
	if asg.Instance != a.instance {
		return // meant for another process with the same name: let it answer
	}
	if err := asg.validate(); err != nil {
		reply(m, AssignReply{Error: err.Error()})
		return
	}
	a.mu.Lock()
	if a.run != "" {
		busy := a.run
		a.mu.Unlock()
		reply(m, AssignReply{Error: fmt.Sprintf("%v (run %s)", ErrBusy, busy)})
		return
	}
	if ctx.Err() != nil {
		a.mu.Unlock()
		reply(m, AssignReply{Error: errShutdown.Error()})
		return
	}
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	a.run, a.cancel = asg.Run, cancel
	a.works.Add(1)
	a.mu.Unlock()
	w := &work{a: a, asg: asg, ctx: runCtx, cancel: cancel, lease: newLease(time.Duration(asg.LeaseMS)*time.Millisecond, time.Now())}
	// Listen for the lease and the stop before accepting, so nothing the
	// coordinator sends after our answer is missed.
	if err := w.subscribe(); err != nil {
		a.finish(cancel)
		reply(m, AssignReply{Error: err.Error()})
		return
	}
	reply(m, AssignReply{Accepted: true})
	a.log.Info("assignment accepted", "run", asg.Run, "rate", asg.Rate, "entry", asg.Entry)
	go w.run()
}

func (a *Agent) finish(cancel context.CancelCauseFunc) {
	cancel(nil)
	a.mu.Lock()
	a.run, a.cancel = "", nil
	a.mu.Unlock()
	a.works.Done()
}

func (asg *Assignment) validate() error {
	var errs []error
	if asg.Run == "" || asg.Subject == "" || asg.Lease == "" || asg.Stop == "" {
		errs = append(errs, errors.New("assignment without run, subject, lease or stop"))
	}
	if asg.LeaseMS <= 0 {
		errs = append(errs, errors.New("assignment without a lease"))
	}
	if asg.DurationMS <= 0 || asg.Rate <= 0 {
		errs = append(errs, errors.New("assignment without a rate or a duration"))
	}
	return errors.Join(errs...)
}

// work is one assignment being carried out.
type work struct {
	a      *Agent
	asg    Assignment
	ctx    context.Context
	cancel context.CancelCauseFunc
	lease  *lease
	subs   []*nats.Subscription
}

func (w *work) subscribe() error {
	for subj, h := range map[string]nats.MsgHandler{
		w.asg.Lease: func(*nats.Msg) { w.lease.renew(time.Now()) },
		w.asg.Stop:  func(*nats.Msg) { w.cancel(errStopped) },
	} {
		s, err := w.a.nc.Subscribe(subj, h)
		if err != nil {
			w.unsubscribe()
			return err
		}
		w.subs = append(w.subs, s)
	}
	return w.a.nc.Flush()
}

func (w *work) unsubscribe() {
	for _, s := range w.subs {
		_ = s.Unsubscribe()
	}
}

// run waits for the start instant, runs the generator and streams its
// records until the coordinator stops it, its lease lapses or the schedule
// ends; then it publishes the rest and the end.
func (w *work) run() {
	a, asg := w.a, w.asg
	defer a.finish(w.cancel)
	defer w.unsubscribe()
	go w.watchLease()

	st := newStreamer(a.js, asg.Subject, asg.Run+"-"+asg.Vantage)
	// Publishing outlives the load: what was recorded still goes out after
	// a stop or a lapsed lease, for up to two minutes (or ten seconds once
	// the agent is shutting down).
	pubCtx, stopPub := context.WithCancel(context.Background())
	defer stopPub()
	go func() {
		<-w.ctx.Done()
		limit := 2 * time.Minute
		if errors.Is(context.Cause(w.ctx), errShutdown) {
			limit = 10 * time.Second
		}
		select {
		case <-time.After(limit):
			stopPub()
		case <-pubCtx.Done():
		}
	}()

	end := event.VantageEnd{Reason: event.EndDone}
	var sum *load.Summary
	// Built before the start instant: it encodes every ask body up front.
	gen, err := load.New(load.Config{
		URL: asg.Entry, Rate: asg.Rate, Duration: time.Duration(asg.DurationMS) * time.Millisecond,
		Sessions: asg.Sessions, SessionLife: time.Duration(asg.SessionMS) * time.Millisecond, WriteRatio: asg.WriteRatio, ReplayRatio: asg.ReplayRatio,
		Timeout: time.Duration(asg.TimeoutMS) * time.Millisecond, MaxRetries: asg.MaxRetries, MaxWorkers: asg.MaxWorkers, MinWorkers: asg.MinWorkers,
		Tenants: asg.Tenants, Questions: asg.Questions, Seed: asg.Seed, TokenAuth: asg.TokenAuth,
		Clock: firstReading(a.cfg.Clock, st.started),
	})
	if wait := time.Duration(asg.StartNS - a.cfg.Clock().UnixNano()); wait > 0 && err == nil {
		select {
		case <-time.After(wait):
		case <-w.ctx.Done():
		}
	}
	if w.ctx.Err() == nil {
		if err != nil {
			end = event.VantageEnd{Reason: event.EndError, Error: err.Error()}
		} else {
			st.writes = gen.Writes
			releaseHeap := holdHeapFloor(a.heapFloor(), 250*time.Millisecond)
			loaded := make(chan struct{})
			streamed := make(chan error, 1)
			go func() { streamed <- st.loop(pubCtx, loaded) }()
			sum, err = gen.Run(w.ctx, st)
			close(loaded)
			if err != nil {
				end = event.VantageEnd{Reason: event.EndError, Error: err.Error()}
			}
			if serr := <-streamed; serr != nil {
				a.log.Error("records not published", "run", asg.Run, "err", serr)
			}
			releaseHeap()
		}
	}
	switch cause := context.Cause(w.ctx); {
	case end.Reason == event.EndError:
	case errors.Is(cause, errLeaseLapsed):
		end.Reason = event.EndLeaseLapsed
	case errors.Is(cause, errShutdown):
		end.Reason = event.EndShutdown
	case cause != nil:
		end.Reason = event.EndStopped
	}
	end.Summary = sum
	if err := st.end(pubCtx, end); err != nil {
		a.log.Error("end not published", "run", asg.Run, "err", err)
	}
	a.log.Info("assignment ended", "run", asg.Run, "reason", end.Reason, "records", st.records)
}

// watchLease stops the load when the coordinator's lease lapses: the dead
// man's switch that keeps an agent from loading a target after the drill
// that sent it died.
func (w *work) watchLease() {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case now := <-t.C:
			if w.lease.lapsed(now) {
				w.a.log.Warn("lease lapsed: stopping the load", "run", w.asg.Run)
				w.cancel(errLeaseLapsed)
				return
			}
		}
	}
}

// firstReading wraps clock so that its first reading, the generator's
// start (load.Generator.Run reads the clock first for it), is reported.
func firstReading(clock func() time.Time, report func(int64)) func() time.Time {
	var once sync.Once
	return func() time.Time {
		t := clock()
		once.Do(func() { report(t.UnixNano()) })
		return t
	}
}
