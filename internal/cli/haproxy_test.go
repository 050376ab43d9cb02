package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/cli"
	"github.com/regiondrill/regiondrill/internal/lab"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// haproxyFront runs a real haproxy in front of the lab's regions (their
// ingress proxies), with active health checks and a map for the drill lock,
// and returns its frontend URL, Runtime API socket and lock map.
func haproxyFront(t *testing.T, ep lab.Endpoints, regions []string) (string, string, string) {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy not on PATH")
	}
	dir := t.TempDir()
	fe := freePort(t)
	var servers strings.Builder
	for _, r := range regions {
		fmt.Fprintf(&servers, "  server %s %s check weight 100\n", r, strings.TrimPrefix(ep.Regions[r], "http://"))
	}
	sock := filepath.Join(dir, "admin.sock")
	lockMap := filepath.Join(dir, "drill-lock.map")
	if err := os.WriteFile(lockMap, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global
  stats socket %s mode 600 level admin
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 5s
  timeout check 300ms
  retries 2
  option redispatch
frontend fe
  bind 127.0.0.1:%d
  http-request set-var(txn.drill_lock) str(regiondrill-drill-lock),map(%s,none)
  default_backend regions
backend regions
  balance roundrobin
  option httpchk GET /health
  http-check expect status 200
  default-server inter 200ms fall 2 rise 2
%s`, sock, fe, lockMap, servers.String())
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("haproxy", "-f", path, "-db")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range [][2]string{{"unix", sock}, {"tcp", fmt.Sprintf("127.0.0.1:%d", fe)}} {
		for {
			c, err := net.DialTimeout(a[0], a[1], 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("haproxy not ready on %s: %v\n%s", a[1], err, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return fmt.Sprintf("http://127.0.0.1:%d", fe), sock, lockMap
}

// Drills A and B pass with the lab's regions behind a real HAProxy driven
// through its Runtime API, and leave HAProxy as they found it.
func TestDrillsBehindRealHAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end drills")
	}
	regions := []string{"us-east", "eu-west"}
	for _, drill := range []string{"A", "B"} {
		t.Run(drill, func(t *testing.T) {
			l, err := lab.Start(context.Background(), lab.Config{Regions: regions, Hysteresis: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			ep := l.Endpoints()
			entry, sock, lockMap := haproxyFront(t, ep, regions)
			hap := &adapter.HAProxy{Addr: "unix:" + sock, Backend: "regions"}
			ctx := context.Background()
			time.Sleep(700 * time.Millisecond) // first health checks
			before, err := hap.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			plan := fmt.Sprintf(`{"regions":["us-east","eu-west"],"evacuate":"us-east","promote_survivor":"eu-west","drills":[%q],
			 "phases":{"baseline_s":8,"hold_s":5,"step_hold_s":1,"drain_timeout_s":30,"probe_rounds":1},"load":{"rate_rps":50},
			 "routing":{"stick_minutes":0},
			 "targets":{"regions":{"us-east":{"base_url":%q},"eu-west":{"base_url":%q}},
			   "router":{"kind":"haproxy","socket":%q,"backend":"regions","lock_map":%q},"entry":%q,"faults":%q,"sink":%q}}`,
				drill, ep.Regions["us-east"], ep.Regions["eu-west"], sock, lockMap, entry, ep.Faults, ep.Sink)
			dir := t.TempDir()
			planPath := filepath.Join(dir, "plan.json")
			if err := os.WriteFile(planPath, []byte(plan), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Setenv("REGIONDRILL_TOKEN", ep.Token)
			var out, errb strings.Builder
			code := cli.Run(ctx, []string{"run", planPath, "--out", filepath.Join(dir, "out")}, strings.NewReader(""), &out, &errb)
			t.Log(out.String())
			if code != 0 {
				t.Fatalf("drill %s behind HAProxy exited %d: %s", drill, code, errb.String())
			}
			var rep struct {
				Writes struct{ Acknowledged, Lost, Duplicates int }
			}
			b, _ := os.ReadFile(filepath.Join(dir, "out", "report.json"))
			_ = json.Unmarshal(b, &rep)
			if rep.Writes.Acknowledged == 0 || rep.Writes.Lost != 0 || rep.Writes.Duplicates != 0 {
				t.Fatalf("writes %+v", rep.Writes)
			}
			var after map[string]adapter.ServerState
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) { // health checks bring a restored server back
				if after, err = hap.State(ctx); err == nil && reflect.DeepEqual(after, before) {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
			t.Fatalf("HAProxy state after drill %s:\n got %+v\nwant %+v", drill, after, before)
		})
	}
}
