// Package drill runs a plan's drills as the page's seven-step runbook against
// a target: it gates on pre-checks, makes each change through the journal
// (intent with undo, then applied), watches live checks while load runs, and
// closes with post-checks. Everything it sees goes to the journal; the
// verdict is computed from the journal alone (package judge).
package drill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/embed"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/pulse"
)

// Errors that end a run early.
var (
	ErrGate        = errors.New("pre-check gate failed")
	ErrStopped     = errors.New("stop condition tripped")
	ErrLoadFailed  = errors.New("the load failed")
	ErrInterrupted = errors.New("interrupted")
	ErrNoSurvivor  = errors.New("refused: the change would leave no region serving")
	// ErrDrillFailed ends a drill that found a failure it must not go past
	// (for example a rebuilt index whose INDEX_HASH does not match): the
	// drill fails (exit 1), it did not break.
	ErrDrillFailed = errors.New("drill failed")
)

// Options are the inputs of a run.
type Options struct {
	Plan     *plan.Plan
	PlanJSON json.RawMessage
	Target   Target
	Journal  *journal.Writer
	Corpus   *corpus.Corpus
	Embedder embed.Embedder
	// Clock is the engine's time: every stamp, duration and deadline it
	// measures reads it (time.Now when nil). It must advance with real time:
	// the engine still sleeps and waits on timers.
	Clock  func() time.Time
	Logger *slog.Logger
	Label  string // what is drilled, for the report ("lab" or the edge URL)
	Owner  string // who holds the target's drill lock while this run lasts
	// Traffic sends the load instead of this process (agents); nil runs
	// the local generator.
	Traffic Traffic
}

// lockLease is how long the drill lock outlives a drill that stops renewing it.
const lockLease = 15 * time.Second

// Engine runs one plan.
type Engine struct {
	o    Options
	p    *plan.Plan
	t    Target
	j    *journal.Writer
	log  *slog.Logger
	snap event.Snapshot
	rec  *load.Recorder
	gen  *load.Generator
	// guardWait is how long the survivor guard waits for a refusal that
	// may pass (a region not ready or out of rotation for a moment).
	guardWait time.Duration
	pulse     *pulse.Pulse // per-second summary of ended requests, journaled with each health sample
	mu        sync.Mutex
	epoch     uint64
	changes   int
	applied   []string // change ids applied and not yet undone, in order
	stop      chan string
	tripped   atomic.Bool           // a stop condition tripped: no further change is applied
	loadErr   atomic.Pointer[error] // the load failed while the drills ran
	leases    leases                // the drill lock's and the faults' renewals (lease.go)
	seen      healthSeen            // the sampler's last health sample (guard.go)
	// hookUndos are the undos of the user hooks that ran, in order.
	hookUndos []hookUndo
	token     string
	// journalErr is the first journal append that failed: the run fails
	// with it (a journal that misses events is no evidence).
	journalErr atomic.Pointer[error]
}

// New prepares an engine.
func New(o Options) *Engine {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{o: o, p: o.Plan, t: o.Target, j: o.Journal, log: o.Logger, stop: make(chan string, 1), guardWait: defaultGuardWait}
}

// now is the engine's clock.
func (e *Engine) now() time.Time { return e.o.Clock() }

// Run executes every drill of the plan. Undo always runs before Run returns:
// on success, failure, error and interrupt (ctx canceled).
func (e *Engine) Run(ctx context.Context) (err error) {
	if e.o.Owner == "" {
		e.o.Owner = fmt.Sprintf("regiondrill run at %s", e.now().UTC().Format(time.RFC3339Nano))
	}
	// One drill at a time per target: refused before anything is touched.
	if err := e.t.Lock(ctx, e.o.Owner, lockLease); err != nil {
		return fmt.Errorf("take the drill lock: %w", err)
	}
	e.leases.renewed(lockName, e.now())
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.t.Unlock(uctx, e.o.Owner)
	}()
	snap, err := e.snapshot(ctx)
	if err != nil {
		return fmt.Errorf("read the target's state before the drill: %w", err)
	}
	e.snap, e.epoch = snap, snap.Epoch
	var drills []event.Letter
	for _, d := range e.p.DrillList() {
		drills = append(drills, event.Letter(d.Letter()))
	}
	if err := e.write(journal.RunStart, "", "", event.RunStart{
		Plan: e.o.PlanJSON, Target: e.o.Label, Endpoints: e.t.Endpoints(), Origin: e.j.Origin(),
		Snapshot: snap, Regions: e.p.Regions, Drills: drills, Owner: e.o.Owner, PID: os.Getpid(), Host: hostname(),
	}); err != nil {
		return err
	}
	if e.token, err = e.t.Token(ctx, e.p.Survivors()[0], "regiondrill-probe"); err != nil {
		err = fmt.Errorf("get a probe token: %w", err)
		return errors.Join(err, e.end(event.RunEnd{Outcome: event.Error, Reason: err.Error()}))
	}

	loadCtx, stopLoad := context.WithCancel(context.Background())
	loadDone := e.startLoad(loadCtx)
	sampleCtx, stopSample := context.WithCancel(context.Background())
	sampleDone := e.startSampler(sampleCtx)

	runErr := e.runDrills(ctx)

	stopLoad()
	// Undo runs whatever happened, at once (the load winds down meanwhile),
	// with a context of its own: an interrupt must not stop the restore.
	undoCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	restoreErr := e.restore(undoCtx, event.StepCloseout)
	<-loadDone
	e.closeout(undoCtx)
	cancel()
	stopSample()
	<-sampleDone

	if jerr := e.journalErr.Load(); jerr != nil && runErr == nil {
		runErr = *jerr
	}
	end := event.RunEnd{Outcome: event.Completed}
	if le := e.loadErr.Load(); le != nil && runErr != nil && !errors.Is(runErr, ErrGate) {
		runErr = fmt.Errorf("%w: %w", ErrLoadFailed, *le)
	}
	switch {
	case errors.Is(runErr, ErrLoadFailed):
		end = event.RunEnd{Outcome: event.Error, Reason: "the drill stopped because the load could not go on: " + (*e.loadErr.Load()).Error()}
	case errors.Is(runErr, ErrGate):
		end = event.RunEnd{Outcome: event.GateFailed, Reason: runErr.Error()}
	case errors.Is(runErr, ErrStopped):
		end = event.RunEnd{Outcome: event.Stopped, Reason: runErr.Error()}
	case errors.Is(runErr, ErrDrillFailed):
		end = event.RunEnd{Outcome: event.DrillFailed, Reason: runErr.Error()}
	case errors.Is(runErr, ErrInterrupted), ctx.Err() != nil:
		end = event.RunEnd{Outcome: event.Interrupted, Reason: "interrupted; restored"}
		runErr = ErrInterrupted
	case runErr != nil:
		end = event.RunEnd{Outcome: event.Error, Reason: runErr.Error()}
	}
	end.Restored = restoreErr == nil
	if restoreErr != nil {
		end.Reason += "; restore: " + restoreErr.Error()
		if runErr == nil {
			runErr = fmt.Errorf("restore: %w", restoreErr)
			end.Outcome = event.Error
			if errors.Is(restoreErr, ErrDrillFailed) { // the target would not go back: a finding
				end.Outcome = event.DrillFailed
			}
		}
	}
	if err := e.end(end); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// end journals how the run ended.
func (e *Engine) end(r event.RunEnd) error { return e.write(journal.RunEnd, "", "", r) }

// write journals one event. The first append that fails is kept and fails
// the run when it ends; the caller decides whether to go on at once.
func (e *Engine) write(typ journal.Type, step event.Step, id string, data any) error {
	_, err := e.j.Append(typ, string(step), id, data)
	if err != nil {
		err = fmt.Errorf("journal %s: %w", typ, err)
		e.journalErr.CompareAndSwap(nil, &err)
	}
	return err
}

// record journals an observation the drill goes on without: a failed
// append is kept by write and fails the run when it ends.
func (e *Engine) record(typ journal.Type, step event.Step, data any) {
	_ = e.write(typ, step, "", data)
}

func (e *Engine) runDrills(ctx context.Context) error {
	for _, d := range e.p.DrillList() {
		if err := e.runDrill(ctx, d); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ErrInterrupted
		}
	}
	return nil
}

// snapshot reads what undo must restore.
func (e *Engine) snapshot(ctx context.Context) (event.Snapshot, error) {
	s := event.Snapshot{Frozen: map[string]bool{}, EmitFrom: map[string][]string{}, MinInst: map[string]int{}}
	w, err := e.t.Weights(ctx)
	if err != nil {
		return s, err
	}
	s.Weights = w
	hs, errs := e.t.HealthAll(ctx)
	if len(errs) > 0 {
		return s, fmt.Errorf("regions unreachable: %v", errs)
	}
	s.K, s.Index = map[string]int{}, map[string]event.IndexState{}
	for r, h := range hs {
		s.Frozen[r] = h.Frozen
		s.EmitFrom[r] = h.EmitFrom
		s.MinInst[r] = h.MinInstances
		s.K[r] = h.K
		s.Index[r] = event.IndexState{Hash: h.IndexHash, Analyzer: h.Analyzer, Metric: h.Metric}
		if h.Epoch >= s.Epoch {
			s.Epoch, s.Primary = h.Epoch, h.Primary
		}
	}
	f, err := e.t.ActiveFaults(ctx)
	if err == nil {
		s.Faults = len(f)
	}
	return s, nil
}

// apply journals a change with its undo, applies it, and journals the result.
func (e *Engine) apply(ctx context.Context, step event.Step, do adapter.Action, undo *adapter.Action, why string) error {
	if e.tripped.Load() {
		return fmt.Errorf("%w: no change after a stop condition tripped", ErrStopped)
	}
	if err := e.survivorGuard(ctx, do); err != nil {
		e.record(journal.Refused, step, event.Refused{Action: do.Kind, Region: do.Region, Why: err.Error()})
		return err
	}
	e.mu.Lock()
	e.changes++
	id := fmt.Sprintf("c%03d", e.changes)
	e.mu.Unlock()
	if err := e.write(journal.Intent, step, id, event.Intent{Do: do, Undo: undo, Why: why}); err != nil {
		return err
	}
	err := e.do(ctx, do)
	if do.Kind == adapter.Hook && undo != nil {
		e.mu.Lock()
		e.hookUndos = append(e.hookUndos, hookUndo{id: id, undo: *undo})
		e.mu.Unlock()
	}
	var jerr error
	if err != nil {
		failed := map[string]string{}
		for _, re := range adapter.RegionErrors(err) {
			failed[re.Region] = re.Err.Error()
		}
		jerr = e.write(journal.ApplyFailed, step, id, event.ApplyFailed{Error: err.Error(), Regions: failed})
	} else {
		jerr = e.write(journal.Applied, step, id, event.Applied{Action: do})
	}
	e.mu.Lock()
	e.applied = append(e.applied, id) // undo runs even for a partly applied change
	e.mu.Unlock()
	if err == nil {
		err = jerr // applied, but the journal does not say so: go no further
	}
	return err
}

func (e *Engine) nextEpoch() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	hsEpoch := e.epoch
	e.epoch = hsEpoch + 1
	return e.epoch
}

func (e *Engine) maxEpoch(hs map[string]contract.Health) uint64 {
	var m uint64
	for _, h := range hs {
		m = max(m, h.Epoch)
	}
	return m
}

// weightsWith returns the snapshot weights with region set to w.
func (e *Engine) weightsWith(ctx context.Context, region string, w int) map[string]int {
	cur, err := e.t.Weights(ctx)
	if err != nil || len(cur) == 0 {
		cur = maps.Clone(e.snap.Weights)
	}
	out := maps.Clone(cur)
	out[region] = w
	return out
}

func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ErrInterrupted
	case why := <-e.stop:
		e.stop <- why
		return fmt.Errorf("%w: %s", ErrStopped, why)
	case <-t.C:
		return nil
	}
}

func (e *Engine) sortedRegions() []string {
	r := slices.Clone(e.p.Regions)
	slices.Sort(r)
	return r
}
