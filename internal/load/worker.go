package load

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

const (
	maxAskBodies = 1 << 16  // above this many (tenant, question) pairs, ask bodies are built per request
	maxBody      = 1 << 20  // response bytes read; the rest is discarded
	keepBuf      = 64 << 10 // a worker keeps a body buffer up to this size between requests
)

// defaultTransport keeps one idle connection per possible worker, asks for
// no compression (nothing here reads large bodies) and never tries HTTP/2.
func defaultTransport(maxWorkers int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = maxWorkers
	t.DisableCompression = true
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	return t
}

// dispatch hands j to the workers without waiting for one to run. A job
// that finds every worker busy waits in the channel, and grow adds workers
// for waiting jobs at a bounded pace, so a burst of due slots that the busy
// workers clear in a moment does not start (and connect) a worker each.
// dispatch blocks, and the schedule falls behind, only while MaxWorkers jobs
// are out.
func (g *Generator) dispatch(j job, now time.Duration) {
	select {
	case g.slots <- struct{}{}:
	default:
		g.awaitSlot(now)
	}
	g.pending.Add(1)
	if g.workers == 0 {
		g.spawn()
	} else {
		g.grow(now)
	}
	g.jobs <- j // never blocks: the buffer holds MaxWorkers
	g.sentAt[g.enqueued%uint64(len(g.sentAt))] = int64(now)
	g.enqueued++
}

// awaitSlot waits for a job to end while MaxWorkers are out, still adding
// workers for the jobs that wait for one.
func (g *Generator) awaitSlot(now time.Duration) {
	for {
		w, ok := g.growDue(now)
		if !ok {
			g.slots <- struct{}{}
			return
		}
		g.growTimer.Reset(w)
		select {
		case g.slots <- struct{}{}:
			g.growTimer.Stop()
			return
		case <-g.growTimer.C:
			now = g.elapsed()
			g.grow(now)
		}
	}
}

// spawnAfter is how long a job may wait for a busy worker before workers
// are added, and the least time between two additions; each adds one
// worker per waiting job, at most an eighth more than there are.
const spawnAfter = 2 * time.Millisecond

// grow adds workers for the jobs that have waited spawnAfter or longer.
func (g *Generator) grow(now time.Duration) {
	if _, ok := g.growDue(now); !ok || now-g.grownAt < spawnAfter {
		return
	}
	q := uint64(len(g.jobs))
	budget := max(1, g.workers/8)
	for i := g.enqueued - q; i < g.enqueued && budget > 0; i++ {
		if now-time.Duration(g.sentAt[i%uint64(len(g.sentAt))]) < spawnAfter ||
			g.workers >= g.cfg.MaxWorkers || int64(g.workers) >= g.pending.Load() {
			break
		}
		g.spawn()
		budget--
		g.grownAt = now
	}
}

// growDue says how long until grow would add a worker; ok is false if no
// job is waiting for a busy worker.
func (g *Generator) growDue(now time.Duration) (time.Duration, bool) {
	q := uint64(len(g.jobs))
	if q == 0 || g.workers >= g.cfg.MaxWorkers || int64(g.workers) >= g.pending.Load() {
		return 0, false
	}
	at := time.Duration(g.sentAt[(g.enqueued-q)%uint64(len(g.sentAt))]) + spawnAfter
	at = max(at, g.grownAt+spawnAfter)
	return max(at-now, time.Microsecond), true
}

func (g *Generator) spawn() {
	w := newWorker(g)
	g.workers++
	g.wg.Add(1)
	go g.work(w)
}

// work runs jobs one at a time.
func (g *Generator) work(w *worker) {
	defer g.wg.Done()
	defer w.stop()
	for j := range g.jobs {
		g.handle(w, j)
		if cap(w.buf) > keepBuf {
			w.buf = make([]byte, 0, 4096)
		}
		g.pending.Add(-1)
		<-g.slots
	}
}

// noteSent counts a scheduled request leaving at start (ns since run start).
func (g *Generator) noteSent(start, sched int64) {
	g.sentN.Add(1)
	g.sentSec[min(start/int64(time.Second), int64(len(g.sentSec)-1))].Add(1)
	if lag := start - sched; lag > int64(lagBound) {
		g.lagged.Add(1)
		for m := g.maxLag.Load(); lag > m && !g.maxLag.CompareAndSwap(m, lag); m = g.maxLag.Load() {
		}
	}
}

func (g *Generator) handle(w *worker, j job) {
	if j.kind == KindAsk {
		if rec, _ := g.send(w, j, j.body, 0, j.sched); rec.Status != 0 {
			g.completed.Add(1)
		}
		return
	}
	if j.replay {
		g.replays.Add(1)
	}
	sched := j.sched
	for try := 0; ; try++ {
		rec, _ := g.send(w, j, j.write.body, try, sched)
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

// Shared, never modified header values.
var (
	valJSON = []string{"application/json"}
)

// newRequest builds a POST of body to the URL for kind. hdr is not copied:
// the transport only reads it.
func (g *Generator) newRequest(ctx context.Context, kind Kind, hdr http.Header, body []byte) *http.Request {
	u := g.urls[kind]
	req := http.Request{
		Method:        http.MethodPost,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        hdr,
		Body:          io.NopCloser(bytes.NewReader(body)),
		GetBody:       func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
		ContentLength: int64(len(body)),
		Host:          u.Host,
	}
	return req.WithContext(ctx)
}

// send performs one attempt and returns its finished record and, for a
// write, the region that acked it.
func (g *Generator) send(w *worker, j job, body []byte, try int, sched int64) (Record, string) {
	sess := j.session
	token, hdr, refused := g.token(w, sess)
	rec := Record{Kind: j.kind, Session: sess.num, Sched: sched, Replay: j.replay && try == 0}
	if refused != nil {
		return g.unsent(j, rec, refused, try), ""
	}
	if j.write != nil {
		rec.WriteID = j.write.a.ID
		h := make(http.Header, len(hdr)+1)
		for k, v := range hdr {
			h[k] = v
		}
		h[contract.HeaderIdempotencyKey] = j.write.keyVal
		hdr = h
	}
	rec.Seq = g.seq.Add(1) - 1
	rec.Start = g.now()
	if try == 0 {
		g.noteSent(rec.Start, sched)
	}
	if j.write != nil {
		rec.Attempt = j.write.begin(rec.Start, j.replay && try == 0)
	}
	g.obs.Started(rec)
	resp, status, data, cls := g.do(w, rec.Start, j.kind, hdr, body)
	rec.End = g.now()
	rec.Status = status
	rec.Err = cls
	ackedBy := ""
	if resp != nil {
		rec.Region = g.regions.intern(header(resp.Header, contract.HeaderRegion), g.seen)
		rec.Sticky = g.regions.intern(header(resp.Header, contract.HeaderStickyRegion), g.seen)
		rec.Cold = truthy(header(resp.Header, contract.HeaderColdStart))
		switch {
		case status == 401:
			sess.invalidate(token)
		case j.kind == KindAsk && status < 300 && cls == ErrNone:
			if a, ok := scanAsk(data); ok {
				rec.Cached = a.cached
				rec.Cold = rec.Cold || a.cold
				if rec.Region == 0 && len(a.region) > 0 {
					rec.Region = g.regions.internBytes(a.region, g.seen)
				}
			}
		case j.kind == KindWrite && status >= 200 && status < 300:
			var a contract.WriteAck
			if json.Unmarshal(data, &a) == nil && a.Region != "" {
				ackedBy = a.Region
			} else {
				ackedBy = header(resp.Header, contract.HeaderRegion)
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

// do sends a request, leaving at start (ns since run start), and reads the body (up to maxBody) into w's buffer,
// classifying failures. The returned bytes are valid until w's next request.
func (g *Generator) do(w *worker, start int64, kind Kind, hdr http.Header, body []byte) (*http.Response, uint16, []byte, ErrClass) {
	req := g.newRequest(w.begin(g, time.Duration(start)), kind, hdr, body)
	defer w.end()
	var (
		resp *http.Response
		err  error
	)
	if g.rt != nil {
		resp, err = g.rt.RoundTrip(req)
	} else {
		resp, err = g.client.Do(req)
	}
	if err != nil {
		return nil, 0, nil, g.classify(req.Context(), err, false)
	}
	defer resp.Body.Close()
	status := uint16(resp.StatusCode)
	w.buf, err = readBody(resp.Body, w.buf[:0])
	if err != nil {
		return resp, status, w.buf, g.classify(req.Context(), err, true)
	}
	return resp, status, w.buf, statusClass(status, header(resp.Header, contract.HeaderToolError) != "")
}

// readBody appends r's bytes to b until EOF or maxBody bytes.
func readBody(r io.Reader, b []byte) ([]byte, error) {
	for len(b) < maxBody {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):min(cap(b), maxBody)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
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

// unsent finishes the record of a request its client could not send: its
// session has no token and the fetch of one failed. A client cannot call
// the service without one, so the request fails the way the fetch did
// (its status, class and region, over its time) and is never sent: sent
// without a token, it would come back 401 and read as an auth failure the
// target never made (a new session's fetch into a blackholed region did
// exactly that). An unsent write attempt leaves its write as it was: it
// was not delivered, and the write is retried as after a failed dial. It
// counts in Summary.Completed when its fetch got a response, as the
// response the client got for it.
func (g *Generator) unsent(j job, rec Record, fetch *Record, try int) Record {
	rec.Seq = g.seq.Add(1) - 1
	rec.Start = fetch.Start
	if try == 0 {
		g.noteSent(rec.Start, rec.Sched)
	}
	if j.write != nil {
		rec.WriteID = j.write.a.ID
	}
	g.obs.Started(rec)
	rec.End, rec.Status, rec.Err, rec.Region = fetch.End, fetch.Status, fetch.Err, fetch.Region
	if rec.Err == ErrNone { // answered, yet no token: a 4xx or an odd 3xx
		rec.Err = statusClass(rec.Status, false)
	}
	g.obs.Finished(rec)
	return rec
}

// token returns the session's bearer token, fetching one on first use or
// after a 401, and the session's request headers carrying it. An empty
// token means the target gave none. refused is the failed fetch's record
// when the session has no token and could not get one.
func (g *Generator) token(w *worker, s *session) (token string, hdr http.Header, refused *Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.noTokens.Load() && s.token != "" {
		s.setToken("") // another session learned that the target issues none
	}
	if s.token != "" || g.noTokens.Load() {
		return s.token, s.header(), nil
	}
	body, _ := json.Marshal(map[string]string{"session": s.id})
	g.tokens.Add(1)
	rec := Record{Seq: g.seq.Add(1) - 1, Kind: KindToken, Session: s.num}
	rec.Start = g.now()
	rec.Sched = rec.Start
	g.obs.Started(rec)
	fetch := http.Header{"Content-Type": valJSON, contract.HeaderSession: s.idVal}
	if g.cfg.TokenAuth != "" {
		fetch["Authorization"] = []string{"Bearer " + g.cfg.TokenAuth}
	}
	resp, status, data, cls := g.do(w, rec.Start, KindToken, fetch, body)
	rec.End, rec.Status, rec.Err = g.now(), status, cls
	if resp != nil {
		rec.Region = g.regions.intern(header(resp.Header, contract.HeaderRegion), g.seen)
		rec.Sticky = g.regions.intern(header(resp.Header, contract.HeaderStickyRegion), g.seen)
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
		s.setToken(t.Token)
	}
	if s.token == "" && !g.noTokens.Load() {
		return "", nil, &rec
	}
	return s.token, s.header(), nil
}

// header returns the session's request headers for its current token,
// built once per token. Callers must not modify it. s.mu must be held.
func (s *session) header() http.Header {
	if s.hdr == nil {
		s.hdr = http.Header{"Content-Type": valJSON, contract.HeaderSession: s.idVal}
		if s.token != "" {
			s.hdr["Authorization"] = []string{"Bearer " + s.token}
		}
	}
	return s.hdr
}

// setToken replaces the token and drops the headers built for the old one.
// s.mu must be held.
func (s *session) setToken(t string) {
	s.token = t
	s.hdr = nil
}

func (s *session) invalidate(used string) {
	s.mu.Lock()
	if s.token == used {
		s.setToken("")
	}
	s.mu.Unlock()
}

// header is h.Get(key) for a key already in canonical form, as the
// contract's are.
func header(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func truthy(v string) bool {
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err != nil || b // any non-boolean value present counts as set
}
