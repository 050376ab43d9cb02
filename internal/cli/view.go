package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/drill"
	"github.com/regiondrill/regiondrill/internal/journal"
)

// view is the terminal observer of the journal: one line per step and per
// action, plus a status line each second with backlog.
type view struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	start time.Time
}

func newView(w io.Writer) *view {
	v := &view{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			v.tty = true
		}
	}
	return v
}

func (v *view) observe(ev journal.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	el := time.Duration(ev.At) * time.Millisecond
	switch ev.Type {
	case journal.StepStart:
		var sd drill.StepData
		_ = ev.Decode(&sd)
		v.line("%6.1fs  drill %s  %s", el.Seconds(), sd.Drill, ev.Step)
	case journal.StepEnd:
		var sd drill.StepData
		_ = ev.Decode(&sd)
		if sd.Outcome != "ok" {
			v.line("%6.1fs  drill %s  %s: %s %v", el.Seconds(), sd.Drill, ev.Step, sd.Outcome, sd.Notes)
		}
	case journal.Applied:
		v.line("%6.1fs          applied %s", el.Seconds(), string(ev.Data))
	case journal.Check:
		var c struct {
			Phase, Name, Value string
			Pass               bool
		}
		_ = ev.Decode(&c)
		if !c.Pass {
			v.line("%6.1fs          %s check %s failed: %s", el.Seconds(), c.Phase, c.Name, c.Value)
		}
	case journal.Health:
		if !v.tty {
			return
		}
		var s drill.Sample
		_ = ev.Decode(&s)
		backlog := 0
		for _, h := range s.Regions {
			backlog += h.Queue.Backlog
		}
		fmt.Fprintf(v.w, "\r%6.1fs  backlog %d  regions up %d/%d   ", el.Seconds(), backlog, len(s.Regions), len(s.Regions)+len(s.Errors))
	case journal.Stop:
		v.line("%6.1fs  STOP CONDITION TRIPPED: %s", el.Seconds(), string(ev.Data))
	}
}

func (v *view) line(format string, args ...any) {
	if v.tty {
		fmt.Fprint(v.w, "\r\033[K")
	}
	fmt.Fprintf(v.w, format+"\n", args...)
}

func (v *view) close() {}
