package stall

import (
	"context"
	"sync"
	"testing"
	"time"
)

// A fake clock that jumps: the monitor must report exactly the jump, and
// nothing for ordinary ticks.
func TestMonitorReportsOnlyLateWakes(t *testing.T) {
	var mu sync.Mutex
	base := time.Unix(0, 0)
	ticks := 0
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		ticks++
		d := time.Duration(ticks) * 10 * time.Millisecond
		if ticks >= 5 {
			d += 300 * time.Millisecond // the process "stalled" between the 4th and 5th reading
		}
		return base.Add(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var got []time.Duration
	m := &Monitor{Interval: time.Millisecond, Threshold: 50 * time.Millisecond, Clock: clock, OnStall: func(d time.Duration) {
		got = append(got, d)
		cancel()
	}}
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("the monitor never reported the stall")
	}
	if len(got) != 1 || got[0] != 310*time.Millisecond {
		t.Fatalf("stalls %v, want one of 310ms (10 ms tick + 300 ms stall)", got)
	}
}
