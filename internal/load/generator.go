package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes a run. Zero values take the defaults noted per field.
type Config struct {
	URL         string        // base URL of the edge router; required
	Rate        float64       // requests per second; required, > 0
	Duration    time.Duration // length of the schedule; required
	Sessions    int           // concurrent logical users; default 1
	SessionLife time.Duration // how long each session lasts, on the schedule, before a new one takes its place; default 0: sessions last the run
	WriteRatio  float64       // share of requests that are writes, 0..1
	ReplayRatio float64       // share of writes re-sent later with the same key and body, 0..1
	ReplayDelay time.Duration // how long after the original a replay is due; default 1s
	Timeout     time.Duration // per request; default 10s
	Grace       time.Duration // how long requests in flight at the end may finish before they are canceled; default Timeout
	MaxRetries  int           // retries of a write whose outcome is unknown; same key, backoff 50ms·2^n with jitter
	MaxWorkers  int           // cap on concurrent requests; default 10000
	MinWorkers  int           // workers started before the first request, up to MaxWorkers; default 0: start with one and add them as jobs wait
	Tenants     []string      // default ["default"]
	Questions   []string      // default ["what is the refund policy?"]
	Seed        int64
	TokenAuth   string           // bearer credential sent with POST /token (a region issues session tokens only to authenticated callers); default none
	Client      *http.Client     // default: a pooled transport with no overall timeout that follows no redirects
	Clock       func() time.Time // default time.Now
}

// lagBound is how late a request may leave before it counts as lagging.
const lagBound = 25 * time.Millisecond

// Summary is what the generator itself knows about a finished run. A
// request counts as sent, and its lag is taken, when it leaves: after it
// waited for a worker and for its session's token.
type Summary struct {
	Scheduled        int           `json:"scheduled"` // slots due within the run
	Sent             int           `json:"sent"`      // scheduled requests sent (retries and token fetches excluded)
	Completed        int           `json:"completed"` // scheduled requests that got an HTTP response
	Retries          int           `json:"retries"`
	Replays          int           `json:"replays"`
	Tokens           int           `json:"tokens"`
	Target           float64       `json:"target"`    // configured rate, req/s
	Delivered        float64       `json:"delivered"` // Sent over the elapsed schedule, req/s
	Lagged           int           `json:"lagged"`    // requests that left more than 25ms after their due time
	MaxLag           time.Duration `json:"max_lag"`
	WindowsBelow99   int           `json:"windows_below_99"` // 1 s windows that sent < 99% of what was due in them
	GeneratorLimited bool          `json:"generator_limited"`
	Workers          int           `json:"workers"` // worker goroutines started: the peak concurrency the run needed
}

// Generator drives one run. Create with New, run once with Run.
type Generator struct {
	cfg     Config
	base    string
	client  *http.Client
	rt      http.RoundTripper // the default transport, used without client; nil with Config.Client
	clock   func() time.Time
	regions *regionTable

	rate   atomic.Uint64 // float64 bits
	rateCh chan struct{}
	ran    atomic.Bool

	// The session each of the Sessions slots runs now, and when it ends (ns
	// on the schedule; MaxInt64 while sessions last the run), and the
	// number the next new session takes. Owned by the schedule loop; a job
	// carries its session, so a worker never reads these.
	sessions []*session
	ends     []int64
	nextNum  uint64
	noTokens atomic.Bool
	seq      atomic.Uint64

	wmu    sync.Mutex
	writes []*writeState

	askBodies [][]byte // encoded AskRequest per tenant*len(Questions)+question; nil if too many
	askParts  askParts
	urls      [3]*url.URL // per Kind: /token, /ask, /write

	// run state, set by Run
	start   time.Time
	obs     Observer
	seen    func(uint8, string)
	reqCtx  context.Context
	jobs    chan job      // to workers, FIFO; buffered, so handing over never waits for one to wake
	slots   chan struct{} // one token per job handed out and not finished: MaxWorkers deep
	pending atomic.Int64  // jobs handed out and not yet finished
	wg      sync.WaitGroup
	// Owned by the schedule loop: workers started so far, jobs sent to the
	// jobs channel, and when each of the last cap(jobs) was sent (ns since
	// start), so the age of the oldest job still waiting is known.
	workers   int
	enqueued  uint64
	sentAt    []int64
	grownAt   time.Duration // when grow last added workers
	growTimer *time.Timer

	// what left when, counted by the workers as each request leaves
	sentSec []atomic.Int64 // per second of the run
	sentN   atomic.Int64
	lagged  atomic.Int64
	maxLag  atomic.Int64

	completed, retries, replays, tokens atomic.Int64
}

// session is one client from its arrival to its departure. A session that
// ends is never reused: the next client in its slot gets a new session, so
// a token or headers cannot pass from one client to another.
type session struct {
	mu    sync.Mutex
	num   uint32   // Record.Session; never changes
	id    string   // never changes
	idVal []string // {id}, shared by every request of the session
	token string
	hdr   http.Header // request headers for token; nil until built
}

// sessionSpace bounds session numbers: the agents keep only the low 24
// bits of Record.Session and put their vantage index above them
// (agent.SessionShift), so the numbers of later sessions wrap modulo 2^24.
// A wrapped number (and the id made from it) comes back only after 16.7
// million sessions of one run.
const sessionSpace = 1 << 24

func newSession(seed int64, num uint32) *session {
	id := fmt.Sprintf("s-%d-%d", seed, num)
	return &session{num: num, id: id, idVal: []string{id}}
}

// job is one scheduled request. It carries the session that was current
// when it was picked: a request picked just before its session ended
// still leaves as that client, whenever a worker gets to it.
type job struct {
	sched   int64
	body    []byte // ask body, encoded once per (tenant, question); nil for writes
	write   *writeState
	session *session
	kind    Kind
	replay  bool
}

// New validates cfg, fills defaults and returns a generator.
func New(cfg Config) (*Generator, error) {
	var errs []error
	u, err := url.Parse(cfg.URL)
	if cfg.URL == "" || err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, fmt.Errorf("load: url %q is not an absolute URL", cfg.URL))
	}
	if !(cfg.Rate > 0) || math.IsInf(cfg.Rate, 0) {
		errs = append(errs, fmt.Errorf("load: rate %v must be > 0", cfg.Rate))
	}
	if cfg.Duration <= 0 {
		errs = append(errs, fmt.Errorf("load: duration %v must be > 0", cfg.Duration))
	}
	if cfg.Sessions < 0 || cfg.Sessions > math.MaxUint32 {
		errs = append(errs, fmt.Errorf("load: sessions %d out of range", cfg.Sessions))
	}
	if cfg.SessionLife < 0 {
		errs = append(errs, fmt.Errorf("load: session life %v must not be negative", cfg.SessionLife))
	}
	if cfg.WriteRatio < 0 || cfg.WriteRatio > 1 {
		errs = append(errs, fmt.Errorf("load: write ratio %v not in [0,1]", cfg.WriteRatio))
	}
	if cfg.ReplayRatio < 0 || cfg.ReplayRatio > 1 {
		errs = append(errs, fmt.Errorf("load: replay ratio %v not in [0,1]", cfg.ReplayRatio))
	}
	if cfg.MaxRetries < 0 || cfg.MaxRetries > 32 {
		errs = append(errs, fmt.Errorf("load: max retries %d not in [0,32]", cfg.MaxRetries))
	}
	if cfg.Timeout < 0 || cfg.Grace < 0 || cfg.MaxWorkers < 0 || cfg.MinWorkers < 0 || cfg.ReplayDelay < 0 {
		errs = append(errs, errors.New("load: timeout, grace, max workers, min workers and replay delay must not be negative"))
	}
	if cfg.MaxWorkers > 0 && cfg.MinWorkers > cfg.MaxWorkers {
		errs = append(errs, fmt.Errorf("load: min workers %d above max workers %d", cfg.MinWorkers, cfg.MaxWorkers))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Sessions == 0 {
		cfg.Sessions = 1
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Grace == 0 {
		cfg.Grace = cfg.Timeout
	}
	if cfg.ReplayDelay == 0 {
		cfg.ReplayDelay = time.Second
	}
	if cfg.MaxWorkers == 0 {
		cfg.MaxWorkers = max(10000, cfg.MinWorkers)
	}
	if len(cfg.Tenants) == 0 {
		cfg.Tenants = []string{"default"}
	}
	if len(cfg.Questions) == 0 {
		cfg.Questions = []string{"what is the refund policy?"}
	}
	g := &Generator{
		cfg:     cfg,
		base:    strings.TrimRight(cfg.URL, "/"),
		client:  cfg.Client,
		clock:   cfg.Clock,
		regions: newRegionTable(),
		rateCh:  make(chan struct{}, 1),
	}
	if g.client == nil {
		// No http.Client in the way: it copies the headers and the URL of
		// every request in case of a redirect, and there is none to follow.
		t := defaultTransport(cfg.MaxWorkers)
		g.client, g.rt = &http.Client{Transport: t}, t
	}
	for k, path := range [...]string{KindToken: "/token", KindAsk: "/ask", KindWrite: "/write"} {
		if g.urls[k], err = url.Parse(g.base + path); err != nil {
			return nil, fmt.Errorf("load: url %q: %w", cfg.URL, err)
		}
	}
	g.askParts = newAskParts(cfg.Tenants, cfg.Questions)
	if n := len(cfg.Tenants) * len(cfg.Questions); n <= maxAskBodies {
		g.askBodies = make([][]byte, 0, n)
		for t := range cfg.Tenants {
			for q := range cfg.Questions {
				g.askBodies = append(g.askBodies, g.askParts.body(t, q))
			}
		}
	}
	if g.clock == nil {
		g.clock = time.Now
	}
	g.rate.Store(math.Float64bits(cfg.Rate))
	g.sessions = make([]*session, cfg.Sessions)
	g.ends = make([]int64, cfg.Sessions)
	g.nextNum = uint64(cfg.Sessions)
	for i := range g.sessions {
		g.sessions[i] = newSession(cfg.Seed, uint32(i))
		g.ends[i] = math.MaxInt64
		if life := cfg.SessionLife; life > 0 {
			// The first sessions end evenly spread over one life, slot i
			// at life·(i+1)/Sessions, so that clients leave and arrive at
			// a steady pace from the start instead of all at once. (The
			// product is taken in floating point, where it cannot
			// overflow, and capped at 146 years.)
			end := float64(life) * float64(i+1) / float64(cfg.Sessions)
			g.ends[i] = max(1, int64(min(end, 1<<62)))
		}
	}
	return g, nil
}

// renew ends slot i's session and starts the next client there, arriving
// at sched (ns on the schedule): a new number and id and no token yet, so
// its first request fetches one and the router places it afresh. It lasts
// SessionLife from its arrival.
func (g *Generator) renew(i int, sched int64) *session {
	s := newSession(g.cfg.Seed, uint32(g.nextNum%sessionSpace))
	g.nextNum++
	g.sessions[i] = s
	g.ends[i] = math.MaxInt64
	if life := int64(g.cfg.SessionLife); sched < math.MaxInt64-life {
		g.ends[i] = sched + life
	}
	return s
}

// SetRate changes the rate while running; <= 0 pauses the schedule.
func (g *Generator) SetRate(r float64) {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return
	}
	g.rate.Store(math.Float64bits(r))
	select {
	case g.rateCh <- struct{}{}:
	default:
	}
}

// Rate is the current target rate.
func (g *Generator) Rate() float64 { return math.Float64frombits(g.rate.Load()) }

// Regions is the region table: index i names Record.Region == i.
func (g *Generator) Regions() []string { return g.regions.list() }

// Writes returns every logical write sent, by id.
func (g *Generator) Writes() []WriteAttempt {
	g.wmu.Lock()
	ws := append([]*writeState(nil), g.writes...)
	g.wmu.Unlock()
	out := make([]WriteAttempt, 0, len(ws))
	for _, w := range ws {
		if a := w.snapshot(); a.Outcome != OutcomeUnsent {
			out = append(out, a)
		}
	}
	return out
}

// ErrAlreadyRun is returned by a second call to Run.
var ErrAlreadyRun = errors.New("load: generator already ran")

func (g *Generator) elapsed() time.Duration { return g.clock().Sub(g.start) }

// now is ns since run start, never 0 so that End 0 keeps meaning "in flight".
func (g *Generator) now() int64 {
	if n := int64(g.elapsed()); n > 0 {
		return n
	}
	return 1
}

type replayDue struct {
	due time.Duration
	w   *writeState
}

// Run sends the schedule until Duration has passed or ctx ends, then waits up
// to Grace for requests in flight and cancels the rest (recorded as
// ErrCanceled). obs receives every request before it is sent and when it ends.
func (g *Generator) Run(ctx context.Context, obs Observer) (*Summary, error) {
	if !g.ran.CompareAndSwap(false, true) {
		return nil, ErrAlreadyRun
	}
	if obs == nil {
		return nil, errors.New("load: nil observer")
	}
	g.obs = obs
	if ro, ok := obs.(RegionObserver); ok {
		g.seen = ro.RegionSeen
	}
	reqCtx, cancelReqs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReqs()
	g.reqCtx = reqCtx
	g.jobs = make(chan job, g.cfg.MaxWorkers)
	g.sentAt = make([]int64, cap(g.jobs))
	g.growTimer = time.NewTimer(time.Hour)
	g.growTimer.Stop()
	g.grownAt = -spawnAfter
	g.slots = make(chan struct{}, g.cfg.MaxWorkers)
	for range g.cfg.MinWorkers {
		g.spawn()
	}
	secs := int(g.cfg.Duration/time.Second) + 2
	g.sentSec = make([]atomic.Int64, secs)
	due := make([]int, secs)
	g.start = g.clock()

	rng := rand.New(rand.NewPCG(uint64(g.cfg.Seed), 0x5eed))
	var (
		p       = pacer{rate: g.Rate()}
		n       uint64
		replays []replayDue
		sum     = Summary{Target: g.cfg.Rate}
		timer   = time.NewTimer(time.Hour)
		end     = g.cfg.Duration
		done    = ctx.Done()
		now     = g.elapsed()
		err     error
	)
	timer.Stop()
	// Each pass sends the slot due next if it is due by now; otherwise it
	// sleeps until it is, or until a job waiting for a worker has waited
	// long enough to start another. Behind schedule, due slots go out back
	// to back with no timer.
loop:
	for {
		select {
		case <-done:
			break loop
		default:
		}
		if r := g.Rate(); r != p.rate {
			p = p.rebase(n, now, r)
		}
		d := p.due(n)
		// A slot due before the end still goes if the clock passed the end
		// only by timer slack; far behind, the run stops at the end.
		if d >= g.cfg.Duration || (now >= g.cfg.Duration && now-d > lagBound) {
			break
		}
		if d < 0 || d > now {
			wait := d - now
			if d < 0 { // paused: wake on a rate change or the end
				wait = g.cfg.Duration - now
			}
			if w, ok := g.growDue(now); ok && w < wait {
				wait = w
			}
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-g.rateCh:
				timer.Stop()
			case <-done:
				timer.Stop()
				break loop
			}
			now = g.elapsed()
			g.grow(now)
			continue
		}
		j, jerr := g.next(int64(d), rng, &replays)
		if jerr != nil {
			err = jerr
			break
		}
		g.dispatch(j, now)
		now = g.elapsed()
		due[min(int(d/time.Second), secs-1)]++
		n++
	}
	stopAt := min(g.elapsed(), g.cfg.Duration)
	if ctx.Err() != nil || err != nil {
		end = stopAt
	}
	// Slots that were due but never sent (the generator fell behind).
	if end > 0 {
		for k, last := n, p.hits(end-1); k < last; k++ {
			due[min(int(p.due(k)/time.Second), secs-1)]++
		}
	}
	close(g.jobs)
	finished := make(chan struct{})
	go func() { g.wg.Wait(); close(finished) }()
	grace := time.NewTimer(g.cfg.Grace)
	select {
	case <-finished:
	case <-grace.C:
		cancelReqs()
		<-finished
	}
	grace.Stop()

	sum.Sent = int(g.sentN.Load())
	sum.Lagged = int(g.lagged.Load())
	sum.MaxLag = time.Duration(g.maxLag.Load())
	for s := range secs {
		sum.Scheduled += due[s]
		if float64(g.sentSec[s].Load()) < 0.99*float64(due[s])-1 {
			sum.WindowsBelow99++
		}
	}
	if stopAt > 0 {
		sum.Delivered = float64(sum.Sent) / stopAt.Seconds()
	}
	sum.Completed = int(g.completed.Load())
	sum.Retries = int(g.retries.Load())
	sum.Replays = int(g.replays.Load())
	sum.Tokens = int(g.tokens.Load())
	sum.Workers = g.workers
	sum.GeneratorLimited = sum.WindowsBelow99 > 0 ||
		float64(sum.Sent) < 0.99*float64(sum.Scheduled)-1 ||
		sum.Lagged > max(1, sum.Sent/100)
	return &sum, err
}

// next picks the request for a slot: a due replay, else a new ask or write.
func (g *Generator) next(sched int64, rng *rand.Rand, replays *[]replayDue) (job, error) {
	if q := *replays; len(q) > 0 && int64(q[0].due) <= sched {
		*replays = q[1:]
		return job{sched: sched, kind: KindWrite, session: q[0].w.session, write: q[0].w, replay: true}, nil
	}
	i := rng.IntN(len(g.sessions))
	s := g.sessions[i]
	if sched >= g.ends[i] {
		s = g.renew(i, sched)
	}
	if g.cfg.WriteRatio > 0 && rng.Float64() < g.cfg.WriteRatio {
		tenant := g.cfg.Tenants[rng.IntN(len(g.cfg.Tenants))]
		g.wmu.Lock()
		id := uint64(len(g.writes) + 1)
		w, err := newWrite(g.cfg.Seed, id, tenant, s)
		if err == nil {
			g.writes = append(g.writes, w)
		}
		g.wmu.Unlock()
		if err != nil {
			return job{}, err
		}
		if g.cfg.ReplayRatio > 0 && rng.Float64() < g.cfg.ReplayRatio {
			*replays = append(*replays, replayDue{due: time.Duration(sched) + g.cfg.ReplayDelay, w: w})
		}
		return job{sched: sched, kind: KindWrite, session: s, write: w}, nil
	}
	t, q := rng.IntN(len(g.cfg.Tenants)), rng.IntN(len(g.cfg.Questions))
	return job{sched: sched, kind: KindAsk, session: s, body: g.askBody(t, q)}, nil
}
