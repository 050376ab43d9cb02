package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
)

func ev(t *testing.T, typ journal.Type, id string, v any) journal.Event {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return journal.Event{Type: typ, ID: id, Data: b}
}

// Rollback finds the hooks a dead drill ran and did not undo, in order.
func TestHooksToUndoFromAJournal(t *testing.T) {
	hook := func(arg string) event.Intent {
		return event.Intent{Do: adapter.Action{Kind: adapter.Hook, Argv: []string{"run", arg}},
			Undo: &adapter.Action{Kind: adapter.Hook, Argv: []string{"undo", arg}}}
	}
	evs := []journal.Event{
		ev(t, journal.Intent, "c001", hook("a")), ev(t, journal.Applied, "c001", hook("a").Do),
		ev(t, journal.Intent, "c002", event.Intent{Do: adapter.Action{Kind: adapter.Freeze, Region: "x"}}), ev(t, journal.Applied, "c002", nil),
		ev(t, journal.Intent, "c003", hook("b")), ev(t, journal.ApplyFailed, "c003", event.ApplyFailed{Error: "exit 1"}),
		ev(t, journal.Intent, "c004", hook("c")), ev(t, journal.Applied, "c004", hook("c").Do),
		ev(t, journal.Undone, "c004", hook("c").Undo),
		ev(t, journal.Intent, "c005", hook("d")), // no applied line: the drill died while it ran
	}
	got := hooksToUndo(evs)
	var args []string
	for _, h := range got {
		args = append(args, h.undo.Argv[1])
	}
	if strings.Join(args, ",") != "a,b,d" {
		t.Fatalf("hooks to undo: %v, want a (applied), b (failed, maybe partly applied) and d (intent only: maybe ran)", args)
	}
}

func TestRunHookNeverUsesAShell(t *testing.T) {
	dir := t.TempDir()
	trap := filepath.Join(dir, "x")
	if err := runHook(context.Background(), []string{"echo", "$(touch " + trap + ")", ";", "touch", trap}, nil, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(trap); !os.IsNotExist(err) {
		t.Fatal("an argument was interpreted by a shell")
	}
	err := runHook(context.Background(), []string{"sh", "-c", "echo broken >&2; exit 3"}, nil, time.Second)
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("failing hook: %v", err)
	}
	if err := runHook(context.Background(), []string{"sleep", "5"}, nil, 100*time.Millisecond); err == nil {
		t.Fatal("a hook outlived its timeout")
	}
}

// Issue 14, finding 6: a hook's background child kept the hook running past
// its timeout (no process group, no WaitDelay). Now the whole group goes.
func TestHookWithABackgroundChildStopsInTime(t *testing.T) {
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"exits at once, child holds the pipes", []string{"sh", "-c", "sleep 6 & echo $! > CHILD; exit 0"}},
		{"runs past its timeout", []string{"sh", "-c", "sleep 6 & echo $! > CHILD; sleep 6"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "child")
			argv := append(slices.Clone(c.argv[:2]), strings.ReplaceAll(c.argv[2], "CHILD", pidFile))
			start := time.Now()
			_ = runHook(context.Background(), argv, nil, time.Second)
			took := time.Since(start)
			t.Logf("returned after %s", took)
			if took > 3*time.Second {
				t.Fatalf("hook with timeout 1s returned after %s", took)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatal(err)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			// Killed, the orphan is a zombie until init reaps it: count it gone.
			for {
				stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
				if f := strings.Fields(string(stat)); err != nil || len(f) < 3 || f[2] == "Z" {
					break
				}
				if time.Since(start) > 3*time.Second {
					t.Fatalf("the hook's background child %d outlived it: %s", pid, stat)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// A hook sees only the safe environment and what it names: never the
// admin token unless asked for.
func TestHookEnvironmentHoldsOnlyWhatItNames(t *testing.T) {
	t.Setenv("REGIONDRILL_TOKEN", "secret-admin-token")
	t.Setenv("HOOK_WANTS_THIS", "yes")
	out := filepath.Join(t.TempDir(), "env")
	if err := runHook(context.Background(), []string{"sh", "-c", "env > " + out}, []string{"HOOK_WANTS_THIS"}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	env := string(b)
	if strings.Contains(env, "secret-admin-token") || !strings.Contains(env, "HOOK_WANTS_THIS=yes") || !strings.Contains(env, "PATH=") {
		t.Fatalf("hook environment:\n%s", env)
	}
	if err := runHook(context.Background(), []string{"sh", "-c", "env > " + out}, []string{"REGIONDRILL_TOKEN"}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "secret-admin-token") {
		t.Fatal("a hook that names the token did not get it")
	}
}
