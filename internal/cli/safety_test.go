package cli_test

import (
	"bufio"
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

	"github.com/regiondrill/regiondrill/internal/cli"
	"github.com/regiondrill/regiondrill/internal/lab"
	"github.com/regiondrill/regiondrill/internal/target"
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
	tg   *target.HTTP
	ep   lab.Endpoints
	plan string
}

func startLab(t *testing.T, drill string) *labTarget {
	t.Helper()
	regions := []string{"us-east", "eu-west"}
	l, err := lab.Start(context.Background(), lab.Config{Regions: regions, Hysteresis: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	ep := l.Endpoints()
	tg := target.New(target.Endpoints{Edge: ep.Edge, Faults: ep.Faults, Sink: ep.Sink, Regions: ep.Regions, Token: ep.Token,
		Proxies: map[string][]string{"us-east": l.Proxies("us-east"), "eu-west": l.Proxies("eu-west")}})
	plan := fmt.Sprintf(`{"regions":["us-east","eu-west"],"evacuate":"us-east","promote_survivor":"eu-west",
	 "routing":{"mode":"latency","stick_minutes":15,"hysteresis_s":1},"drills":[%q],
	 "phases":{"baseline_s":2,"hold_s":2,"step_hold_s":0.5,"drain_timeout_s":10,"probe_rounds":1},
	 "load":{"rate_rps":40},
	 "targets":{"regions":{"us-east":{"base_url":%q},"eu-west":{"base_url":%q}},
	   "router":{"kind":"lab","address":%q},"faults":%q,"sink":%q}}`,
		drill, ep.Regions["us-east"], ep.Regions["eu-west"], strings.TrimPrefix(ep.Edge, "http://"), ep.Faults, ep.Sink)
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(path, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	return &labTarget{lab: l, tg: tg, ep: ep, plan: path}
}

// state is what a drill changes and undo must restore.
type state struct {
	Weights  map[string]int
	Serving  map[string]bool
	Primary  map[string]string
	Frozen   map[string]bool
	EmitFrom map[string][]string
	MinInst  map[string]int
	TopK     map[string]int
	Faults   int
}

func (lt *labTarget) state(t *testing.T) state {
	t.Helper()
	ctx := context.Background()
	s := state{Serving: map[string]bool{}, Primary: map[string]string{}, Frozen: map[string]bool{}, EmitFrom: map[string][]string{}, MinInst: map[string]int{}, TopK: map[string]int{}}
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
	}
	fs, err := lt.tg.ActiveFaults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Faults = len(fs)
	return s
}

// startRun starts the binary and returns once the journal shows step begin.
func (lt *labTarget) startRun(t *testing.T, step string) (*exec.Cmd, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "evidence")
	cmd := exec.Command(buildBinary(t), "run", lt.plan, "--out", out)
	cmd.Env = append(os.Environ(), "REGIONDRILL_TOKEN="+lt.ep.Token)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	j := filepath.Join(out, "journal.jsonl")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if f, err := os.Open(j); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 64<<20)
			for sc.Scan() {
				var ev struct {
					Type string `json:"type"`
					Step string `json:"step"`
				}
				if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Type == "step_start" && ev.Step == step {
					f.Close()
					time.Sleep(300 * time.Millisecond) // let the step's first change land
					return cmd, j
				}
			}
			f.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	t.Fatalf("the drill never reached step %q", step)
	return nil, ""
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
)

func TestKillAtEachStepThenRollbackRestores(t *testing.T) {
	for _, drill := range []string{"A", "B", "E"} {
		for _, step := range allSteps {
			t.Run(drill+"/"+step, func(t *testing.T) {
				t.Parallel()
				lt := startLab(t, drill)
				before := lt.state(t)
				cmd, journal := lt.startRun(t, step)
				_ = cmd.Process.Signal(syscall.SIGKILL)
				_ = cmd.Wait()
				if changes[step] && reflect.DeepEqual(lt.state(t), before) {
					t.Fatalf("nothing was changed when the drill died at %s: the test proves nothing", step)
				}
				for i := range 2 { // rollback is safe to run twice
					if code, out := lt.runBinary(t, "rollback", journal); code != 0 {
						t.Fatalf("rollback %d exited %d: %s", i+1, code, out)
					}
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
			cmd, journal := lt.startRun(t, c.step)
			_ = cmd.Process.Signal(syscall.SIGINT)
			err := cmd.Wait()
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
	lt := startLab(t, "B")
	cmd, _ := lt.startRun(t, "4 observe and clamp")
	if s := lt.state(t); s.Faults == 0 {
		t.Fatal("no fault applied at step 4 of drill B")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	killed := time.Now()
	for lt.state(t).Faults > 0 {
		if time.Since(killed) > 12*time.Second { // the lease is 10 s
			t.Fatal("the blackhole outlived its lease after the drill died")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("fault gone %s after the drill died", time.Since(killed).Round(100*time.Millisecond))
}

func TestSecondDrillIsRefused(t *testing.T) {
	lt := startLab(t, "A")
	cmd, _ := lt.startRun(t, "2 evacuate")
	defer func() { _ = cmd.Process.Signal(syscall.SIGINT); _ = cmd.Wait() }()
	code, out := lt.runBinary(t, "run", lt.plan, "--out", t.TempDir())
	if code != cli.ExitAborted || !strings.Contains(out, "regiondrill pid") {
		t.Fatalf("second drill: exit %d, output %q", code, out)
	}
}
