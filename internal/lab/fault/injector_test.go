package fault

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock for lease tests.
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

func newClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func newInjector(t *testing.T, clock func() time.Time) *Injector {
	t.Helper()
	in := New(nil, clock)
	t.Cleanup(func() {
		if err := in.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return in
}

// backend is an HTTP server counting the requests that reach it.
func backend(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func get(url string, timeout time.Duration) error {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return err
}

func TestBlackholeStopsHTTPAndRemovalRestores(t *testing.T) {
	in := newInjector(t, nil)
	srv, hits := backend(t)
	addr, err := in.AddProxy("r1", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr + "/ask"
	if err := get(url, 2*time.Second); err != nil {
		t.Fatalf("before fault: %v", err)
	}
	id, err := in.Apply(Spec{Kind: Blackhole, Targets: []string{"r1"}})
	if err != nil {
		t.Fatal(err)
	}
	before := hits.Load()
	err = get(url, 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("through blackhole: want client timeout, got %v", err)
	}
	if got := hits.Load(); got != before {
		t.Fatalf("request reached the backend through a blackhole (%d → %d)", before, got)
	}
	if err := in.Remove(id); err != nil {
		t.Fatal(err)
	}
	if err := get(url, 2*time.Second); err != nil {
		t.Fatalf("after removal: %v", err)
	}
}

// greeter is a TCP server that says "hi\n" on connect and records every line it reads.
type greeter struct {
	ln    net.Listener
	mu    sync.Mutex
	lines []string
	got   chan string
}

func newGreeter(t *testing.T) *greeter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &greeter{ln: ln, got: make(chan string, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "hi\n")
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					g.got <- sc.Text()
					io.WriteString(c, "echo "+sc.Text()+"\n")
				}
			}()
		}
	}()
	return g
}

func TestBlackholeBothDirectionsAndExistingConnections(t *testing.T) {
	in := newInjector(t, nil)
	g := newGreeter(t)
	addr, err := in.AddProxy("r1", g.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// An existing connection that works before the fault.
	old, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	oldR := bufio.NewReader(old)
	if line, err := oldR.ReadString('\n'); err != nil || line != "hi\n" {
		t.Fatalf("greeting before fault: %q %v", line, err)
	}
	if _, err := in.Apply(Spec{Kind: Blackhole, Targets: []string{"r1"}}); err != nil {
		t.Fatal(err)
	}

	// Downstream: a new connection never sees the server's greeting.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("blackhole must still accept connections: %v", err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(make([]byte, 8)); n != 0 || !isTimeout(err) {
		t.Fatalf("downstream data passed a blackhole: n=%d err=%v", n, err)
	}
	// Upstream: what the clients send never reaches the server, on new and old connections.
	io.WriteString(c, "new\n")
	io.WriteString(old, "old\n")
	select {
	case line := <-g.got:
		t.Fatalf("server received %q through a blackhole", line)
	case <-time.After(300 * time.Millisecond):
	}
	if got := len(in.proxies["r1"].Toxics.GetToxicArray()); got != 2 {
		t.Fatalf("want 2 toxics (upstream+downstream), got %d", got)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestLatencyDelays(t *testing.T) {
	in := newInjector(t, nil)
	srv, _ := backend(t)
	addr, err := in.AddProxy("r1", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Apply(Spec{Kind: Latency, Targets: []string{"r1"}, Latency: 150 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := get("http://"+addr+"/", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("latency fault: request took %v, want ≥150ms", d)
	}
}

func TestResetFailsRequest(t *testing.T) {
	in := newInjector(t, nil)
	srv, hits := backend(t)
	addr, err := in.AddProxy("r1", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Apply(Spec{Kind: Reset, Targets: []string{"r1"}}); err != nil {
		t.Fatal(err)
	}
	err = get("http://"+addr+"/", 2*time.Second)
	if err == nil || isTimeout(err) {
		t.Fatalf("reset: want a connection error, got %v", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("request reached backend through reset")
	}
}

func TestLeaseExpiryAndRenewal(t *testing.T) {
	clk := newClock()
	in := newInjector(t, clk.Now)
	g := newGreeter(t)
	if _, err := in.AddProxy("r1", g.ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	expiring, err := in.Apply(Spec{Kind: Blackhole, Targets: []string{"r1"}, Lease: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := in.Apply(Spec{Kind: Latency, Targets: []string{"r1"}, Latency: time.Millisecond, Lease: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(800 * time.Millisecond)
	if got := in.Sweep(); len(got) != 0 {
		t.Fatalf("swept %v before any lease ran out", got)
	}
	if err := in.Renew(renewed, time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(400 * time.Millisecond) // expiring is 200ms past its lease; renewed has 600ms left
	got := in.Sweep()
	if len(got) != 1 || got[0] != expiring {
		t.Fatalf("swept %v, want [%s]", got, expiring)
	}
	active := in.Active()
	if len(active) != 1 || active[0].ID != renewed {
		t.Fatalf("active after sweep = %+v, want only %s", active, renewed)
	}
	if n := len(in.proxies["r1"].Toxics.GetToxicArray()); n != 1 {
		t.Fatalf("expired fault left toxics behind: %d toxics", n)
	}
	clk.Advance(time.Second)
	in.Sweep()
	if n := len(in.Active()); n != 0 {
		t.Fatalf("unrenewed fault still active")
	}
	if err := in.Renew(renewed, time.Second); !errors.Is(err, ErrUnknownFault) {
		t.Fatalf("renew of expired fault: %v", err)
	}
}

func TestRemoveIsIdempotent(t *testing.T) {
	in := newInjector(t, nil)
	g := newGreeter(t)
	if _, err := in.AddProxy("r1", g.ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	id, err := in.Apply(Spec{Kind: Blackhole, Targets: []string{"r1"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := in.Remove(id); err != nil {
			t.Fatalf("remove #%d: %v", i+1, err)
		}
	}
	if err := in.Remove("nope"); err != nil {
		t.Fatalf("remove unknown: %v", err)
	}
	if n := len(in.proxies["r1"].Toxics.GetToxicArray()); n != 0 {
		t.Fatalf("%d toxics left", n)
	}
}

func TestApplyRejects(t *testing.T) {
	in := newInjector(t, nil)
	g := newGreeter(t)
	if _, err := in.AddProxy("r1", g.ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		spec Spec
		want error
		msg  string
	}{
		{"unknown kind", Spec{Kind: "flood", Targets: []string{"r1"}}, ErrInvalidSpec, "kind"},
		{"no targets", Spec{Kind: Blackhole}, ErrInvalidSpec, "targets"},
		{"duplicate target", Spec{Kind: Blackhole, Targets: []string{"r1", "r1"}}, ErrInvalidSpec, "twice"},
		{"latency without latency", Spec{Kind: Latency, Targets: []string{"r1"}}, ErrInvalidSpec, "latency"},
		{"jitter over latency", Spec{Kind: Latency, Targets: []string{"r1"}, Latency: 1, Jitter: 2}, ErrInvalidSpec, "jitter"},
		{"negative lease", Spec{Kind: Blackhole, Targets: []string{"r1"}, Lease: -1}, ErrInvalidSpec, "lease"},
		{"unknown proxy", Spec{Kind: Blackhole, Targets: []string{"r1", "r9"}}, ErrUnknownProxy, "r9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := in.Apply(tc.spec)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
			if n := len(in.Active()); n != 0 {
				t.Fatalf("rejected spec left %d faults", n)
			}
			if n := len(in.proxies["r1"].Toxics.GetToxicArray()); n != 0 {
				t.Fatalf("rejected spec left %d toxics", n)
			}
		})
	}
}
