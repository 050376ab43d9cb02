package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// Config describes a run. Zero values take the defaults noted per field.
type Config struct {
	URL         string        // base URL of the edge router; required
	Rate        float64       // requests per second; required, > 0
	Duration    time.Duration // length of the schedule; required
	Sessions    int           // concurrent logical users; default 1
	WriteRatio  float64       // share of requests that are writes, 0..1
	ReplayRatio float64       // share of writes re-sent later with the same key and body, 0..1
	ReplayDelay time.Duration // how long after the original a replay is due; default 1s
	Timeout     time.Duration // per request; default 10s
	Grace       time.Duration // how long requests in flight at the end may finish before they are canceled; default Timeout
	MaxRetries  int           // retries of a write whose outcome is unknown; same key, backoff 50ms·2^n with jitter
	MaxWorkers  int           // cap on concurrent requests; default 10000
	Tenants     []string      // default ["default"]
	Questions   []string      // default ["what is the refund policy?"]
	Seed        int64
	Client      *http.Client     // default: a pooled client with no overall timeout
	Clock       func() time.Time // default time.Now
}

// lagBound is how late a request may leave before it counts as lagging.
const lagBound = 25 * time.Millisecond

// Summary is what the generator itself knows about a finished run.
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
	Workers          int           `json:"workers"` // peak worker goroutines
}

// Generator drives one run. Create with New, run once with Run.
type Generator struct {
	cfg     Config
	base    string
	client  *http.Client
	clock   func() time.Time
	regions *regionTable

	rate   atomic.Uint64 // float64 bits
	rateCh chan struct{}
	ran    atomic.Bool

	sessions []session
	noTokens atomic.Bool
	seq      atomic.Uint64

	wmu    sync.Mutex
	writes []*writeState

	// run state, set by Run
	start   time.Time
	obs     Observer
	seen    func(uint8, string)
	reqCtx  context.Context
	jobs    chan job
	wg      sync.WaitGroup
	workers int

	completed, retries, replays, tokens atomic.Int64
}

type session struct {
	mu    sync.Mutex
	id    string
	token string
}

type job struct {
	sched    int64
	kind     Kind
	session  uint32
	tenant   string
	question string
	write    *writeState
	replay   bool
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
	if cfg.WriteRatio < 0 || cfg.WriteRatio > 1 {
		errs = append(errs, fmt.Errorf("load: write ratio %v not in [0,1]", cfg.WriteRatio))
	}
	if cfg.ReplayRatio < 0 || cfg.ReplayRatio > 1 {
		errs = append(errs, fmt.Errorf("load: replay ratio %v not in [0,1]", cfg.ReplayRatio))
	}
	if cfg.MaxRetries < 0 || cfg.MaxRetries > 32 {
		errs = append(errs, fmt.Errorf("load: max retries %d not in [0,32]", cfg.MaxRetries))
	}
	if cfg.Timeout < 0 || cfg.Grace < 0 || cfg.MaxWorkers < 0 || cfg.ReplayDelay < 0 {
		errs = append(errs, errors.New("load: timeout, grace, max workers and replay delay must not be negative"))
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
		cfg.MaxWorkers = 10000
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
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 0
		t.MaxIdleConnsPerHost = 1024
		g.client = &http.Client{Transport: t}
	}
	if g.clock == nil {
		g.clock = time.Now
	}
	g.rate.Store(math.Float64bits(cfg.Rate))
	g.sessions = make([]session, cfg.Sessions)
	for i := range g.sessions {
		g.sessions[i].id = fmt.Sprintf("s-%d-%d", cfg.Seed, i)
	}
	return g, nil
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
	g.jobs = make(chan job)
	g.start = g.clock()

	secs := int(g.cfg.Duration/time.Second) + 2
	due := make([]int, secs)
	sent := make([]int, secs)
	rng := rand.New(rand.NewPCG(uint64(g.cfg.Seed), 0x5eed))
	var (
		p       = pacer{rate: g.Rate()}
		n       uint64
		replays []replayDue
		sum     = Summary{Target: g.cfg.Rate}
		timer   = time.NewTimer(time.Hour)
		end     = g.cfg.Duration
		err     error
	)
	timer.Stop()
loop:
	for ctx.Err() == nil {
		if r := g.Rate(); r != p.rate {
			p = p.rebase(n, g.elapsed(), r)
		}
		d := p.due(n)
		if d >= g.cfg.Duration {
			break
		}
		wait := d - g.elapsed()
		if d < 0 { // paused: wake on a rate change or the end
			wait = g.cfg.Duration - g.elapsed()
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-g.rateCh:
				timer.Stop()
				continue
			case <-ctx.Done():
				timer.Stop()
				break loop
			}
		}
		now := g.elapsed()
		if now >= g.cfg.Duration {
			break
		}
		if d < 0 {
			continue
		}
		j, jerr := g.next(int64(d), rng, &replays)
		if jerr != nil {
			err = jerr
			break
		}
		g.dispatch(j)
		at := g.elapsed()
		if lag := at - d; lag > lagBound {
			sum.Lagged++
			sum.MaxLag = max(sum.MaxLag, lag)
		}
		due[min(int(d/time.Second), secs-1)]++
		sent[min(int(at/time.Second), secs-1)]++
		sum.Sent++
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
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	grace := time.NewTimer(g.cfg.Grace)
	select {
	case <-done:
	case <-grace.C:
		cancelReqs()
		<-done
	}
	grace.Stop()

	for s := range secs {
		sum.Scheduled += due[s]
		if float64(sent[s]) < 0.99*float64(due[s])-1 {
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
	s := uint32(rng.IntN(len(g.sessions)))
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
	return job{
		sched:    sched,
		kind:     KindAsk,
		session:  s,
		tenant:   g.cfg.Tenants[rng.IntN(len(g.cfg.Tenants))],
		question: g.cfg.Questions[rng.IntN(len(g.cfg.Questions))],
	}, nil
}

// dispatch hands j to an idle worker, or starts a new one under the cap,
// and only blocks (falls behind schedule) when the cap is reached.
func (g *Generator) dispatch(j job) {
	select {
	case g.jobs <- j:
		return
	default:
	}
	if g.workers < g.cfg.MaxWorkers {
		g.workers++
		g.wg.Add(1)
		go g.worker(j)
		return
	}
	g.jobs <- j
}

func (g *Generator) worker(first job) {
	defer g.wg.Done()
	g.handle(first)
	for j := range g.jobs {
		g.handle(j)
	}
}

func (g *Generator) handle(j job) {
	if j.kind == KindAsk {
		body, err := json.Marshal(contract.AskRequest{Tenant: j.tenant, Question: j.question})
		if err != nil {
			return // cannot happen for this type
		}
		if rec, _ := g.send(j, body, 0, j.sched); rec.Status != 0 {
			g.completed.Add(1)
		}
		return
	}
	if j.replay {
		g.replays.Add(1)
	}
	sched := j.sched
	for try := 0; ; try++ {
		rec, _ := g.send(j, j.write.body, try, sched)
		if !retryable(rec) || try >= g.cfg.MaxRetries {
			if rec.Status != 0 {
				g.completed.Add(1)
			}
			return
		}
		// Backoff 50ms·2^try with ±50% jitter, seeded by the write id.
		r := rand.New(rand.NewPCG(uint64(g.cfg.Seed), j.write.a.ID<<8|uint64(try)))
		b := time.Duration(float64(50*time.Millisecond<<try) * (0.5 + r.Float64()))
		t := time.NewTimer(b)
		select {
		case <-t.C:
		case <-g.reqCtx.Done(): // retries may go on during the grace, not after
			t.Stop()
			if rec.Status != 0 {
				g.completed.Add(1)
			}
			return
		}
		g.retries.Add(1)
		sched = g.now()
	}
}

// retryable: the outcome is unknown or the refusal is transient, so the
// same key and body may be sent again.
func retryable(rec Record) bool {
	switch rec.Err {
	case ErrCanceled:
		return false
	case ErrConnect, ErrTimeout, ErrBodyRead, ErrStatus5xx, ErrAuth, ErrToolCall:
		return rec.Status < 200 || rec.Status >= 300
	}
	return rec.Status == 409
}

// send performs one attempt and returns its finished record and, for a
// write, the region that acked it.
func (g *Generator) send(j job, body []byte, try int, sched int64) (Record, string) {
	sess := &g.sessions[j.session]
	token := g.token(sess, j.session)
	path := "/ask"
	if j.kind == KindWrite {
		path = "/write"
	}
	rec := Record{Kind: j.kind, Session: j.session, Sched: sched, Replay: j.replay && try == 0}
	if j.write != nil {
		rec.WriteID = j.write.a.ID
	}
	ctx, cancel := context.WithTimeout(g.reqCtx, g.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.base+path, bytes.NewReader(body))
	if err != nil {
		rec.Seq = g.seq.Add(1) - 1
		rec.Start = g.now()
		rec.Err = ErrConnect
		g.obs.Started(rec)
		rec.End = g.now()
		g.obs.Finished(rec)
		return rec, ""
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(contract.HeaderSession, sess.id)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if j.write != nil {
		req.Header.Set(contract.HeaderIdempotencyKey, j.write.a.Key)
	}
	rec.Seq = g.seq.Add(1) - 1
	rec.Start = g.now()
	if j.write != nil {
		rec.Attempt = j.write.begin(rec.Start, j.replay && try == 0)
	}
	g.obs.Started(rec)
	resp, status, data, cls := g.do(req)
	rec.End = g.now()
	rec.Status = status
	rec.Err = cls
	ackedBy := ""
	if resp != nil {
		rec.Region = g.regions.intern(resp.Header.Get(contract.HeaderRegion), g.seen)
		rec.Sticky = g.regions.intern(resp.Header.Get(contract.HeaderStickyRegion), g.seen)
		rec.Cold = truthy(resp.Header.Get(contract.HeaderColdStart))
		switch {
		case status == 401:
			sess.invalidate(token)
		case j.kind == KindAsk && status < 300 && cls == ErrNone:
			var a contract.AskResponse
			if json.Unmarshal(data, &a) == nil {
				rec.Cached = a.Cached
				rec.Cold = rec.Cold || a.Cold
				if rec.Region == 0 && a.Region != "" {
					rec.Region = g.regions.intern(a.Region, g.seen)
				}
			}
		case j.kind == KindWrite && status >= 200 && status < 300:
			var a contract.WriteAck
			if json.Unmarshal(data, &a) == nil && a.Region != "" {
				ackedBy = a.Region
			} else {
				ackedBy = resp.Header.Get(contract.HeaderRegion)
			}
			if rec.Region == 0 && ackedBy != "" {
				rec.Region = g.regions.intern(ackedBy, g.seen)
			}
		}
	}
	if j.write != nil {
		j.write.end(rec, ackedBy)
	}
	g.obs.Finished(rec)
	return rec, ackedBy
}

// do sends req and reads the whole body (up to 1 MiB), classifying failures.
func (g *Generator) do(req *http.Request) (*http.Response, uint16, []byte, ErrClass) {
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, 0, nil, g.classify(req.Context(), err, false)
	}
	defer resp.Body.Close()
	status := uint16(resp.StatusCode)
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp, status, data, g.classify(req.Context(), err, true)
	}
	return resp, status, data, statusClass(status, resp.Header.Get(contract.HeaderToolError) != "")
}

func statusClass(status uint16, toolErr bool) ErrClass {
	switch {
	case toolErr:
		return ErrToolCall
	case status == 401 || status == 403:
		return ErrAuth
	case status >= 500:
		return ErrStatus5xx
	case status >= 400:
		return ErrStatus4xx
	}
	return ErrNone
}

// token returns the session's bearer token, fetching one on first use or
// after a 401. An empty token means the target gave none.
func (g *Generator) token(s *session, idx uint32) string {
	if g.noTokens.Load() {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" {
		return s.token
	}
	body, _ := json.Marshal(map[string]string{"session": s.id})
	ctx, cancel := context.WithTimeout(g.reqCtx, g.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.base+"/token", bytes.NewReader(body))
	if err != nil {
		return ""
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(contract.HeaderSession, s.id)
	g.tokens.Add(1)
	rec := Record{Seq: g.seq.Add(1) - 1, Kind: KindToken, Session: idx}
	rec.Start = g.now()
	rec.Sched = rec.Start
	g.obs.Started(rec)
	resp, status, data, cls := g.do(req)
	rec.End, rec.Status, rec.Err = g.now(), status, cls
	if resp != nil {
		rec.Region = g.regions.intern(resp.Header.Get(contract.HeaderRegion), g.seen)
		rec.Sticky = g.regions.intern(resp.Header.Get(contract.HeaderStickyRegion), g.seen)
	}
	g.obs.Finished(rec)
	switch {
	case status == 404 || status == 405:
		g.noTokens.Store(true) // the target does not issue tokens
	case status >= 200 && status < 300:
		var t struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(data, &t) != nil || t.Token == "" {
			g.noTokens.Store(true) // 2xx without a token: the target does not use them
		}
		s.token = t.Token
	}
	return s.token
}

func (s *session) invalidate(used string) {
	s.mu.Lock()
	if s.token == used {
		s.token = ""
	}
	s.mu.Unlock()
}

func truthy(v string) bool {
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err != nil || b // any non-boolean value present counts as set
}
