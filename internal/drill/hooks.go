package drill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/target"
)

type hookUndo struct {
	id   string
	undo target.Action
}

// do applies an action: hooks run here, as argv (never through a shell);
// everything else goes to the target.
func (e *Engine) do(ctx context.Context, a target.Action) error {
	if a.Kind != target.Hook {
		return e.t.Do(ctx, a)
	}
	return runArgv(ctx, a.Argv, time.Duration(a.TimeoutMS)*time.Millisecond)
}

// runArgv runs a command with a timeout and bounded output; a non-zero exit
// is an error carrying the command's stderr.
func runArgv(ctx context.Context, argv []string, timeout time.Duration) error {
	if len(argv) == 0 {
		return errors.New("hook: empty argv")
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &limited{w: &stderr, n: 4 << 10}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
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
func stepNumber(step string) int {
	n, _ := strconv.Atoi(strings.SplitN(step, " ", 2)[0])
	return n
}

// runHooks runs the plan's hooks for a step of a drill, journaled like any
// change; a failing hook fails the step.
func (e *Engine) runHooks(ctx context.Context, d *drillRun, step, when string) error {
	for _, h := range e.p.Hooks {
		if plan.HookSteps[h.Step] != stepNumber(step) || h.When != when {
			continue
		}
		if len(h.Drills) > 0 && !slices.ContainsFunc(h.Drills, func(x string) bool { return strings.EqualFold(x, d.letter) || x == string(d.kind) }) {
			continue
		}
		ms := int64(h.TimeoutS * 1000)
		var undo *target.Action
		if len(h.Undo) > 0 {
			undo = &target.Action{Kind: target.Hook, Argv: h.Undo, TimeoutMS: ms}
		}
		if err := e.apply(ctx, step, target.Action{Kind: target.Hook, Argv: h.Run, TimeoutMS: ms}, undo, "hook "+when+" "+step); err != nil {
			return fmt.Errorf("hook %v: %w", h.Run, err)
		}
	}
	return nil
}

// hooksToUndo finds, in a journal, the hooks that ran and were not undone.
func hooksToUndo(evs []journal.Event) []hookUndo {
	intents := map[string]Change{}
	var order []string
	undone := map[string]bool{}
	for _, ev := range evs {
		switch ev.Type {
		case journal.Intent:
			var c Change
			if ev.Decode(&c) == nil && c.Do.Kind == target.Hook && c.Undo != nil {
				intents[ev.ID] = c
			}
		case journal.Applied, journal.ApplyFailed:
			if _, ok := intents[ev.ID]; ok && !slices.Contains(order, ev.ID) {
				order = append(order, ev.ID)
			}
		case journal.Undone:
			undone[ev.ID] = true
		}
	}
	var out []hookUndo
	for _, id := range order {
		if !undone[id] {
			out = append(out, hookUndo{id: id, undo: *intents[id].Undo})
		}
	}
	return out
}
