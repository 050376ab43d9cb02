package drill

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/target"
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
	hook := func(arg string) Change {
		return Change{Do: target.Action{Kind: target.Hook, Argv: []string{"run", arg}},
			Undo: &target.Action{Kind: target.Hook, Argv: []string{"undo", arg}}}
	}
	evs := []journal.Event{
		ev(t, journal.Intent, "c001", hook("a")), ev(t, journal.Applied, "c001", hook("a").Do),
		ev(t, journal.Intent, "c002", Change{Do: target.Action{Kind: target.Freeze, Region: "x"}}), ev(t, journal.Applied, "c002", nil),
		ev(t, journal.Intent, "c003", hook("b")), ev(t, journal.ApplyFailed, "c003", map[string]string{"error": "exit 1"}),
		ev(t, journal.Intent, "c004", hook("c")), ev(t, journal.Applied, "c004", hook("c").Do),
		ev(t, journal.Undone, "c004", hook("c").Undo),
		ev(t, journal.Intent, "c005", hook("d")), // never applied: the drill died first
	}
	got := hooksToUndo(evs)
	var args []string
	for _, h := range got {
		args = append(args, h.undo.Argv[1])
	}
	if strings.Join(args, ",") != "a,b" {
		t.Fatalf("hooks to undo: %v, want a (applied) and b (failed, maybe partly applied)", args)
	}
}

func TestRunArgvNeverUsesAShell(t *testing.T) {
	dir := t.TempDir()
	trap := filepath.Join(dir, "x")
	if err := runArgv(context.Background(), []string{"echo", "$(touch " + trap + ")", ";", "touch", trap}, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(trap); !os.IsNotExist(err) {
		t.Fatal("an argument was interpreted by a shell")
	}
	err := runArgv(context.Background(), []string{"sh", "-c", "echo broken >&2; exit 3"}, time.Second)
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("failing hook: %v", err)
	}
	if err := runArgv(context.Background(), []string{"sleep", "5"}, 100*time.Millisecond); err == nil {
		t.Fatal("a hook outlived its timeout")
	}
}
