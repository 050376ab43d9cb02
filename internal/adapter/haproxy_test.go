package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
)

// freePort reserves a loopback port for a child process to bind.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type haproxyLab struct {
	frontend string // http://127.0.0.1:port
	sock     string // unix:/path
	tcp      string // 127.0.0.1:port
	lockMap  string // map file declared for the drill lock
}

// startHAProxy runs a real haproxy in front of one httptest server per
// region; each answers with its region's name.
func startHAProxy(t *testing.T, regions ...string) haproxyLab {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy not on PATH")
	}
	dir := t.TempDir()
	fe, api := freePort(t), freePort(t)
	var servers strings.Builder
	for _, r := range regions {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, r)
		}))
		t.Cleanup(srv.Close)
		fmt.Fprintf(&servers, "  server %s %s weight 100\n", r, strings.TrimPrefix(srv.URL, "http://"))
	}
	sock := filepath.Join(dir, "admin.sock")
	lockMap := filepath.Join(dir, "drill-lock.map")
	if err := os.WriteFile(lockMap, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global
  stats socket %s mode 600 level admin
  stats socket 127.0.0.1:%d level admin
defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:%d
  http-request set-var(txn.drill_lock) str(regiondrill-drill-lock),map(%s,none)
  default_backend regions
backend regions
  balance roundrobin
%s`, sock, api, fe, lockMap, servers.String())
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("haproxy", "-f", cfgPath, "-db")
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	// haproxy has no readiness signal in -db mode: wait until both the
	// admin socket and the frontend accept connections.
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range [][2]string{{"unix", sock}, {"tcp", fmt.Sprintf("127.0.0.1:%d", fe)}} {
		for {
			c, err := net.DialTimeout(a[0], a[1], 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				t.Fatalf("haproxy exited: %s", stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("haproxy not listening on %s: %v\n%s", a[1], err, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return haproxyLab{
		frontend: fmt.Sprintf("http://127.0.0.1:%d", fe),
		sock:     "unix:" + sock,
		tcp:      fmt.Sprintf("127.0.0.1:%d", api),
		lockMap:  lockMap,
	}
}

// spread sends n requests through the frontend and counts who answered.
func spread(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	out := map[string]int{}
	for range n {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out[string(b)]++
	}
	return out
}

func TestHAProxyRouter(t *testing.T) {
	hp := startHAProxy(t, "us-east", "eu-west")
	ctx := context.Background()
	for _, tc := range []struct{ name, addr string }{{"unix socket", hp.sock}, {"tcp", hp.tcp}} {
		t.Run(tc.name, func(t *testing.T) {
			r := &adapter.HAProxy{Addr: tc.addr, Backend: "regions",
				Servers: map[string]string{"us-east": "us-east", "eu-west": "eu-west"}}
			before, err := r.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			w, err := r.Weights(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]int{"us-east": 100, "eu-west": 100}; !reflect.DeepEqual(w, want) {
				t.Fatalf("weights = %v, want %v", w, want)
			}
			if got := spread(t, hp.frontend, 20); got["us-east"] == 0 || got["eu-west"] == 0 {
				t.Fatalf("both regions should serve before the change: %v", got)
			}

			if err := r.SetWeights(ctx, map[string]int{"us-east": 0}); err != nil {
				t.Fatal(err)
			}
			st, err := r.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st["us-east"].Admin != adapter.AdminDrain || st["us-east"].Weight != 0 {
				t.Fatalf("us-east after cut = %+v, want drained with weight 0", st["us-east"])
			}
			if got := spread(t, hp.frontend, 50); got["eu-west"] != 50 {
				t.Fatalf("with us-east at 0 every request should reach eu-west: %v", got)
			}

			// all-zero is refused and nothing changes
			err = r.SetWeights(ctx, map[string]int{"eu-west": 0})
			if !errors.Is(err, adapter.ErrNoServingRegion) {
				t.Fatalf("all-zero change: err = %v, want ErrNoServingRegion", err)
			}
			if after, _ := r.State(ctx); !reflect.DeepEqual(after, st) {
				t.Fatalf("refused change altered state: %v → %v", st, after)
			}

			if err := r.SetWeights(ctx, w); err != nil {
				t.Fatal(err)
			}
			after, err := r.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(after, before) {
				t.Fatalf("restored state %v, want initial %v", after, before)
			}
			if got := spread(t, hp.frontend, 20); got["us-east"] == 0 {
				t.Fatalf("us-east should serve again: %v", got)
			}
		})
	}
}

func TestHAProxyRefusals(t *testing.T) {
	hp := startHAProxy(t, "us-east", "eu-west")
	ctx := context.Background()
	r := &adapter.HAProxy{Addr: hp.sock, Backend: "regions"} // servers named after regions
	before, err := r.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		w    map[string]int
		want string
	}{
		{"all zero", map[string]int{"us-east": 0, "eu-west": 0}, "no region with weight > 0"},
		{"unknown region", map[string]int{"ap-south": 10}, `unknown region "ap-south"`},
		{"negative", map[string]int{"us-east": -1}, "outside 0..256"},
		{"too high", map[string]int{"us-east": 257}, "outside 0..256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.SetWeights(ctx, tc.w)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if after, _ := r.State(ctx); !reflect.DeepEqual(after, before) {
				t.Fatalf("refused change altered state: %v → %v", before, after)
			}
		})
	}

	t.Run("missing server", func(t *testing.T) {
		bad := &adapter.HAProxy{Addr: hp.sock, Backend: "regions", Servers: map[string]string{"us-east": "nope"}}
		if _, err := bad.Weights(ctx); err == nil || !strings.Contains(err.Error(), "no server nope") {
			t.Fatalf("err = %v, want a missing server error", err)
		}
	})
	t.Run("missing backend", func(t *testing.T) {
		bad := &adapter.HAProxy{Addr: hp.sock, Backend: "nope"}
		var he *adapter.HAProxyError
		if _, err := bad.Weights(ctx); !errors.As(err, &he) {
			t.Fatalf("err = %v, want *HAProxyError", err)
		}
	})
	t.Run("runtime api down", func(t *testing.T) {
		bad := &adapter.HAProxy{Addr: "unix:" + filepath.Join(t.TempDir(), "none.sock"), Backend: "regions"}
		if _, err := bad.Weights(ctx); err == nil {
			t.Fatal("want an error from a missing socket")
		}
	})
}

// The drill lock in an HAProxy map: one holder, refusals name it, renewals
// keep it, expired entries are taken over, and of several drills locking at
// once exactly one wins.
func TestHAProxyDrillLock(t *testing.T) {
	hp := startHAProxy(t, "us-east", "eu-west")
	ctx := context.Background()
	r := &adapter.HAProxy{Addr: hp.sock, Backend: "regions", LockMap: hp.lockMap}
	if err := r.Lock(ctx, "drill one", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := r.Lock(ctx, "drill one", 10*time.Second); err != nil {
		t.Fatalf("renewal: %v", err)
	}
	err := r.Lock(ctx, "drill two", 10*time.Second)
	if !errors.Is(err, adapter.ErrLocked) || !strings.Contains(err.Error(), "drill one") {
		t.Fatalf("second drill: %v, want ErrLocked naming drill one", err)
	}
	if err := r.Unlock(ctx, "drill one"); err != nil {
		t.Fatal(err)
	}
	if err := r.Lock(ctx, "drill two", 300*time.Millisecond); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	time.Sleep(400 * time.Millisecond) // drill two died: its lease ran out
	if err := r.Lock(ctx, "drill three", 10*time.Second); err != nil {
		t.Fatalf("after the lease expired: %v", err)
	}
	_ = r.Unlock(ctx, "drill three")

	won := make(chan string, 6)
	for i := range 6 {
		go func() {
			owner := fmt.Sprintf("racer %d", i)
			if err := r.Lock(ctx, owner, 10*time.Second); err == nil {
				won <- owner
			} else if !errors.Is(err, adapter.ErrLocked) {
				won <- "error: " + err.Error()
			} else {
				won <- ""
			}
		}()
	}
	var winners []string
	for range 6 {
		if w := <-won; w != "" {
			winners = append(winners, w)
		}
	}
	if len(winners) != 1 || strings.HasPrefix(winners[0], "error") {
		t.Fatalf("winners of a race for the lock: %q, want exactly one", winners)
	}
	if err := (&adapter.HAProxy{Addr: hp.sock, Backend: "regions"}).Lock(ctx, "x", time.Second); !errors.Is(err, adapter.ErrNoLock) {
		t.Fatalf("no lock map: %v, want ErrNoLock", err)
	}
}
