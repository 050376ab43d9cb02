package drill

import (
	"context"
	"time"

	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/pulse"
	"github.com/regiondrill/regiondrill/internal/stall"
)

// hotTenant is the tenant whose questions make the hot path.
const hotTenant = "t1"

func (e *Engine) hotQuestions() []string {
	var qs []string
	for i, p := range e.o.Corpus.Probes {
		if i >= 16 {
			break
		}
		qs = append(qs, p.Question)
	}
	return qs
}

func (e *Engine) startLoad(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	var qs []string
	for _, p := range e.o.Corpus.Probes {
		qs = append(qs, p.Question)
	}
	cfg := load.Config{
		URL: e.t.Endpoints().Edge, Rate: e.p.Load.RateRPS, Duration: 24 * time.Hour,
		Sessions: e.p.Load.Sessions, SessionLife: e.p.SessionLife(), WriteRatio: e.p.Load.WriteRatio, ReplayRatio: e.p.Load.ReplayRatio,
		Timeout: e.p.RequestTimeout(), MaxRetries: e.p.Load.MaxRetries,
		Tenants: []string{hotTenant, "t2", "t3", "t4", "t5", "t6", "t7", "t8"}, Questions: qs, Seed: e.p.Seed,
		TokenAuth: e.t.Endpoints().Token,
	}
	if e.o.Traffic != nil {
		return e.startTraffic(ctx, cfg)
	}
	e.rec = load.NewRecorder()
	gen, err := load.New(cfg)
	if err != nil {
		e.loadFailed(ctx, err)
		close(done)
		return done
	}
	e.gen = gen
	e.pulse = pulse.New(e.o.Clock)
	// The generator runs in this process: a stall of the process delays its
	// sends and its clocks, and the judge must know when that happened.
	mon := &stall.Monitor{Clock: e.o.Clock, OnStall: func(span time.Duration) {
		to := e.j.Since()
		e.record(journal.Stall, "", event.Stall{FromMS: to - span.Milliseconds(), ToMS: to})
	}}
	go mon.Run(ctx)
	e.record(journal.LoadStart, "", event.LoadStart{AtMS: e.j.Since()})
	go func() {
		defer close(done)
		sum, err := gen.Run(ctx, pulse.Tee(e.rec, e.pulse))
		if err != nil {
			e.loadFailed(ctx, err)
		}
		if sum != nil {
			e.record(journal.LoadSummary, "", sum)
		}
	}()
	return done
}
