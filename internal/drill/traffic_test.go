package drill

import (
	"context"
	"errors"
	"testing"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
)

// A load that fails while the drills run stops them: no change after it,
// since nobody would observe it. One that ends with the run does not.
func TestLoadFailureStopsTheDrill(t *testing.T) {
	f := newFake(t)
	e, path := f.engine("")
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	e.loadFailed(ended, errors.New("the run ended under it"))
	if e.tripped.Load() || e.loadErr.Load() != nil {
		t.Fatal("a load that ended with the run stopped the drill")
	}

	e.loadFailed(context.Background(), errors.New("agents: create the run's stream: context deadline exceeded"))
	if !e.tripped.Load() || e.loadErr.Load() == nil {
		t.Fatal("a load that failed mid-run did not stop the drill")
	}
	select {
	case why := <-e.stop:
		e.stop <- why
	default:
		t.Fatal("nothing told the runbook to stop")
	}
	err := e.apply(context.Background(), event.StepEvacuate, adapter.Action{Kind: adapter.Freeze, Region: "eu-west", Frozen: true}, nil, "test")
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("a change after the load failed: %v", err)
	}
	if calls := f.adminCalls(); len(calls) > 0 {
		t.Fatalf("applied after the load failed: %v", calls)
	}
	if err := e.j.Close(); err != nil {
		t.Fatal(err)
	}
	if !journalHas(t, path, string(journal.LoadError), "create the run's stream") {
		t.Fatal("the load's error is not in the journal")
	}
}
