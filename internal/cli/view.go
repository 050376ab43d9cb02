package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
)

// view is the terminal observer of the journal: one line per step and per
// action, plus each second a status line with the request rate, error rate,
// p95, traffic share per region and backlog, redrawn in place on a terminal
// and printed as plain lines otherwise.
type view struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	start   time.Time
	step    string   // current runbook step, e.g. "B 2 evacuate"
	regions []string // in the plan's order
	status  bool     // a status line is on screen (TTY)
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
	case journal.RunStart:
		var rs event.RunStart
		_ = ev.Decode(&rs)
		v.regions = rs.Regions
	case journal.StepStart:
		var sd event.StepStart
		_ = ev.Decode(&sd)
		v.step = string(sd.Drill) + " " + ev.Step
		v.line("%6.1fs  drill %s  %s", el.Seconds(), sd.Drill, ev.Step)
	case journal.StepEnd:
		var sd event.StepEnd
		_ = ev.Decode(&sd)
		if sd.Outcome != event.StepOK {
			v.line("%6.1fs  drill %s  %s: %s %v", el.Seconds(), sd.Drill, ev.Step, sd.Outcome, sd.Notes)
		}
	case journal.Applied:
		v.line("%6.1fs          applied %s", el.Seconds(), string(ev.Data))
	case journal.Check:
		var c event.Check
		_ = ev.Decode(&c)
		if !c.Pass {
			v.line("%6.1fs          %s check %s failed: %s", el.Seconds(), c.Phase, c.Name, c.Value)
		}
	case journal.Health:
		var smp event.Health
		_ = ev.Decode(&smp)
		line := fmt.Sprintf("%6.1fs  %s", el.Seconds(), statusLine(v.step, v.regions, smp))
		if v.tty {
			fmt.Fprintf(v.w, "\r\033[K%s", line)
			v.status = true
		} else {
			fmt.Fprintln(v.w, line)
		}
	case journal.Stop:
		v.line("%6.1fs  STOP CONDITION TRIPPED: %s", el.Seconds(), string(ev.Data))
	}
}

func (v *view) line(format string, args ...any) {
	if v.tty {
		fmt.Fprint(v.w, "\r\033[K")
		v.status = false
	}
	fmt.Fprintf(v.w, format+"\n", args...)
}

// statusLine is one second of the drill: "B 2 evacuate | 80 req/s  err 1.2%
// p95 84 ms | us-east 0% eu-west 100% | backlog 3 | up 2/2".
func statusLine(step string, regions []string, s event.Health) string {
	var b strings.Builder
	if step == "" {
		step = "starting"
	}
	b.WriteString(step)
	if l := s.Load; l != nil && l.Span > 0 {
		errPct := 0.0
		if l.Requests > 0 {
			errPct = 100 * float64(l.Errors) / float64(l.Requests)
		}
		fmt.Fprintf(&b, " | %.0f req/s  err %.1f%%  p95 %.0f ms |", float64(l.Requests)/l.Span, errPct, l.P95MS)
		total := 0
		for _, n := range l.ByRegion {
			total += n
		}
		for _, r := range regions {
			share := 0.0
			if total > 0 {
				share = 100 * float64(l.ByRegion[r]) / float64(total)
			}
			fmt.Fprintf(&b, " %s %.0f%%", r, share)
		}
	}
	backlog := 0
	for _, h := range s.Regions {
		backlog += h.Queue.Backlog
	}
	fmt.Fprintf(&b, " | backlog %d | up %d/%d", backlog, len(s.Regions), len(s.Regions)+len(s.Errors))
	return b.String()
}

// close ends a status line left on a terminal.
func (v *view) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.tty && v.status {
		fmt.Fprint(v.w, "\r\033[K")
		v.status = false
	}
}
