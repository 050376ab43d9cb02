package writepath_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/regiondrill/regiondrill/internal/natsauth"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/webhook"
	"github.com/regiondrill/regiondrill/internal/lab/writepath"
)

// fakeClock is the injected clock of a lab.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// toggle is a TCP relay that can cut every connection (a reachable/unreachable switch).
type toggle struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	down     bool
	conns    map[net.Conn]bool
}

func newToggle(t *testing.T, upstream string) *toggle {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &toggle{ln: ln, upstream: upstream, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { _ = ln.Close(); p.setDown(true) })
	return p
}

func (p *toggle) addr() string { return p.ln.Addr().String() }

func (p *toggle) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.upstream)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c], p.conns[u] = true, true
		p.mu.Unlock()
		go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
		go func() { _, _ = io.Copy(c, u); _ = c.Close() }()
	}
}

func (p *toggle) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			_ = c.Close()
		}
		clear(p.conns)
	}
}

// ledgerAuth is the one user the test ledger accepts.
var ledgerAuth = natsauth.Credentials{User: "ledger", Password: "ledger-secret"}

// lab is a set of regions on loopback with a ledger, a sink and a clock.
type lab struct {
	t       *testing.T
	names   []string
	clock   *fakeClock
	ledger  *toggle
	sink    *webhook.Sink
	sinkURL string
	keys    webhook.StaticKeys
	faults  writepath.Faults
	mu      sync.Mutex
	peers   map[string]string // region → base URL other regions use
	regions map[string]*region
	dirs    map[string]string
}

type region struct {
	name string
	path *writepath.Path
	url  string
	srv  *http.Server
}

func newLab(t *testing.T, faults writepath.Faults, names ...string) *lab {
	t.Helper()
	ledgerURL, shutdown, err := writepath.StartLedgerServer(t.TempDir(), ledgerAuth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shutdown)
	l := &lab{
		t: t, names: names, clock: &fakeClock{}, faults: faults,
		keys:    webhook.StaticKeys{Signing: []string{"k1"}, Secrets: map[string][]byte{"k1": []byte("s1")}},
		peers:   map[string]string{},
		regions: map[string]*region{},
		dirs:    map[string]string{},
	}
	l.clock.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	l.ledger = newToggle(t, ledgerURL[len("nats://"):])
	l.sink = webhook.NewSink(l.keys, l.clock.now, 0)
	if l.sinkURL, err = l.sink.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.sink.Close() })
	for _, n := range names {
		l.dirs[n] = t.TempDir()
	}
	return l
}

// startAll starts every region with the first one primary at epoch 1.
func (l *lab) startAll() {
	for _, n := range l.names {
		l.start(n, nil)
	}
}

func (l *lab) peerURL(r string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peers[r]
}

func (l *lab) setPeer(r, url string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.peers[r] = url
}

func (l *lab) start(name string, edit func(*writepath.Config)) *region {
	l.t.Helper()
	cfg := writepath.Config{
		Region:        name,
		DataDir:       l.dirs[name],
		LedgerURL:     "nats://" + l.ledger.addr(),
		LedgerAuth:    ledgerAuth,
		PeerURL:       l.peerURL,
		InternalToken: "internal-secret",
		Webhook:       &webhook.Client{URL: l.sinkURL + "/hook", Region: name, Keys: l.keys, Clock: l.clock.now},
		Faults:        l.faults,
		Clock:         l.clock.now,
		Primary:       l.names[0],
		Epoch:         1,
		Regions:       l.names,
		RetryMax:      200 * time.Millisecond,
	}
	if os.Getenv("WRITEPATH_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := writepath.Open(context.Background(), cfg)
	if err != nil {
		l.t.Fatalf("open %s: %v", name, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l.t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Register(mux)
	r := &region{name: name, path: p, url: "http://" + ln.Addr().String(), srv: &http.Server{Handler: mux}}
	srv := r.srv
	go func() { _ = srv.Serve(ln) }()
	l.mu.Lock()
	l.regions[name] = r
	l.mu.Unlock()
	l.setPeer(name, r.url)
	l.t.Cleanup(r.stop)
	return r
}

func (r *region) stop() {
	if r.srv == nil {
		return
	}
	_ = r.srv.Close()
	r.srv = nil
	_ = r.path.Close()
}

func (l *lab) r(name string) *region {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.regions[name]
}

// promote tells every running region that primary holds epoch.
func (l *lab) promote(primary string, epoch uint64) {
	l.t.Helper()
	for _, n := range l.names {
		if r := l.r(n); r != nil && r.srv != nil {
			if err := r.path.Promote(primary, epoch); err != nil {
				l.t.Fatal(err)
			}
		}
	}
}

func (l *lab) setEmitFrom(regions ...string) {
	for _, n := range l.names {
		if r := l.r(n); r != nil && r.srv != nil {
			r.path.SetEmitFrom(regions)
		}
	}
}

// settled waits until every running region's queues are empty.
func (l *lab) settled() {
	l.t.Helper()
	waitFor(l.t, "queues drained", func() bool {
		for _, n := range l.names {
			if r := l.r(n); r != nil && r.srv != nil {
				if s := r.path.Stats(); s.Backlog != 0 || s.WebhookBacklog != 0 {
					return false
				}
			}
		}
		return true
	})
}

// stored returns every stored record with key across running regions.
func (l *lab) stored(key string) []contract.StoredWrite {
	l.t.Helper()
	var out []contract.StoredWrite
	for _, n := range l.names {
		r := l.r(n)
		if r == nil || r.srv == nil {
			continue
		}
		ws := getWrites(l.t, r.url)
		if ws.Region != n {
			l.t.Fatalf("GET /writes on %s says region %q", n, ws.Region)
		}
		for _, w := range ws.Writes {
			if w.Key == key {
				out = append(out, w)
			}
		}
	}
	return out
}

func (l *lab) deliveriesOf(id string) []contract.Delivery {
	var out []contract.Delivery
	for _, d := range l.sink.Deliveries() {
		if d.ID == id {
			out = append(out, d)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeBody(eventID string, rev int, payload string) []byte {
	b, _ := json.Marshal(contract.WriteRequest{Tenant: "acme", EventID: eventID, Rev: rev, Payload: payload})
	return b
}

func postWrite(t *testing.T, url, key string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/write", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set(contract.HeaderIdempotencyKey, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func mustAccept(t *testing.T, url, key string, body []byte) contract.WriteAck {
	t.Helper()
	code, b := postWrite(t, url, key, body)
	if code != http.StatusAccepted {
		t.Fatalf("write %s: status %d: %s", key, code, b)
	}
	var ack contract.WriteAck
	if err := json.Unmarshal(b, &ack); err != nil {
		t.Fatal(err)
	}
	if ack.Status != "queued" || ack.Key != key {
		t.Fatalf("ack = %+v", ack)
	}
	return ack
}

func getWrites(t *testing.T, url string) contract.Writes {
	t.Helper()
	resp, err := http.Get(url + "/writes")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ws contract.Writes
	if err := json.NewDecoder(resp.Body).Decode(&ws); err != nil {
		t.Fatal(err)
	}
	return ws
}

// closedURL is a loopback URL nobody listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}
