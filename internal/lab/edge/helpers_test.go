package edge_test

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/edge"
)

// region is a fake region with a controllable /health.
type region struct {
	name    string
	srv     *httptest.Server
	health  atomic.Pointer[contract.Health]
	bare    atomic.Bool // /health answers a bare 200
	hang    atomic.Bool // every request hangs until the client gives up
	traffic atomic.Int64
	release chan struct{}
}

func newRegion(t *testing.T, name string, role contract.Role, indexHash string) *region {
	t.Helper()
	rg := &region{name: name, release: make(chan struct{})}
	rg.health.Store(&contract.Health{
		Region: name, Ready: true, Role: role, Epoch: 1, Primary: "r1",
		IndexHash: indexHash, SchemaRev: "s1", ModelTag: "m1",
	})
	rg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rg.hang.Load() {
			select {
			case <-r.Context().Done():
			case <-rg.release:
			}
			return
		}
		if r.URL.Path == "/health" {
			if rg.bare.Load() {
				return
			}
			_ = json.NewEncoder(w).Encode(rg.health.Load())
			return
		}
		rg.traffic.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set(contract.HeaderRegion, name)
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(func() { close(rg.release); rg.srv.Close() })
	return rg
}

// setHealth edits a copy of the region's health.
func (rg *region) setHealth(f func(h *contract.Health)) {
	h := *rg.health.Load()
	f(&h)
	rg.health.Store(&h)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// lab builds a router over the regions with a fake clock and fixed seed;
// it is not started: tests drive health rounds with CheckNow.
func lab(t *testing.T, mut func(*edge.Config), regions ...*region) (*edge.Router, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg := edge.Config{
		Clock:      clk.Now,
		Rand:       rand.New(rand.NewPCG(1, 2)),
		Token:      "tok",
		Hysteresis: 10 * time.Second,
		TryTimeout: 500 * time.Millisecond,
	}
	for _, rg := range regions {
		cfg.Backends = append(cfg.Backends, edge.Backend{Name: rg.name, URL: rg.srv.URL})
	}
	return newRouter(t, cfg, mut), clk
}

// newRouter applies mut to cfg and builds a router closed at cleanup.
func newRouter(t *testing.T, cfg edge.Config, mut func(*edge.Config)) *edge.Router {
	t.Helper()
	if mut != nil {
		mut(&cfg)
	}
	r, err := edge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// send routes one request through the router and returns the recorder.
func send(r http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"tenant":"t","question":"q"}`)
	}
	req := httptest.NewRequest(method, path, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

func status(r *edge.Router, name string) edge.BackendStatus {
	for _, s := range r.Status() {
		if s.Name == name {
			return s
		}
	}
	return edge.BackendStatus{}
}

func httptestRequest(method, path, body string) *http.Request {
	return httptest.NewRequest(method, path, strings.NewReader(body))
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
