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
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/pulse"
)

// Errors that end a run early.
var (
	ErrGate        = errors.New("pre-check gate failed")
	ErrStopped     = errors.New("stop condition tripped")
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
	Target   *adapter.HTTP
	Journal  *journal.Writer
	Corpus   *corpus.Corpus
	Embedder embed.Embedder
	Clock    func() time.Time
	Logger   *slog.Logger
	Label    string // what is drilled, for the report ("lab" or the edge URL)
	Owner    string // who holds the target's drill lock while this run lasts
	// Traffic sends the load instead of this process (agents); nil runs
	// the local generator.
	Traffic Traffic
}

// lockLease is how long the drill lock outlives a drill that stops renewing it.
const lockLease = 15 * time.Second

// Snapshot is the target's state before the drill: what undo restores.
type Snapshot struct {
	Weights  map[string]int      `json:"weights"`
	Primary  string              `json:"primary"`
	Epoch    uint64              `json:"epoch"`
	Frozen   map[string]bool     `json:"frozen"`
	EmitFrom map[string][]string `json:"emit_from"`
	MinInst  map[string]int      `json:"min_instances"`
	Faults   int                 `json:"faults"`
	// K and Index are absent from journals of older versions.
	K     map[string]int        `json:"k,omitempty"`     // default top-k per region
	Index map[string]IndexState `json:"index,omitempty"` // served index per region
}

// IndexState is a region's served index: what a rebuild must reproduce.
type IndexState struct {
	Hash     string `json:"index_hash"`
	Analyzer string `json:"analyzer"`
	Metric   string `json:"metric"`
}

// Engine runs one plan.
type Engine struct {
	o    Options
	p    *plan.Plan
	t    *adapter.HTTP
	j    *journal.Writer
	log  *slog.Logger
	snap Snapshot
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
	tripped   atomic.Bool // a stop condition tripped: no further change is applied
	leases    leases      // the drill lock's and the faults' renewals (lease.go)
	seen      healthSeen  // the sampler's last health sample (guard.go)
	// hookUndos are the undos of the user hooks that ran, in order.
	hookUndos []hookUndo
	token     string
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

// RunStart is the data of the run_start event.
type RunStart struct {
	Plan      json.RawMessage   `json:"plan"`
	Target    string            `json:"target"`
	Endpoints adapter.Endpoints `json:"endpoints"`
	Origin    time.Time         `json:"origin"`
	Snapshot  Snapshot          `json:"snapshot"`
	Regions   []string          `json:"regions"`
	Drills    []string          `json:"drills"`
	Owner     string            `json:"owner"`
	PID       int               `json:"pid,omitempty"`  // the drill's process, so rollback can tell a dead drill from a live one
	Host      string            `json:"host,omitempty"` // where it ran
}

// RunEnd is the data of the run_end event.
type RunEnd struct {
	Outcome string `json:"outcome"` // completed, gate_failed, stopped, interrupted, error
	Reason  string `json:"reason,omitempty"`
	// Restored is true when everything the run changed was restored (the
	// snapshot holds again); rollback refuses such a run unless forced.
	Restored bool `json:"restored,omitempty"`
}

// Run executes every drill of the plan. Undo always runs before Run returns:
// on success, failure, error and interrupt (ctx canceled).
func (e *Engine) Run(ctx context.Context) (err error) {
	if e.o.Owner == "" {
		e.o.Owner = fmt.Sprintf("regiondrill run at %s", e.o.Clock().UTC().Format(time.RFC3339Nano))
	}
	// One drill at a time per target: refused before anything is touched.
	if err := e.t.Lock(ctx, e.o.Owner, lockLease); err != nil {
		return fmt.Errorf("take the drill lock: %w", err)
	}
	e.leases.renewed(lockName, e.o.Clock())
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
	var drills []string
	for _, d := range e.p.DrillList() {
		drills = append(drills, d.Letter())
	}
	if _, err := e.j.Append(journal.RunStart, "", "", RunStart{
		Plan: e.o.PlanJSON, Target: e.o.Label, Endpoints: e.t.Endpoints(), Origin: e.j.Origin(),
		Snapshot: snap, Regions: e.p.Regions, Drills: drills, Owner: e.o.Owner, PID: os.Getpid(), Host: hostname(),
	}); err != nil {
		return err
	}
	if e.token, err = e.t.Token(ctx, e.p.Survivors()[0], "regiondrill-probe"); err != nil {
		e.end(RunEnd{Outcome: "error", Reason: err.Error()})
		return fmt.Errorf("get a probe token: %w", err)
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
	restoreErr := e.restore(undoCtx, "closeout")
	<-loadDone
	e.closeout(undoCtx)
	cancel()
	stopSample()
	<-sampleDone

	end := RunEnd{Outcome: "completed"}
	switch {
	case errors.Is(runErr, ErrGate):
		end = RunEnd{Outcome: "gate_failed", Reason: runErr.Error()}
	case errors.Is(runErr, ErrStopped):
		end = RunEnd{Outcome: "stopped", Reason: runErr.Error()}
	case errors.Is(runErr, ErrDrillFailed):
		end = RunEnd{Outcome: "drill_failed", Reason: runErr.Error()}
	case errors.Is(runErr, ErrInterrupted), ctx.Err() != nil:
		end = RunEnd{Outcome: "interrupted", Reason: "interrupted; restored"}
		runErr = ErrInterrupted
	case runErr != nil:
		end = RunEnd{Outcome: "error", Reason: runErr.Error()}
	}
	end.Restored = restoreErr == nil
	if restoreErr != nil {
		end.Reason += "; restore: " + restoreErr.Error()
		if runErr == nil {
			runErr = fmt.Errorf("restore: %w", restoreErr)
			end.Outcome = "error"
			if errors.Is(restoreErr, ErrDrillFailed) { // the target would not go back: a finding
				end.Outcome = "drill_failed"
			}
		}
	}
	e.end(end)
	return runErr
}

func (e *Engine) end(r RunEnd) { _, _ = e.j.Append(journal.RunEnd, "", "", r) }

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
func (e *Engine) snapshot(ctx context.Context) (Snapshot, error) {
	s := Snapshot{Frozen: map[string]bool{}, EmitFrom: map[string][]string{}, MinInst: map[string]int{}}
	w, err := e.t.Weights(ctx)
	if err != nil {
		return s, err
	}
	s.Weights = w
	hs, errs := e.t.HealthAll(ctx)
	if len(errs) > 0 {
		return s, fmt.Errorf("regions unreachable: %v", errs)
	}
	s.K, s.Index = map[string]int{}, map[string]IndexState{}
	for r, h := range hs {
		s.Frozen[r] = h.Frozen
		s.EmitFrom[r] = h.EmitFrom
		s.MinInst[r] = h.MinInstances
		s.K[r] = h.K
		s.Index[r] = IndexState{Hash: h.IndexHash, Analyzer: h.Analyzer, Metric: h.Metric}
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

// Change is the data of an intent event: the action and its undo.
type Change struct {
	Do   adapter.Action  `json:"do"`
	Undo *adapter.Action `json:"undo,omitempty"`
	Why  string          `json:"why"`
}

// apply journals a change with its undo, applies it, and journals the result.
func (e *Engine) apply(ctx context.Context, step string, do adapter.Action, undo *adapter.Action, why string) error {
	if e.tripped.Load() {
		return fmt.Errorf("%w: no change after a stop condition tripped", ErrStopped)
	}
	if err := e.survivorGuard(ctx, do); err != nil {
		_, _ = e.j.Append(journal.Note, step, "", map[string]string{"refused": string(do.Kind), "region": do.Region, "why": err.Error()})
		return err
	}
	e.mu.Lock()
	e.changes++
	id := fmt.Sprintf("c%03d", e.changes)
	e.mu.Unlock()
	if _, err := e.j.Append(journal.Intent, step, id, Change{Do: do, Undo: undo, Why: why}); err != nil {
		return err
	}
	err := e.do(ctx, do)
	if do.Kind == adapter.Hook && undo != nil {
		e.mu.Lock()
		e.hookUndos = append(e.hookUndos, hookUndo{id: id, undo: *undo})
		e.mu.Unlock()
	}
	if err != nil {
		failed := map[string]string{}
		for _, re := range adapter.RegionErrors(err) {
			failed[re.Region] = re.Err.Error()
		}
		_, _ = e.j.Append(journal.ApplyFailed, step, id, ApplyFailure{Error: err.Error(), Regions: failed})
	} else {
		_, _ = e.j.Append(journal.Applied, step, id, do)
	}
	e.mu.Lock()
	e.applied = append(e.applied, id) // undo runs even for a partly applied change
	e.mu.Unlock()
	return err
}

// ApplyFailure is the journal record of a change that failed: the error and,
// for an action sent to several regions, the regions it did not reach.
type ApplyFailure struct {
	Error   string            `json:"error"`
	Regions map[string]string `json:"regions,omitempty"` // region → why
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
