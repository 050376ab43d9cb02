package drill

import (
	"context"
	"errors"
	"testing"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
)

// A journal that can no longer be written is no evidence: an observation
// it misses fails the run when it ends, and no change is applied that its
// intent could not be journaled for (write-ahead).
func TestAJournalThatCannotBeWrittenFailsTheRun(t *testing.T) {
	f := newFake(t)
	e, _ := f.engine("")
	if err := e.j.Close(); err != nil {
		t.Fatal(err)
	}
	e.record(journal.Mark, "", event.Mark{Drill: "A", Kind: event.MarkDecision, Label: "evacuate us-east"})
	first := e.journalErr.Load()
	if first == nil {
		t.Fatal("a failed append was not kept")
	}
	err := e.apply(context.Background(), event.StepEvacuate, adapter.Action{Kind: adapter.Freeze, Region: "eu-west", Frozen: true}, nil, "test")
	if err == nil || !errors.Is(err, *first) && err.Error() == "" {
		t.Fatalf("apply with an unwritable journal: %v", err)
	}
	if calls := f.adminCalls(); len(calls) > 0 {
		t.Fatalf("a change was applied without its intent in the journal: %v", calls)
	}
	if e.journalErr.Load() != first {
		t.Fatal("the first append error was replaced by a later one")
	}
}
