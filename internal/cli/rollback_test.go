package cli_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/cli"
)

// editLine rewrites the first journal line containing marker with edit,
// into a copy of the journal, and returns the copy's path.
func editLine(t *testing.T, journal, marker string, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	for i, l := range lines {
		if strings.Contains(l, marker) {
			if lines[i] = edit(l); lines[i] == l {
				t.Fatalf("edit of the line with %q changed nothing", marker)
			}
			out := filepath.Join(t.TempDir(), "journal.jsonl")
			if err := os.WriteFile(out, []byte(strings.Join(lines, "")), 0o600); err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatalf("no journal line contains %q", marker)
	return ""
}

// Issue 14, findings 2 and 3: rollback trusted the journal (it ran the hook
// undos written in it and sent the admin token to the URLs it named) and
// ignored the drill lock. Now it acts only on a journal sealed with this
// user's key, through the endpoints of the run's own plan, under the lock.
func TestRollbackTrustsNothingButItsJournal(t *testing.T) {
	t.Parallel() // its own lab: it runs beside the safety tests
	// Drill A: no faults, so nothing changes by itself while the test looks.
	lt := startLab(t, "A")
	before := lt.state(t)
	d, j := lt.startRun(t, "4 observe and clamp")
	d.Signal(syscall.SIGKILL)
	_ = d.Wait()
	hit := lt.state(t)
	if reflect.DeepEqual(hit, before) || !hit.Hook {
		t.Fatal("the drill changed nothing before it died: the test proves nothing")
	}
	unchanged := func(what string) {
		t.Helper()
		if got := lt.state(t); !reflect.DeepEqual(got, hit) {
			t.Fatalf("%s changed the target:\n got %+v\nwant %+v", what, got, hit)
		}
	}

	// A hook undo rewritten in the journal is refused, naming the line.
	ran := filepath.Join(t.TempDir(), "tampered-ran")
	tampered := editLine(t, j, `"kind":"hook"`, func(l string) string {
		return strings.Replace(l, `"argv":["rm","-f",`+fmt.Sprintf("%q", lt.hook)+`]`, `"argv":["touch",`+fmt.Sprintf("%q", ran)+`]`, 1)
	})
	code, out := lt.runBinary(t, "rollback", tampered)
	if code != cli.ExitInvalid || !strings.Contains(out, "tampered") || !strings.Contains(out, "journal line ") {
		t.Fatalf("tampered journal: exit %d: %s", code, out)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("the tampered hook undo ran")
	}
	unchanged("a tampered journal")

	// A journal sealed by another user's key is foreign.
	cmd := exec.Command(buildBinary(t), "rollback", j)
	cmd.Env = append(os.Environ(), "REGIONDRILL_TOKEN="+lt.ep.Token, "REGIONDRILL_STATE_DIR="+t.TempDir())
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != cli.ExitInvalid || !strings.Contains(string(b), "sealed with another key") {
		t.Fatalf("foreign journal: %v: %s", err, b)
	}
	unchanged("a foreign journal")

	// A dry run lists every action, the hook's undo too, and changes nothing.
	code, out = lt.runBinary(t, "rollback", "--dry-run", j)
	for _, want := range []string{`"rm" "-f"`, "/admin/promote", "/_edge/weights", "/faults", "nothing was changed"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("dry run: exit %d, %q missing:\n%s", code, want, out)
		}
	}
	unchanged("a dry run")

	// Another live drill holds the lock: refused, naming it.
	ctx := context.Background()
	if err := lt.tg.Unlock(ctx, runStart(t, j).Owner); err != nil {
		t.Fatal(err)
	}
	if err := lt.tg.Lock(ctx, "another drill, pid 4242", time.Minute); err != nil {
		t.Fatal(err)
	}
	code, out = lt.runBinary(t, "rollback", j)
	if code != cli.ExitAborted || !strings.Contains(out, "another drill, pid 4242") {
		t.Fatalf("rollback under a live lock: exit %d: %s", code, out)
	}
	unchanged("a rollback under another drill's lock")
	if err := lt.tg.Unlock(ctx, "another drill, pid 4242"); err != nil {
		t.Fatal(err)
	}

	// The journal's endpoints pointed at a capture server, run anyway with
	// --trust-journal: the actions are printed first, and the token goes
	// only to the plan's own endpoints.
	var captured atomic.Int32
	capture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			captured.Add(1)
		}
		w.Write([]byte("[]"))
	}))
	defer capture.Close()
	redirected := editLine(t, j, `"type":"run_start"`, func(l string) string {
		i := strings.Index(l, `"endpoints":`)
		return l[:i] + strings.Replace(l[i:], `"faults":"`+lt.ep.Faults+`"`, `"faults":"`+capture.URL+`"`, 1)
	})
	code, out = lt.runBinary(t, "rollback", redirected)
	if code != cli.ExitInvalid {
		t.Fatalf("redirected journal without --trust-journal: exit %d: %s", code, out)
	}
	code, out = lt.runBinary(t, "rollback", "--trust-journal", redirected)
	if code != 0 || !strings.Contains(out, "WARNING") || !strings.Contains(out, `"rm" "-f"`) ||
		strings.Index(out, `"rm" "-f"`) > strings.Index(out, "restored the pre-drill state") {
		t.Fatalf("trusted rollback: exit %d (the actions must be printed before it acts):\n%s", code, out)
	}
	if n := captured.Load(); n > 0 {
		t.Fatalf("the admin token was sent to the journal's URL %d times", n)
	}
	if got := waitRestored(t, lt, before); !reflect.DeepEqual(got, before) {
		t.Fatalf("after the trusted rollback:\n got %+v\nwant %+v", got, before)
	}
}

// Issue 14, finding 4: rollback always drove the lab edge's API. Now it
// builds the router the plan named: a drill behind a real HAProxy, killed
// with us-east drained, is rolled back through the Runtime API, under the
// drill lock kept in HAProxy's map.
func TestRollbackRestoresHAProxyWeights(t *testing.T) {
	t.Parallel() // its own lab: it runs beside the safety tests
	if testing.Short() {
		t.Skip("end-to-end drill")
	}
	l := newLab(t)
	ep := l.Endpoints()
	entry, sock, lockMap := haproxyFront(t, ep, []string{"us-east", "eu-west"})
	hap := &adapter.HAProxy{Addr: "unix:" + sock, Backend: "regions", LockMap: lockMap}
	ctx := context.Background()
	time.Sleep(700 * time.Millisecond) // first health checks
	before, err := hap.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	plan := fmt.Sprintf(`{"regions":["us-east","eu-west"],"evacuate":"us-east","promote_survivor":"eu-west","drills":["A"],
	 "phases":{"baseline_s":2,"hold_s":6,"step_hold_s":0.5,"drain_timeout_s":10,"probe_rounds":1},"load":{"rate_rps":30},
	 "targets":{"regions":{"us-east":{"base_url":%q},"eu-west":{"base_url":%q}},
	   "router":{"kind":"haproxy","socket":%q,"backend":"regions","lock_map":%q},"entry":%q,"faults":%q,"sink":%q}}`,
		ep.Regions["us-east"], ep.Regions["eu-west"], sock, lockMap, entry, ep.Faults, ep.Sink)
	planPath := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(planPath, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	lt := &labTarget{lab: l, ep: ep, plan: planPath}
	d, j := lt.startRun(t, "4 observe and clamp")
	if err := hap.Lock(ctx, "a second drill", time.Minute); !errors.Is(err, adapter.ErrLocked) || !strings.Contains(err.Error(), "regiondrill pid") {
		t.Fatalf("HAProxy drill lock during the drill: %v", err)
	}
	d.Signal(syscall.SIGKILL)
	_ = d.Wait()
	if st, err := hap.State(ctx); err != nil || st["us-east"].Admin != adapter.AdminDrain {
		t.Fatalf("us-east not drained when the drill died (%v): %+v", err, st)
	}
	if code, out := lt.runBinary(t, "rollback", j); code != 0 {
		t.Fatalf("rollback exited %d: %s", code, out)
	}
	var after map[string]adapter.ServerState
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if after, err = hap.State(ctx); err == nil && reflect.DeepEqual(after, before) {
			break
		}
	}
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("HAProxy after rollback:\n got %+v\nwant %+v", after, before)
	}
	if err := hap.Lock(ctx, "the next drill", time.Second); err != nil {
		t.Fatalf("the lock after rollback: %v", err)
	}
}

// Issue 14, finding 9: an inline token was copied into the journal and the
// reports. Now it is in no file the drill or rollback writes, nor in what
// they print (logs included).
func TestNoOutputHoldsTheToken(t *testing.T) {
	t.Parallel() // its own lab: it runs beside the safety tests
	if testing.Short() {
		t.Skip("end-to-end drill")
	}
	ep := newLab(t).Endpoints()
	token := ep.Token
	dir := t.TempDir()
	hookEnv := filepath.Join(dir, "hook-env")
	plan := fmt.Sprintf(`{"regions":["us-east","eu-west"],"evacuate":"us-east","promote_survivor":"eu-west","drills":["B"],
	 "phases":{"baseline_s":2,"hold_s":2,"step_hold_s":0.5,"drain_timeout_s":10,"probe_rounds":1},"load":{"rate_rps":30},
	 "hooks":[{"step":"promote","run":["sh","-c","env > %s"],"undo":["true"]}],
	 "targets":{"regions":{"us-east":{"base_url":%q,"token":%q},"eu-west":{"base_url":%q,"token":%q}},
	   "router":{"kind":"lab","address":%q},"faults":%q,"sink":%q}}`,
		hookEnv, ep.Regions["us-east"], token, ep.Regions["eu-west"], token, strings.TrimPrefix(ep.Edge, "http://"), ep.Faults, ep.Sink)
	planPath := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(planPath, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	run := exec.Command(buildBinary(t), "run", "-v", planPath, "--out", out)
	run.Env = append(os.Environ(), "REGIONDRILL_TOKEN="+token) // the plan's own is used; hooks must not see this one
	runOut, err := run.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == cli.ExitFail) { // the verdict is not the point
		t.Fatalf("drill: %v\n%s", err, runOut)
	}
	lt := &labTarget{ep: ep}
	code, rbOut := lt.runBinary(t, "rollback", "--force", filepath.Join(out, "journal.jsonl"))
	if code != 0 {
		t.Fatalf("rollback: exit %d: %s", code, rbOut)
	}
	he, err := os.ReadFile(hookEnv)
	if err != nil || !strings.Contains(string(he), "PATH=") {
		t.Fatalf("the hook did not run (%v): %s", err, he)
	}
	outputs := map[string][]byte{"run's stdout and stderr (-v)": runOut, "rollback's output": []byte(rbOut), "a hook's environment": he}
	files, _ := os.ReadDir(out)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(out, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		outputs[f.Name()] = b
	}
	for _, want := range []string{"journal.jsonl", "report.json", "report.html", "junit.xml", "samples.csv"} {
		if outputs[want] == nil {
			t.Errorf("no %s", want)
		}
	}
	for name, b := range outputs {
		if strings.Contains(string(b), token) {
			t.Errorf("%s holds the admin token", name)
		}
	}
	if !strings.Contains(string(runOut), "applied") {
		t.Error("the run printed no actions: the output check proves nothing")
	}
}
