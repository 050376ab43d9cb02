package edge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/edge"
)

// rawBackend is a backend written on bare TCP, so tests control every byte.
// handle answers one non-health request and reports whether to keep the
// connection open. conns counts accepted connections.
type rawBackend struct {
	url    string
	conns  atomic.Int64
	handle func(c net.Conn, req *http.Request) bool
}

func newRawBackend(t *testing.T, handle func(c net.Conn, req *http.Request) bool) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rb := &rawBackend{url: "http://" + ln.Addr().String(), handle: handle}
	health, _ := json.Marshal(contract.Health{Region: "r1", Ready: true, Role: contract.RolePrimary, Epoch: 1,
		IndexHash: "h", SchemaRev: "s", ModelTag: "m"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if req.URL.Path == "/health" {
						_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "+
							strconv.Itoa(len(health))+"\r\n\r\n"+string(health))
						continue
					}
					if !rb.handle(c, req) {
						return
					}
				}
			}()
			rb.conns.Add(1)
		}
	}()
	return rb
}

// front puts a started router for one backend behind a real HTTP server.
func front(t *testing.T, url string, mut func(*edge.Config)) (*edge.Router, *httptest.Server) {
	t.Helper()
	r := newRouter(t, edge.Config{Backends: []edge.Backend{{Name: "r1", URL: url}}, TryTimeout: 2 * time.Second}, mut)
	r.CheckNow(context.Background())
	if !status(r, "r1").InRotation {
		t.Fatalf("backend not admitted: %+v", status(r, "r1"))
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func get(t *testing.T, c *http.Client, method, url string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestUpstreamConnectionReuseAndClose(t *testing.T) {
	for _, tc := range []struct {
		name      string
		hdr       string
		wantConns int64
	}{
		{"keep-alive is reused", "", 1},
		{"Connection: close is honoured", "Connection: close\r\n", 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rb := newRawBackend(t, func(c net.Conn, req *http.Request) bool {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n"+tc.hdr+"Content-Length: 2\r\n\r\nok")
				return tc.hdr == ""
			})
			_, srv := front(t, rb.url, nil)
			before := rb.conns.Load() // the health probe's own connection
			for i := range 10 {
				code, body, err := get(t, srv.Client(), http.MethodGet, srv.URL+"/ask")
				if err != nil || code != 200 || body != "ok" {
					t.Fatalf("request %d: %d %q %v", i, code, body, err)
				}
			}
			if got := rb.conns.Load() - before; got != tc.wantConns {
				t.Fatalf("upstream connections %d, want %d", got, tc.wantConns)
			}
		})
	}
}

func TestUpstreamChunkedBodyAndHopHeaders(t *testing.T) {
	rb := newRawBackend(t, func(c net.Conn, req *http.Request) bool {
		if req.Header.Get("Connection") != "" || req.Header.Get("Keep-Alive") != "" || req.Header.Get("X-Keep") != "yes" {
			_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nhop")
			return true
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\n\r\n"+
			"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
		return true
	})
	_, srv := front(t, rb.url, nil)
	before := rb.conns.Load()
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ask", nil)
		req.Header.Set("Keep-Alive", "timeout=1")
		req.Header.Set("X-Keep", "yes")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != "hello world" {
			t.Fatalf("chunked: %d %q %v", resp.StatusCode, b, err)
		}
		if resp.Header.Get("Keep-Alive") != "" {
			t.Fatalf("hop-by-hop header from upstream forwarded: %v", resp.Header)
		}
	}
	if got := rb.conns.Load() - before; got != 1 {
		t.Fatalf("chunked body ended cleanly but %d upstream connections used", got)
	}
}

func TestUpstreamDiesMidBody(t *testing.T) {
	for _, tc := range []struct{ name, head, part string }{
		{"content-length", "Content-Length: 100\r\n", "only ten b"},
		{"chunked", "Transfer-Encoding: chunked\r\n", "a\r\nonly ten b\r\n20\r\npart"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rb := newRawBackend(t, func(c net.Conn, req *http.Request) bool {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n"+tc.head+"\r\n"+tc.part)
				return false
			})
			_, srv := front(t, rb.url, nil)
			code, body, err := get(t, srv.Client(), http.MethodGet, srv.URL+"/ask")
			if err == nil {
				t.Fatalf("truncated upstream body reached the client as complete: %d %q", code, body)
			}
		})
	}
}

func TestUpstreamTimeoutIs504(t *testing.T) {
	rb := newRawBackend(t, func(c net.Conn, req *http.Request) bool {
		_, _ = io.Copy(io.Discard, c) // never answers
		return false
	})
	_, srv := front(t, rb.url, func(c *edge.Config) { c.TryTimeout = 150 * time.Millisecond; c.FailAfter = 100 })
	start := time.Now()
	code, body, err := get(t, srv.Client(), http.MethodPost, srv.URL+"/write")
	if err != nil || code != http.StatusGatewayTimeout {
		t.Fatalf("hung upstream: %d %q %v", code, body, err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("504 after %v, TryTimeout is 150ms", took)
	}
}

func TestClientLeavingAbortsUpstream(t *testing.T) {
	gotReq := make(chan struct{}, 1)
	upstreamClosed := make(chan struct{}, 1)
	rb := newRawBackend(t, func(c net.Conn, req *http.Request) bool {
		gotReq <- struct{}{}
		_, _ = io.Copy(io.Discard, c) // returns when the edge closes its side
		upstreamClosed <- struct{}{}
		return false
	})
	r, srv := front(t, rb.url, func(c *edge.Config) { c.TryTimeout = 10 * time.Second; c.FailAfter = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ask", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-gotReq
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v", err)
	}
	select {
	case <-upstreamClosed:
	case <-time.After(2 * time.Second):
		t.Fatal("upstream connection still open 2s after the client left")
	}
	if st := status(r, "r1"); st.Ejected || !st.InRotation {
		t.Fatalf("a client leaving counted against the backend: %+v", st)
	}
}

func TestStalePooledConnection(t *testing.T) {
	// The backend answers keep-alive, then closes the idle connection.
	closed := make(chan struct{}, 16)
	rb := newRawBackend(t, func(c net.Conn, req *http.Request) bool {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.Close()
		closed <- struct{}{}
		return false
	})
	r, srv := front(t, rb.url, func(c *edge.Config) { c.FailAfter = 1 })
	cases := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{"GET is replayed on a fresh connection", http.MethodGet, "/ask", http.StatusOK},
		{"ask is replayed on a fresh connection", http.MethodPost, "/ask", http.StatusOK},
		{"unkeyed write is not replayed", http.MethodPost, "/write", http.StatusBadGateway},
	}
	if code, _, err := get(t, srv.Client(), http.MethodGet, srv.URL+"/ask"); err != nil || code != 200 {
		t.Fatalf("first request: %d %v", code, err)
	}
	<-closed // the pooled connection is now dead
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := rb.conns.Load()
			code, body, err := get(t, srv.Client(), tc.method, srv.URL+tc.path)
			if err != nil || code != tc.want {
				t.Fatalf("%d %q %v, want %d", code, body, err, tc.want)
			}
			if tc.want == http.StatusOK {
				<-closed
				if got := rb.conns.Load() - before; got != 1 {
					t.Fatalf("%d new upstream connections, want 1", got)
				}
			}
			if st := status(r, "r1"); st.Ejected {
				t.Fatalf("a stale pooled connection ejected the backend: %+v", st)
			}
		})
	}
}
