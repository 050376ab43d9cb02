package load_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/load"
)

// region is a minimal stand-in for the edge: /token, /ask and /write with a
// hook to change the answer per request.
type region struct {
	mu     sync.Mutex
	writes map[string][]string // key -> body hashes received
	hook   func(w http.ResponseWriter, r *http.Request, n int) bool
	n      int
}

func (rg *region) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rg.mu.Lock()
	rg.n++
	n := rg.n
	if r.URL.Path == "/write" {
		if rg.writes == nil {
			rg.writes = map[string][]string{}
		}
		sum := sha256.Sum256(body)
		k := r.Header.Get(contract.HeaderIdempotencyKey)
		rg.writes[k] = append(rg.writes[k], hex.EncodeToString(sum[:]))
	}
	hook := rg.hook
	rg.mu.Unlock()
	if hook != nil && hook(w, r, n) {
		return
	}
	w.Header().Set(contract.HeaderRegion, "eu-west")
	w.Header().Set(contract.HeaderStickyRegion, "eu-west")
	switch r.URL.Path {
	case "/token":
		json.NewEncoder(w).Encode(map[string]string{"token": "tok", "kid": "k1"})
	case "/ask":
		json.NewEncoder(w).Encode(contract.AskResponse{Region: "eu-west", Answer: "a", Cached: true})
	case "/write":
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(contract.WriteAck{Key: r.Header.Get(contract.HeaderIdempotencyKey), Region: "eu-west", Status: "queued"})
	default:
		http.NotFound(w, r)
	}
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

// orderObserver checks that every request is announced before it ends.
type orderObserver struct {
	*load.Recorder
	mu      sync.Mutex
	started map[uint64]bool
	bad     int
}

func (o *orderObserver) Started(r load.Record) {
	o.mu.Lock()
	if r.End != 0 {
		o.bad++
	}
	o.started[r.Seq] = true
	o.mu.Unlock()
	o.Recorder.Started(r)
}

func (o *orderObserver) Finished(r load.Record) {
	o.mu.Lock()
	if !o.started[r.Seq] || r.End == 0 {
		o.bad++
	}
	o.mu.Unlock()
	o.Recorder.Finished(r)
}

func run(t *testing.T, cfg load.Config) (*load.Generator, *load.Summary, *load.Recorder) {
	t.Helper()
	g, err := load.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := load.NewRecorder()
	sum, err := g.Run(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	return g, sum, rec
}

func count(recs []load.Record, k load.Kind) int {
	n := 0
	for _, r := range recs {
		if r.Kind == k {
			n++
		}
	}
	return n
}

func TestRunHoldsRate(t *testing.T) {
	url := serve(t, &region{})
	g, err := load.New(load.Config{URL: url, Rate: 200, Duration: 2 * time.Second, Sessions: 4, WriteRatio: 0.2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	obs := &orderObserver{Recorder: load.NewRecorder(), started: map[uint64]bool{}}
	sum, err := g.Run(context.Background(), obs)
	if err != nil {
		t.Fatal(err)
	}
	recs := obs.Records()
	sent := count(recs, load.KindAsk) + count(recs, load.KindWrite)
	if sent < 392 || sent > 408 || sum.Sent != sent {
		t.Fatalf("sent %d records (summary %d), want 400 ±2%%", sent, sum.Sent)
	}
	if sum.Scheduled != 400 {
		t.Errorf("scheduled = %d, want 400", sum.Scheduled)
	}
	if obs.bad != 0 {
		t.Errorf("%d records were not announced before they ended", obs.bad)
	}
	if got := count(recs, load.KindToken); got != 4 {
		t.Errorf("token fetches = %d, want one per session (4)", got)
	}
	regions := obs.Regions()
	for _, r := range recs {
		if r.End == 0 || r.Err != load.ErrNone || regions[r.Region] != "eu-west" || regions[r.Sticky] != "eu-west" {
			t.Fatalf("bad record %+v (regions %v)", r, regions)
		}
		if r.Kind == load.KindAsk && !r.Cached {
			t.Fatalf("ask record lost the cached flag: %+v", r)
		}
	}
	if gr := g.Regions(); len(gr) != 2 || gr[1] != "eu-west" {
		t.Errorf("generator regions = %v", gr)
	}
	for _, w := range g.Writes() {
		if w.Outcome != load.OutcomeAcked || w.AckedBy != "eu-west" {
			t.Fatalf("write %+v not acked by eu-west", w)
		}
	}
}

func TestLatencyFromScheduledTime(t *testing.T) {
	var once sync.Once
	url := serve(t, &region{hook: func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/ask" {
			once.Do(func() { time.Sleep(300 * time.Millisecond) })
		}
		return false
	}})
	// One worker: while it is stuck, later requests leave late. Their latency
	// must still count from when they were due.
	_, sum, rec := run(t, load.Config{URL: url, Rate: 50, Duration: 600 * time.Millisecond, MaxWorkers: 1})
	checked := 0
	for _, r := range rec.Records() {
		if r.Kind != load.KindAsk || r.Sched <= 0 || r.Sched > int64(250*time.Millisecond) {
			continue
		}
		checked++
		want := int64(300*time.Millisecond) - r.Sched - int64(20*time.Millisecond)
		if r.Latency() < want {
			t.Errorf("request due at %v has latency %v, want >= %v (queueing hidden)", time.Duration(r.Sched), time.Duration(r.Latency()), time.Duration(want))
		}
		if service := r.End - r.Start; service > int64(100*time.Millisecond) {
			t.Errorf("request due at %v: service time %v, expected fast once the stall ended", time.Duration(r.Sched), time.Duration(service))
		}
	}
	if checked < 5 {
		t.Fatalf("only %d requests scheduled during the stall", checked)
	}
	if !sum.GeneratorLimited || sum.Lagged == 0 {
		t.Errorf("a stall with one worker must be reported as generator-limited: %+v", sum)
	}
}

func TestGeneratorLimitedReported(t *testing.T) {
	url := serve(t, &region{hook: func(w http.ResponseWriter, r *http.Request, n int) bool {
		time.Sleep(40 * time.Millisecond)
		return false
	}})
	_, sum, _ := run(t, load.Config{URL: url, Rate: 100, Duration: time.Second, MaxWorkers: 1})
	if !sum.GeneratorLimited {
		t.Fatalf("100 req/s with one worker against a 40ms server is impossible, not reported: %+v", sum)
	}
	if sum.Sent >= 60 || sum.WindowsBelow99 == 0 || sum.Delivered >= 60 {
		t.Errorf("summary does not show the shortfall: %+v", sum)
	}
}

func TestRetriesReuseKeyAndBody(t *testing.T) {
	rg := &region{}
	seen := map[string]int{}
	rg.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != "/write" {
			return false
		}
		k := r.Header.Get(contract.HeaderIdempotencyKey)
		seen[k]++ // hook runs outside rg.mu, but writes are serialised below
		if seen[k] == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	var mu sync.Mutex
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { mu.Lock(); defer mu.Unlock(); rg.ServeHTTP(w, r) })
	g, sum, rec := run(t, load.Config{URL: serve(t, h), Rate: 20, Duration: 500 * time.Millisecond, WriteRatio: 1, MaxRetries: 3, Seed: 7})
	ws := g.Writes()
	if len(ws) != 10 || sum.Retries != 10 {
		t.Fatalf("writes %d retries %d, want 10 and 10", len(ws), sum.Retries)
	}
	for _, w := range ws {
		if w.Key != load.WriteKey(7, w.ID) {
			t.Errorf("key %q not derived from seed and id", w.Key)
		}
		hashes := rg.writes[w.Key]
		if len(hashes) != 2 || hashes[0] != hashes[1] || hashes[0] != w.BodyHash {
			t.Errorf("write %d: server saw hashes %v, client hash %s", w.ID, hashes, w.BodyHash)
		}
		if w.Outcome != load.OutcomeAcked || w.Attempts != 2 {
			t.Errorf("write %+v: want acked after 2 attempts", w)
		}
	}
	attempts := map[uint64][]uint8{}
	for _, r := range rec.Records() {
		if r.Kind == load.KindWrite {
			attempts[r.WriteID] = append(attempts[r.WriteID], r.Attempt)
		}
	}
	for id, a := range attempts {
		if len(a) != 2 || a[0] != 0 || a[1] != 1 {
			t.Errorf("write %d attempt numbers %v, want [0 1]", id, a)
		}
	}
}

func TestReplaySendsSameKeyAndBody(t *testing.T) {
	rg := &region{}
	g, sum, rec := run(t, load.Config{URL: serve(t, rg), Rate: 20, Duration: 600 * time.Millisecond, WriteRatio: 1, ReplayRatio: 1, ReplayDelay: 200 * time.Millisecond, Seed: 3})
	if sum.Replays == 0 {
		t.Fatal("no replays sent")
	}
	replayed := 0
	for _, w := range g.Writes() {
		if !w.Replayed {
			continue
		}
		replayed++
		hashes := rg.writes[w.Key]
		if len(hashes) != 2 || hashes[0] != hashes[1] || hashes[0] != w.BodyHash {
			t.Errorf("replayed write %d: server saw %v, client hash %s", w.ID, hashes, w.BodyHash)
		}
	}
	flagged := 0
	for _, r := range rec.Records() {
		if r.Replay {
			flagged++
		}
	}
	if replayed != sum.Replays || flagged != sum.Replays {
		t.Errorf("replays: summary %d, writes marked %d, records flagged %d", sum.Replays, replayed, flagged)
	}
}

func TestWriteOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		status  int // 0: hang past the timeout
		retries int
		want    load.Outcome
		class   load.ErrClass
	}{
		{"timeout is indeterminate", 0, 0, load.OutcomeIndeterminate, load.ErrTimeout},
		{"5xx is indeterminate", 500, 1, load.OutcomeIndeterminate, load.ErrStatus5xx},
		{"409 in flight is indeterminate", 409, 0, load.OutcomeIndeterminate, load.ErrStatus4xx},
		{"422 is a refusal", 422, 2, load.OutcomeFailed, load.ErrStatus4xx},
		{"403 is a refusal", 403, 0, load.OutcomeFailed, load.ErrAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := serve(t, &region{hook: func(w http.ResponseWriter, r *http.Request, n int) bool {
				if r.URL.Path != "/write" {
					return false
				}
				if tt.status == 0 {
					<-r.Context().Done()
					return true
				}
				w.WriteHeader(tt.status)
				return true
			}})
			g, _, rec := run(t, load.Config{URL: url, Rate: 10, Duration: 150 * time.Millisecond, WriteRatio: 1, Timeout: 100 * time.Millisecond, Grace: 2 * time.Second, MaxRetries: tt.retries})
			ws := g.Writes()
			if len(ws) != 2 {
				t.Fatalf("%d writes, want 2", len(ws))
			}
			for _, w := range ws {
				if w.Outcome != tt.want {
					t.Errorf("write %d outcome %v, want %v", w.ID, w.Outcome, tt.want)
				}
			}
			for _, r := range rec.Records() {
				if r.Kind == load.KindWrite && r.Err != tt.class {
					t.Errorf("record class %v, want %v", r.Err, tt.class)
				}
			}
		})
	}
}

func TestConnectErrorIsDefiniteFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	g, _, rec := run(t, load.Config{URL: "http://" + addr, Rate: 10, Duration: 100 * time.Millisecond, WriteRatio: 1, Timeout: time.Second})
	for _, r := range rec.Records() {
		if r.Err != load.ErrConnect {
			t.Errorf("record %+v: want connect error", r)
		}
	}
	for _, w := range g.Writes() {
		if w.Outcome != load.OutcomeFailed {
			t.Errorf("write over a refused connection: outcome %v, want failed", w.Outcome)
		}
	}
}

func TestInFlightAtEndIsCanceled(t *testing.T) {
	url := serve(t, &region{hook: func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/write" {
			<-r.Context().Done()
			return true
		}
		return false
	}})
	g, _, rec := run(t, load.Config{URL: url, Rate: 10, Duration: 50 * time.Millisecond, WriteRatio: 1, Timeout: 5 * time.Second, Grace: 50 * time.Millisecond})
	for _, r := range rec.Records() {
		if r.Kind == load.KindWrite && (r.Err != load.ErrCanceled || r.End == 0) {
			t.Errorf("record %+v: want canceled with an end time", r)
		}
	}
	if ws := g.Writes(); len(ws) != 1 || ws[0].Outcome != load.OutcomeIndeterminate {
		t.Errorf("writes %+v: want one indeterminate", ws)
	}
}

func TestTokenRefreshAfter401(t *testing.T) {
	var mu sync.Mutex
	tokens := 0
	url := serve(t, &region{hook: func(w http.ResponseWriter, r *http.Request, n int) bool {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/token":
			tokens++
			json.NewEncoder(w).Encode(map[string]string{"token": map[int]string{1: "old", 2: "new"}[tokens], "kid": "k"})
			return true
		case "/ask":
			if r.Header.Get("Authorization") != "Bearer new" {
				w.WriteHeader(http.StatusUnauthorized)
				return true
			}
		}
		return false
	}})
	_, _, rec := run(t, load.Config{URL: url, Rate: 20, Duration: 250 * time.Millisecond})
	recs := rec.Records()
	if got := count(recs, load.KindToken); got != 2 {
		t.Fatalf("token fetches %d, want 2 (first use, after 401)", got)
	}
	auth, ok := 0, 0
	for _, r := range recs {
		if r.Kind != load.KindAsk {
			continue
		}
		switch r.Err {
		case load.ErrAuth:
			auth++
		case load.ErrNone:
			ok++
		}
	}
	if auth != 1 || ok != 4 {
		t.Errorf("asks: %d auth errors, %d ok; want 1 and 4", auth, ok)
	}
}

func TestSetRatePauses(t *testing.T) {
	url := serve(t, &region{})
	g, err := load.New(load.Config{URL: url, Rate: 100, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	obs := &pauseAt{Recorder: load.NewRecorder(), g: g, at: 5}
	sum, err := g.Run(context.Background(), obs)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sent > 10 {
		t.Errorf("sent %d after pausing at the 5th request, want about 5", sum.Sent)
	}
}

type pauseAt struct {
	*load.Recorder
	g  *load.Generator
	at uint64
}

func (p *pauseAt) Started(r load.Record) {
	if r.Seq == p.at {
		p.g.SetRate(0)
	}
	p.Recorder.Started(r)
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []load.Config{
		{Rate: 1, Duration: time.Second},
		{URL: "http://x", Rate: 0, Duration: time.Second},
		{URL: "http://x", Rate: 1},
		{URL: "http://x", Rate: 1, Duration: time.Second, WriteRatio: 2},
		{URL: "http://x", Rate: 1, Duration: time.Second, MaxRetries: -1},
	}
	for i, cfg := range tests {
		if _, err := load.New(cfg); err == nil {
			t.Errorf("config %d accepted: %+v", i, cfg)
		}
	}
}

func TestErrClassText(t *testing.T) {
	for c := load.ErrNone; c < load.NumErrClasses; c++ {
		b, _ := c.MarshalText()
		var back load.ErrClass
		if err := back.UnmarshalText(b); err != nil || back != c {
			t.Errorf("%v does not round-trip: %q %v", c, b, err)
		}
	}
}
