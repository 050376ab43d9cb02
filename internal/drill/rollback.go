package drill

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// Errors of a rollback that refuses to start.
var (
	// ErrRestoredAlready: the run's run_end says everything was restored.
	ErrRestoredAlready = errors.New("the run restored the target already")
	// ErrDrillAlive: the drill that wrote the journal still runs.
	ErrDrillAlive = errors.New("the drill is still running")
)

// Journaled is what rollback reads from a drill's journal.
type Journaled struct {
	Start  event.RunStart
	Plan   *plan.Plan
	End    *event.RunEnd // the last run_end, nil when the drill died before writing one
	events []journal.Event
}

// ReadJournaled decodes a journal's run_start, plan and last run_end.
func ReadJournaled(evs []journal.Event) (*Journaled, error) {
	if len(evs) == 0 || evs[0].Type != journal.RunStart {
		return nil, errors.New("not a drill journal: no run_start")
	}
	j := &Journaled{events: evs}
	if err := evs[0].Decode(&j.Start); err != nil {
		return nil, fmt.Errorf("run_start: %w", err)
	}
	p, err := plan.Decode(j.Start.Plan, "plan.json")
	if err != nil {
		return nil, fmt.Errorf("journaled plan: %w", err)
	}
	j.Plan = p
	for _, ev := range evs {
		if ev.Type == journal.RunEnd {
			var end event.RunEnd
			if err := ev.Decode(&end); err != nil {
				return nil, fmt.Errorf("run_end (event %d): %w", ev.Seq, err)
			}
			j.End = &end
		}
	}
	return j, nil
}

// Restored reports whether the run says it restored everything. Journals
// older than RunEnd.Restored count as restored when they ended with the
// engine's own restore and it reported no failure.
func (j *Journaled) Restored() bool {
	if j.End == nil {
		return false
	}
	if j.End.Restored {
		return true
	}
	switch j.End.Outcome {
	case event.Completed, event.GateFailed, event.Stopped, event.DrillFailed, event.Interrupted, event.RolledBack:
		return !strings.Contains(j.End.Reason, "restore:")
	}
	return false
}

// engine is an engine positioned where the dead drill left the adapter.
func (j *Journaled) engine(t Target, w *journal.Writer) *Engine {
	e := New(Options{Plan: j.Plan, Target: t, Journal: w})
	e.snap, e.epoch = j.Start.Snapshot, j.Start.Snapshot.Epoch
	for _, ev := range j.events { // promotions since the snapshot raised the epoch
		var a event.Applied // an undone event's data is the same action
		if (ev.Type == journal.Applied || ev.Type == journal.Undone) && ev.Decode(&a) == nil && a.Kind == adapter.Promote {
			e.epoch = max(e.epoch, a.Epoch)
		}
	}
	e.hookUndos = hooksToUndo(j.events)
	return e
}

// PlanRollback lists every action a rollback would take, reading the
// target's health to decide and changing nothing.
func PlanRollback(ctx context.Context, j *Journaled, t Target) ([]Planned, error) {
	return j.engine(t, nil).runRestore(ctx, event.StepRollback, true)
}

// Rollback restores a target to the snapshot journaled when a drill
// started, for a drill whose process died before its own undo ran. The
// caller holds the target's drill lock (TakeLock). It is idempotent:
// running it twice restores the same state. What it does is appended to w.
func Rollback(ctx context.Context, j *Journaled, t Target, w *journal.Writer) error {
	e := j.engine(t, w)
	// Write-ahead: a rollback the journal cannot record does not start.
	if err := e.write(journal.Rollback, event.StepRollback, "", event.Rollback("restoring the pre-drill snapshot")); err != nil {
		return err
	}
	err := e.restore(ctx, event.StepRollback)
	out := event.RunEnd{Outcome: event.RolledBack, Reason: "restored by regiondrill rollback", Restored: true}
	if err != nil {
		out = event.RunEnd{Outcome: event.RollbackFailed, Reason: err.Error()}
	}
	return errors.Join(err, e.end(out))
}

// TakeLock takes the target's drill lock for a rollback (owner me) and
// keeps it renewed until release is called. It refuses while another
// drill holds the lock, naming it. The dead drill's own lock is taken over
// when that drill is gone: its process no longer exists on this host, or
// it ended, or its lease ran out without renewal; a drill that still runs
// is refused (interrupt it: it restores itself).
func TakeLock(ctx context.Context, j *Journaled, t Target, me string) (release func(), err error) {
	err = t.Lock(ctx, me, lockLease)
	var le *adapter.LockedError
	if errors.As(err, &le) && le.HeldBy(j.Start.Owner) {
		switch {
		case j.End != nil || processGone(j.Start):
			if err = t.Unlock(ctx, j.Start.Owner); err == nil {
				err = t.Lock(ctx, me, lockLease)
			}
		case j.Start.Host == hostname():
			return nil, fmt.Errorf("%w: pid %d on %s holds the drill lock; interrupt it (Ctrl-C) and it restores the target itself", ErrDrillAlive, j.Start.PID, j.Start.Host)
		default: // on another host: gone only once its lease runs out unrenewed
			deadline := time.Now().Add(lockLease + 2*time.Second)
			for errors.As(err, &le) && le.HeldBy(j.Start.Owner) && time.Now().Before(deadline) {
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(time.Second):
				}
				err = t.Lock(ctx, me, lockLease)
			}
			if errors.As(err, &le) && le.HeldBy(j.Start.Owner) {
				return nil, fmt.Errorf("%w: %s keeps renewing the drill lock", ErrDrillAlive, j.Start.Owner)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("take the drill lock: %w", err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(lockLease / 5)
		defer tick.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-tick.C:
				lctx, lcancel := context.WithTimeout(rctx, 2*time.Second)
				_ = t.Lock(lctx, me, lockLease)
				lcancel()
			}
		}
	}()
	return func() {
		cancel()
		<-done
		uctx, ucancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ucancel()
		_ = t.Unlock(uctx, me)
	}, nil
}

// processGone reports whether the drill's process is known to be gone: it
// ran on this host and no process has its id any more.
func processGone(rs event.RunStart) bool {
	if rs.PID <= 0 || rs.Host == "" || rs.Host != hostname() {
		return false
	}
	return errors.Is(syscall.Kill(rs.PID, 0), syscall.ESRCH)
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
