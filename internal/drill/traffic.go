package drill

import (
	"context"

	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/load"
)

// Traffic sends the drill's load from somewhere other than this process
// (agents in other places, package agent). Without one, the engine runs the
// load generator itself: the vantage point "local".
type Traffic interface {
	// Run sends base's traffic until ctx ends, journaling the records (ns
	// since its load_start note, on the journal's timeline) as they arrive,
	// and returns once every record it will get is journaled.
	Run(ctx context.Context, env TrafficEnv) error
	// Records are the records journaled so far, for live checks and stop
	// conditions.
	Records() []load.Record
	// Writes are the logical writes sent so far, as last reported.
	Writes() []load.WriteAttempt
}

// TrafficEnv is what a Traffic gets from the engine.
type TrafficEnv struct {
	Base    load.Config // the local generator's configuration: rate, sessions, entry URL, seed...
	Journal *journal.Writer
	// Stop trips the drill as a stop condition does: no further change,
	// restore, exit 1.
	Stop func(event.Stop, string)
}

func (e *Engine) startTraffic(ctx context.Context, base load.Config) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := e.o.Traffic.Run(ctx, TrafficEnv{Base: base, Journal: e.j, Stop: e.trip}); err != nil {
			e.loadFailed(ctx, err)
		}
	}()
	return done
}

// loadFailed journals why the load ended. While the drills still run, a
// load that cannot go on ends the run as the tool's failure: every change
// after it would be made with nobody to observe it, so none is made, and
// what was changed is restored.
func (e *Engine) loadFailed(ctx context.Context, err error) {
	e.record(journal.LoadError, "", event.LoadError(err.Error()))
	if ctx.Err() != nil {
		return
	}
	e.loadErr.CompareAndSwap(nil, &err)
	e.tripped.Store(true)
	select {
	case e.stop <- "the load stopped: " + err.Error():
	default:
	}
}

// trip stops the drill for a reason found outside the stop conditions.
func (e *Engine) trip(sd event.Stop, why string) {
	if e.tripped.Swap(true) {
		return
	}
	e.record(journal.Stop, "", sd)
	select {
	case e.stop <- why:
	default:
	}
}

// records are the client's records so far, from the local generator or
// the Traffic.
func (e *Engine) records() []load.Record {
	switch {
	case e.o.Traffic != nil:
		return e.o.Traffic.Records()
	case e.rec != nil:
		return e.rec.Records()
	}
	return nil
}

// writes are the logical writes sent so far.
func (e *Engine) writes() []load.WriteAttempt {
	switch {
	case e.o.Traffic != nil:
		return e.o.Traffic.Writes()
	case e.gen != nil:
		return e.gen.Writes()
	}
	return nil
}
