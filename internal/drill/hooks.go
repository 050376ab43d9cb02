package drill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/plan"
)

type hookUndo struct {
	id   string
	undo adapter.Action
}

// do applies an action: hooks run here, as argv (never through a shell);
// everything else goes to the adapter.
func (e *Engine) do(ctx context.Context, a adapter.Action) error {
	if a.Kind != adapter.Hook {
		return e.t.Do(ctx, a)
	}
	return runHook(ctx, a.Argv, a.Env, time.Duration(a.TimeoutMS)*time.Millisecond)
}

// safeEnv is what every hook gets from regiondrill's environment; anything
// else (the admin token above all) only when the hook names it.
var safeEnv = []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER"}

// hookEnv is a hook's environment: the safe set plus the names it asked for.
func hookEnv(names []string) []string {
	var env []string
	seen := map[string]bool{}
	for _, n := range append(slices.Clone(safeEnv), names...) {
		if v, ok := os.LookupEnv(n); ok && !seen[n] {
			seen[n] = true
			env = append(env, n+"="+v)
		}
	}
	return env
}

// hookWaitDelay bounds how long a hook's output is read after it exits or
// is killed: a child it left behind may hold the pipes open.
const hookWaitDelay = time.Second

// maxHookOutput bounds what is kept of a hook's stdout and stderr.
const maxHookOutput = 4 << 10

// runHook runs a command in its own process group with a timeout, the
// environment hookEnv gives it and bounded output. At the timeout (or when
// ctx ends) the whole group is killed, and so is whatever the command left
// behind when it exits: a hook never outlives its timeout by more than
// hookWaitDelay. A non-zero exit is an error carrying the command's stderr.
func runHook(ctx context.Context, argv, env []string, timeout time.Duration) error {
	if len(argv) == 0 {
		return errors.New("hook: empty argv")
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = hookWaitDelay
	cmd.Env = hookEnv(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &limited{w: &stdout, n: maxHookOutput}
	cmd.Stderr = &limited{w: &stderr, n: maxHookOutput}
	err := cmd.Run()
	if cmd.Process != nil {
		// The group outlives its leader when a child was left running; the
		// leader was reaped, but its id stays the group's while one lives.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // it exited 0; what it left behind is gone
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w after %s (process group killed)", ctx.Err(), timeout)
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("%s: %w: %s", argv[0], err, msg)
		}
		return fmt.Errorf("%s: %w", argv[0], err)
	}
	return nil
}

type limited struct {
	w *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// stepNumber is the runbook number of a step name ("2 evacuate" → 2).
func stepNumber(step event.Step) int {
	n, _ := strconv.Atoi(strings.SplitN(string(step), " ", 2)[0])
	return n
}

// runHooks runs the plan's hooks for a step of a drill, journaled like any
// change; a failing hook fails the step.
func (e *Engine) runHooks(ctx context.Context, d *drillRun, step event.Step, when string) error {
	for _, h := range e.p.Hooks {
		if plan.HookSteps[h.Step] != stepNumber(step) || h.When != when {
			continue
		}
		if len(h.Drills) > 0 && !slices.ContainsFunc(h.Drills, func(x string) bool { return strings.EqualFold(x, string(d.letter)) || x == string(d.info.Name) }) {
			continue
		}
		ms := int64(h.TimeoutS * 1000)
		var undo *adapter.Action
		if len(h.Undo) > 0 {
			undo = &adapter.Action{Kind: adapter.Hook, Argv: h.Undo, Env: h.Env, TimeoutMS: ms}
		}
		if err := e.apply(ctx, step, adapter.Action{Kind: adapter.Hook, Argv: h.Run, Env: h.Env, TimeoutMS: ms}, undo, "hook "+when+" "+string(step)); err != nil {
			return fmt.Errorf("hook %v: %w", h.Run, err)
		}
	}
	return nil
}

// hooksToUndo finds, in a journal, the hooks whose intent was journaled
// and that were not undone, in the order they ran. A hook with no applied
// line may still have run (the drill died while it ran), so it is undone
// too: undos must cope with a change that was never made.
func hooksToUndo(evs []journal.Event) []hookUndo {
	var out []hookUndo
	undone := map[string]bool{}
	for _, ev := range evs {
		if ev.Type == journal.Undone {
			undone[ev.ID] = true
		}
	}
	for _, ev := range evs {
		var c event.Intent
		if ev.Type == journal.Intent && !undone[ev.ID] && ev.Decode(&c) == nil && c.Do.Kind == adapter.Hook && c.Undo != nil {
			out = append(out, hookUndo{id: ev.ID, undo: *c.Undo})
		}
	}
	return out
}
