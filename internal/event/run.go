package event

import (
	"encoding/json"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
)

// RunStart is the data of run_start: the plan, the target and its state
// before the drill (what restore and rollback bring back).
type RunStart struct {
	Plan      json.RawMessage   `json:"plan"`
	Target    string            `json:"target"`
	Endpoints adapter.Endpoints `json:"endpoints"`
	Origin    time.Time         `json:"origin"`
	Snapshot  Snapshot          `json:"snapshot"`
	Regions   []string          `json:"regions"`
	Drills    []Letter          `json:"drills"`
	Owner     string            `json:"owner"`
	PID       int               `json:"pid,omitempty"`  // the drill's process, so rollback can tell a dead drill from a live one
	Host      string            `json:"host,omitempty"` // where it ran
}

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

// RunEnd is the data of run_end.
type RunEnd struct {
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
	// Restored is true when everything the run changed was restored (the
	// snapshot holds again); rollback refuses such a run unless forced.
	Restored bool `json:"restored,omitempty"`
}

// Rollback is the data of rollback: what regiondrill rollback sets out to do.
type Rollback string

// StepStart is the data of step_start (the step's name is the event's step).
type StepStart struct {
	Drill Letter `json:"drill"`
}

// StepEnd is the data of step_end.
type StepEnd struct {
	Drill   Letter      `json:"drill"`
	Outcome StepOutcome `json:"outcome,omitempty"`
	Notes   []string    `json:"notes,omitempty"`
}

// Baseline is the window a drill's baseline latency and error rate are
// measured over (journal ms).
type Baseline struct {
	Drill  Letter `json:"drill"`
	FromMS int64  `json:"from_ms"`
	ToMS   int64  `json:"to_ms"`
}

// Mark is an action on the timeline.
type Mark struct {
	Drill Letter   `json:"drill"`
	Label string   `json:"label"`
	Kind  MarkKind `json:"kind"`
}

// Drained is how long the queues took to drain at a drill's closeout, or
// that they did not within phases.drain_timeout_s (Backlog is then what
// was left, -1 when a region could not be read).
type Drained struct {
	Backlog *int    `json:"backlog,omitempty"` // set only when not drained
	Drill   Letter  `json:"drill"`
	OK      bool    `json:"ok"`
	Seconds float64 `json:"seconds"`
}

// Intent is the data of intent: a change about to be applied and its undo.
type Intent struct {
	Do   adapter.Action  `json:"do"`
	Undo *adapter.Action `json:"undo,omitempty"`
	Why  string          `json:"why"`
}

// Applied is the data of applied: the action as applied.
type Applied struct{ adapter.Action }

// Undone is the data of undone: the undo action as applied.
type Undone struct{ adapter.Action }

// ApplyFailed is the data of apply_failed: the error and, for an action
// sent to several regions, the regions it did not reach.
type ApplyFailed struct {
	Error   string            `json:"error"`
	Regions map[string]string `json:"regions,omitempty"` // region → why
}

// UndoFailed is the data of undo_failed.
type UndoFailed struct {
	Error  string `json:"error"`
	Kind   string `json:"kind"` // the action's kind, or "hook"
	Region string `json:"region,omitempty"`
}

// Refused is a change the drill refused to make (the survivor guard, or an
// old primary that fails the health gate), and why.
type Refused struct {
	Action adapter.ActionKind `json:"refused"`
	Region string             `json:"region"`
	Why    string             `json:"why"`
}

// RefusedReuse names a returning region whose index differs from the
// serving one's: it keeps weight 0.
type RefusedReuse string

// Left is what was still queued when the queues did not drain (0 when they did).
func (d Drained) Left() int {
	if d.Backlog == nil {
		return 0
	}
	return *d.Backlog
}
