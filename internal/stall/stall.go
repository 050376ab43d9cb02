// Package stall watches the measuring process itself. A goroutine asks to
// wake every Interval and notes how late it wakes: when it wakes more than
// Threshold late, the process could not run for that long (a starved CPU,
// a swapped page, a paused VM), and every request timed across that moment
// was timed by a clock that was not looking. The judge leaves such requests
// out of latency comparisons and says how many; a target that is slow on
// its own machine never stalls this process, so nothing the target does is
// hidden by it (see docs/MEASURE.md).
package stall

import (
	"context"
	"time"
)

// Defaults: a 10 ms tick costs nothing measurable; 50 ms late is beyond
// what a merely busy 2-core machine's scheduler adds (a few ms; 30 ms at
// most over many drills at load 5) and well below the stalls that inflate
// a p95 (150–250 ms seen beside a parallel `go test`).
const (
	DefaultInterval  = 10 * time.Millisecond
	DefaultThreshold = 50 * time.Millisecond
)

// Monitor reports the process's stalls. The zero value uses the defaults
// and time.Now.
type Monitor struct {
	Interval  time.Duration
	Threshold time.Duration
	Clock     func() time.Time
	// OnStall is called, from the monitor's goroutine, with how long the
	// process went without running this monitor: from its previous wake to
	// now (the stall lies somewhere in that span, so the span covers it).
	OnStall func(span time.Duration)
}

// Run watches until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	interval, threshold, now := m.Interval, m.Threshold, m.Clock
	if interval <= 0 {
		interval = DefaultInterval
	}
	if threshold <= 0 {
		threshold = DefaultThreshold
	}
	if now == nil {
		now = time.Now
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	prev := now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		woke := now()
		if span := woke.Sub(prev); span-interval > threshold && m.OnStall != nil {
			m.OnStall(span)
		}
		prev = woke
		t.Reset(interval)
	}
}
