package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/cli"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/lab"
)

// These tests drive the real binary against a lab started by the test, kill
// or interrupt it at a runbook step, and compare the lab's state with what
// it was before the drill.

var (
	binaryMu sync.Mutex
	binary   string
)

func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	binaryMu.Lock()
	defer binaryMu.Unlock()
	if binary != "" {
		return binary
	}
	dir, err := os.MkdirTemp("", "regiondrill-bin-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "regiondrill")
	cmd := exec.Command("go", "build", "-o", out, "github.com/regiondrill/regiondrill/cmd/regiondrill")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	binary = out
	return out
}

type labTarget struct {
	lab  *lab.Lab
	tg   *adapter.HTTP
	ep   lab.Endpoints
	plan string
	hook string // file the plan's hook creates; its undo removes it
}

// startLab starts a lab and writes a plan drilling it with one drill kind
// and a hook (before evacuate, with its undo) that leaves a file behind.
func startLab(t *testing.T, drill string) *labTarget {
	t.Helper()
	l := newLab(t)
	ep := l.Endpoints()
	tg := adapter.New(adapter.Endpoints{Edge: ep.Edge, Faults: ep.Faults, Sink: ep.Sink, Regions: ep.Regions, Token: ep.Token,
		Proxies: map[string][]string{"us-east": l.Proxies("us-east"), "eu-west": l.Proxies("eu-west")}})
	dir := t.TempDir()
	hook := filepath.Join(dir, "hook-applied")
	plan := fmt.Sprintf(`{"regions":["us-east","eu-west"],"evacuate":"us-east","promote_survivor":"eu-west",
	 "routing":{"mode":"latency","stick_minutes":15,"hysteresis_s":1},"drills":[%q],
	 "phases":{"baseline_s":2,"hold_s":2,"step_hold_s":0.5,"drain_timeout_s":10,"probe_rounds":1},
	 "load":{"rate_rps":20},
	 "hooks":[{"step":"evacuate","run":["sh","-c","echo applied > %s; sleep 0.5"],"undo":["rm","-f",%q],"timeout_s":5}],
	 "targets":{"regions":{"us-east":{"base_url":%q},"eu-west":{"base_url":%q}},
	   "router":{"kind":"lab","address":%q},"faults":%q,"sink":%q}}`,
		drill, hook, hook, ep.Regions["us-east"], ep.Regions["eu-west"], strings.TrimPrefix(ep.Edge, "http://"), ep.Faults, ep.Sink)
	path := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(path, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	return &labTarget{lab: l, tg: tg, ep: ep, plan: path, hook: hook}
}

// newLab starts a lab of us-east and eu-west, closed when the test ends.
func newLab(t *testing.T) *lab.Lab {
	t.Helper()
	l, err := lab.Start(context.Background(), lab.Config{Regions: []string{"us-east", "eu-west"}, Hysteresis: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// state is what a drill changes and undo must restore.
type state struct {
	Weights   map[string]int
	Serving   map[string]bool
	Primary   map[string]string
	Frozen    map[string]bool
	EmitFrom  map[string][]string
	MinInst   map[string]int
	TopK      map[string]int
	IndexHash map[string]string
	Faults    int
	Hook      bool // the hook's file exists
}

func (lt *labTarget) state(t *testing.T) state {
	t.Helper()
	ctx := context.Background()
	s := state{Serving: map[string]bool{}, Primary: map[string]string{}, Frozen: map[string]bool{}, EmitFrom: map[string][]string{},
		MinInst: map[string]int{}, TopK: map[string]int{}, IndexHash: map[string]string{}}
	var err error
	if s.Weights, err = lt.tg.Weights(ctx); err != nil {
		t.Fatal(err)
	}
	hs, errs := lt.tg.HealthAll(ctx)
	for r := range errs {
		s.Serving[r] = false
	}
	for r, h := range hs {
		s.Serving[r] = h.Ready
		s.Primary[r] = h.Primary
		s.Frozen[r] = h.Frozen
		s.EmitFrom[r] = h.EmitFrom
		s.MinInst[r] = h.MinInstances
		s.TopK[r] = h.K
		s.IndexHash[r] = h.IndexHash
	}
	fs, err := lt.tg.ActiveFaults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Faults = len(fs)
	_, err = os.Stat(lt.hook)
	s.Hook = err == nil
	return s
}

// errEndedEarly is a drill that ended before the step a test waits for.
type errEndedEarly struct{ why string }

func (e errEndedEarly) Error() string { return e.why }

// waitStep follows the journal as the drill writes it until step begins.
// A drill that ends first (its process exits or it journals run_end) is
// reported with why, a pre-check gate refusal by name.
func waitStep(d *drillProc, journal, step string) error {
	var off int64
	var partial []byte
	gate := ""
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); {
		if f, err := os.Open(journal); err == nil {
			_, _ = f.Seek(off, io.SeekStart)
			b, _ := io.ReadAll(f)
			f.Close()
			off += int64(len(b))
			partial = append(partial, b...)
			for {
				i := bytes.IndexByte(partial, '\n')
				if i < 0 {
					break
				}
				var ev struct {
					Type string `json:"type"`
					Step string `json:"step"`
					Data struct {
						Outcome string   `json:"outcome"`
						Notes   []string `json:"notes"`
						Reason  string   `json:"reason"`
					} `json:"data"`
				}
				if json.Unmarshal(partial[:i], &ev) == nil {
					switch {
					case ev.Type == "step_start" && ev.Step == step:
						return nil
					case ev.Type == "step_end" && ev.Step == "1 pre-checks" && ev.Data.Outcome == "failed":
						gate = fmt.Sprint(ev.Data.Notes)
					case ev.Type == "run_end" && gate != "":
						return errEndedEarly{"the pre-check gate refused the drill: " + gate}
					case ev.Type == "run_end":
						return errEndedEarly{"the drill ended (" + ev.Data.Outcome + ": " + ev.Data.Reason + ")"}
					}
				}
				partial = partial[i+1:]
			}
		}
		select {
		case <-d.done:
			return errEndedEarly{"the drill process exited: " + fmt.Sprint(d.err)}
		case <-time.After(25 * time.Millisecond):
		}
	}
	return fmt.Errorf("the drill never reached step %q", step)
}

// drillProc is a drill binary the test started.
type drillProc struct {
	cmd    *exec.Cmd
	done   chan struct{}
	err    error // of Wait, once done is closed
	stderr syncBuffer
}

func (d *drillProc) Signal(sig os.Signal) { _ = d.cmd.Process.Signal(sig) }

// Wait waits for the process to end and returns what exec.Cmd.Wait did.
func (d *drillProc) Wait() error {
	<-d.done
	return d.err
}

// startRun starts the binary and returns once the journal shows step begin.
func (lt *labTarget) startRun(t *testing.T, step string) (*drillProc, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "evidence")
	d := &drillProc{cmd: exec.Command(buildBinary(t), "run", lt.plan, "--out", out), done: make(chan struct{})}
	d.cmd.Env = append(os.Environ(), "REGIONDRILL_TOKEN="+lt.ep.Token)
	d.cmd.Stdout, d.cmd.Stderr = io.Discard, &d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { _ = d.cmd.Process.Kill(); <-d.done })
	j := filepath.Join(out, "journal.jsonl")
	if err := waitStep(d, j, step); err != nil {
		t.Fatalf("waiting for step %q: %v\n%s", step, err, d.stderr.String())
	}
	time.Sleep(300 * time.Millisecond) // let the step's first change land
	return d, j
}

// runBinary runs the binary to completion with the lab's token.
func (lt *labTarget) runBinary(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Env = append(os.Environ(), "REGIONDRILL_TOKEN="+lt.ep.Token)
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(b)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(b)
}

func waitRestored(t *testing.T, lt *labTarget, want state) state {
	t.Helper()
	var got state
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		got = lt.state(t)
		if reflect.DeepEqual(got, want) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
	return got
}

// allSteps are the runbook's steps; changes marks those in which the target
// is changed from its pre-drill state while the step runs.
var (
	allSteps = []string{"1 pre-checks", "2 evacuate", "3 promote", "4 observe and clamp", "5 verify answers", "6 return-to-home", "7 closeout"}
	changes  = map[string]bool{"2 evacuate": true, "3 promote": true, "4 observe and clamp": true, "5 verify answers": true}
	// killSteps are where each drill kind is killed: every step in which it
	// holds a change (C skips 3 and 6), and every step of E, the longest.
	killSteps = map[string][]string{
		"A": {"2 evacuate", "3 promote", "4 observe and clamp", "5 verify answers", "6 return-to-home"},
		"B": {"2 evacuate", "3 promote", "4 observe and clamp", "5 verify answers"},
		"C": {"2 evacuate", "4 observe and clamp", "5 verify answers"},
		"D": {"2 evacuate", "3 promote", "4 observe and clamp"},
		"E": allSteps,
	}
)

// Every drill kind, SIGKILLed at each step where it holds a change (and E
// at every step), is rolled back from its journal to exactly the state it
// found: weights, primary, freeze flags, emit policy, capacity, top-k,
// INDEX_HASH, faults and the hook's side effect.
func TestKillAtEachStepThenRollbackRestores(t *testing.T) {
	for _, drill := range []string{"A", "B", "C", "D", "E"} {
		for _, step := range killSteps[drill] {
			t.Run(drill+"/"+step, func(t *testing.T) {
				t.Parallel()
				lt := startLab(t, drill)
				before := lt.state(t)
				d, journal := lt.startRun(t, step)
				d.Signal(syscall.SIGKILL)
				_ = d.Wait()
				if changes[step] && reflect.DeepEqual(lt.state(t), before) {
					t.Fatalf("nothing was changed when the drill died at %s: the test proves nothing", step)
				}
				if code, out := lt.runBinary(t, "rollback", journal); code != 0 {
					t.Fatalf("rollback exited %d: %s", code, out)
				}
				// A second rollback is refused (the first restored everything)
				// unless forced, and forced it is safe.
				if code, out := lt.runBinary(t, "rollback", journal); code != cli.ExitInvalid || !strings.Contains(out, "restored the target already") {
					t.Fatalf("second rollback: exit %d: %s", code, out)
				}
				if code, out := lt.runBinary(t, "rollback", "--force", journal); code != 0 {
					t.Fatalf("forced rollback exited %d: %s", code, out)
				}
				if got := waitRestored(t, lt, before); !reflect.DeepEqual(got, before) {
					t.Fatalf("after SIGKILL at %s and rollback:\n got %+v\nwant %+v", step, got, before)
				}
			})
		}
	}
}

func TestInterruptRestoresAndExitsThree(t *testing.T) {
	var cases []struct{ drill, step string }
	for _, step := range allSteps {
		cases = append(cases, struct{ drill, step string }{"B", step})
	}
	for _, c := range cases {
		t.Run(c.drill+"/"+c.step, func(t *testing.T) {
			t.Parallel()
			lt := startLab(t, c.drill)
			before := lt.state(t)
			d, journal := lt.startRun(t, c.step)
			d.Signal(syscall.SIGINT)
			err := d.Wait()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != cli.ExitAborted {
				t.Fatalf("exit after SIGINT: %v, want %d", err, cli.ExitAborted)
			}
			if got := lt.state(t); !reflect.DeepEqual(got, before) {
				t.Fatalf("state after SIGINT:\n got %+v\nwant %+v", got, before)
			}
			b, _ := os.ReadFile(journal)
			if !strings.Contains(string(b), `"outcome":"interrupted"`) || !strings.Contains(string(b), `"type":"undone"`) {
				t.Fatal("the journal does not show interrupted → restored")
			}
		})
	}
}

func TestFaultOutlivesNoDeadDrill(t *testing.T) {
	t.Parallel() // its own lab, and no verdict to judge: it runs beside the safety tests
	lt := startLab(t, "B")
	d, _ := lt.startRun(t, "4 observe and clamp")
	if s := lt.state(t); s.Faults == 0 {
		t.Fatal("no fault applied at step 4 of drill B")
	}
	d.Signal(syscall.SIGKILL)
	_ = d.Wait()
	killed := time.Now()
	for lt.state(t).Faults > 0 {
		if time.Since(killed) > 12*time.Second { // the lease is 10 s
			t.Fatal("the blackhole outlived its lease after the drill died")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("fault gone %s after the drill died", time.Since(killed).Round(100*time.Millisecond))
}

// runStart reads the run_start of a journal.
func runStart(t *testing.T, path string) event.RunStart {
	t.Helper()
	evs, err := journal.ReadFile(path)
	if err != nil || len(evs) == 0 {
		t.Fatalf("read %s: %v", path, err)
	}
	var rs event.RunStart
	if err := evs[0].Decode(&rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

// While a drill runs: a second drill is refused naming it; rollback of its
// journal is refused (it restores itself); and when another takes its lock
// (issue 14, finding 7) it stops with lease_lost, restores and exits 1.
func TestSecondDrillIsRefused(t *testing.T) {
	t.Parallel() // its own lab, and no verdict to judge: it runs beside the safety tests
	lt := startLab(t, "A")
	before := lt.state(t)
	d, j := lt.startRun(t, "2 evacuate")
	code, out := lt.runBinary(t, "run", lt.plan, "--out", t.TempDir())
	if code != cli.ExitAborted || !strings.Contains(out, "regiondrill pid") {
		t.Fatalf("second drill: exit %d, output %q", code, out)
	}
	code, out = lt.runBinary(t, "rollback", j)
	if code != cli.ExitAborted || !strings.Contains(out, "still running") {
		t.Fatalf("rollback of a running drill: exit %d, output %q", code, out)
	}
	ctx := context.Background()
	if err := lt.tg.Unlock(ctx, runStart(t, j).Owner); err != nil {
		t.Fatal(err)
	}
	if err := lt.tg.Lock(ctx, "an operator's manual change", time.Minute); err != nil {
		t.Fatal(err)
	}
	err := d.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != cli.ExitFail || !strings.Contains(d.stderr.String(), "lease_lost") {
		t.Fatalf("drill after losing its lock: %v, stderr:\n%s", err, d.stderr.String())
	}
	if got := waitRestored(t, lt, before); !reflect.DeepEqual(got, before) {
		t.Fatalf("after lease_lost:\n got %+v\nwant %+v", got, before)
	}
}
