package drill

import (
	"context"
	"errors"
	"fmt"

	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/target"
)

// Rollback restores a target to the snapshot journaled when a drill started,
// for a drill whose process died before its own undo ran. It is idempotent:
// running it twice restores the same state. What it does is appended to j.
func Rollback(ctx context.Context, evs []journal.Event, t *target.HTTP, j *journal.Writer) error {
	if len(evs) == 0 || evs[0].Type != journal.RunStart {
		return errors.New("not a drill journal: no run_start")
	}
	var rs RunStart
	if err := evs[0].Decode(&rs); err != nil {
		return fmt.Errorf("run_start: %w", err)
	}
	p, err := plan.Decode(rs.Plan, "plan.json")
	if err != nil {
		return fmt.Errorf("journaled plan: %w", err)
	}
	e := New(Options{Plan: p, Target: t, Journal: j})
	e.snap, e.epoch = rs.Snapshot, rs.Snapshot.Epoch
	for _, ev := range evs { // promotions since the snapshot raised the epoch
		var a target.Action
		if (ev.Type == journal.Applied || ev.Type == journal.Undone) && ev.Decode(&a) == nil && a.Kind == target.Promote {
			e.epoch = max(e.epoch, a.Epoch)
		}
	}
	e.hookUndos = hooksToUndo(evs)
	_, _ = j.Append(journal.Note, "rollback", "", map[string]string{"rollback": "restoring the pre-drill snapshot"})
	err = e.restore(ctx, "rollback")
	out := RunEnd{Outcome: "rolled_back", Reason: "restored by regiondrill rollback"}
	if err != nil {
		out = RunEnd{Outcome: "rollback_failed", Reason: err.Error()}
	}
	e.end(out)
	if rs.Owner != "" {
		_ = t.Unlock(ctx, rs.Owner) // the dead drill's lock
	}
	return err
}
