package measure_test

import (
	"math"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/measure"
)

// Region indexes of the cutover tests: us-east is evacuated at 10 s.
const (
	survivor  = 1
	evac      = 2
	decision  = 10 * sec
	nSessions = 40
)

// sessionShape decides request i of session s, scheduled at t.
type sessionShape func(t int64, s uint32) (region uint8, err load.ErrClass, status uint16, lat time.Duration)

// sessionTraffic builds 80 asks per second for secs seconds from 40
// sessions in turn. A request some region answered carries that region as
// its sticky region too, as the edge's answers do.
func sessionTraffic(secs int, f sessionShape) []load.Record {
	var out []load.Record
	for i := 0; i < secs*80; i++ {
		t := int64(i) * sec / 80
		s := uint32(i % nSessions)
		reg, e, st, lat := f(t, s)
		r := load.Record{Seq: uint64(i), Kind: load.KindAsk, Session: s, Sched: t, Start: t, End: t + int64(lat), Region: reg, Err: e, Status: st}
		if reg != 0 {
			r.Sticky = reg
		}
		out = append(out, r)
	}
	return out
}

// split pins even sessions to the evacuated region before the decision and
// every session to the survivor after it.
func split(t int64, s uint32) (uint8, load.ErrClass, uint16, time.Duration) {
	if t < decision && s%2 == 0 {
		return evac, load.ErrNone, 200, 10 * time.Millisecond
	}
	return survivor, load.ErrNone, 200, 10 * time.Millisecond
}

// with changes the answer to the requests scheduled in [from, to) of the
// sessions sel picks.
func with(base sessionShape, from, to int64, sel func(uint32) bool, reg uint8, e load.ErrClass, st uint16, lat time.Duration) sessionShape {
	return func(t int64, s uint32) (uint8, load.ErrClass, uint16, time.Duration) {
		if t >= from && t < to && sel(s) {
			return reg, e, st, lat
		}
		return base(t, s)
	}
}

func all(uint32) bool    { return true }
func even(s uint32) bool { return s%2 == 0 }
func odd(s uint32) bool  { return s%2 == 1 }
func one(n uint32) func(uint32) bool {
	return func(s uint32) bool { return s == n }
}

func TestCutover(t *testing.T) {
	ms := int64(time.Millisecond)
	// stray fails the one request session s sends in [when, when+0.5 s).
	stray := func(base sessionShape, when int64, s uint32, reg uint8, e load.ErrClass, st uint16) sessionShape {
		return with(base, when, when+sec/2, one(s), reg, e, st, 2*time.Second)
	}
	tests := []struct {
		name       string
		secs       int
		f          sessionShape
		baseline   float64
		min, max   float64
		why        measure.Incomplete
		after, att int // failures sent after the cutover, and those attributable
	}{
		{"clean: traffic moves at once", 40, split, 0, 0, 0.02, measure.CutoverComplete, 0, 0},
		{"blackhole: the evacuated region's sessions time out until the router drops it 0.7 s later", 40,
			with(split, decision, decision+700*ms, even, 0, load.ErrTimeout, 0, 2*time.Second),
			0, 0.67, 0.7, measure.CutoverComplete, 0, 0},
		{"a stray timeout late in the drill, in a session on the survivor", 40,
			stray(split, 35*sec, 1, 0, load.ErrTimeout, 0), 0, 0, 0.02, measure.CutoverComplete, 1, 0},
		{"a stray timeout of a session last seen on the evacuated region", 40,
			// Session 2's last answer, at 9.525 s, named the evacuated region.
			stray(split, decision+ms, 2, 0, load.ErrTimeout, 0), 0, 0, 0.02, measure.CutoverComplete, 1, 1},
		{"a stray 409 answered by the survivor", 40,
			stray(split, 30*sec, 3, survivor, load.ErrStatus4xx, 409), 0, 0, 0.02, measure.CutoverComplete, 1, 0},
		{"a one-second stall of the survivor: its sessions time out", 40,
			with(split, 30*sec, 31*sec, odd, 0, load.ErrTimeout, 0, 2*time.Second), 0, 0, 0.02, measure.CutoverComplete, 40, 0},
		{"evacuated region still serving 7 s later", 40,
			with(split, decision, 17*sec+1, even, evac, load.ErrNone, 200, 10*time.Millisecond), 0, 7, 7.1, measure.CutoverComplete, 0, 0},
		// The sessions on the survivor fail too, but only those last seen on
		// the evacuated region are its outage: the last of those left at 21.975 s.
		{"12 s of errors after the decision", 40,
			with(split, decision, 22*sec, all, 0, load.ErrStatus5xx, 503, time.Millisecond), 0, 11.97, 11.98, measure.CutoverComplete, 1, 0},
		{"errors at baseline do not delay", 40,
			with(split, 0, 40*sec, func(s uint32) bool { return s%10 == 1 }, survivor, load.ErrStatus5xx, 500, time.Millisecond),
			0.1, 0, 0.02, measure.CutoverComplete, 240, 0},
		{"the same errors over a clean baseline: not back to baseline", 40,
			with(split, 0, 40*sec, func(s uint32) bool { return s%10 == 1 }, survivor, load.ErrStatus5xx, 500, time.Millisecond),
			0, 0, 0.02, measure.NotBackToBaseline, 240, 0},
		{"a trickle of the outage's failures to the end", 40,
			with(split, decision, 40*sec, one(0), 0, load.ErrTimeout, 0, 2*time.Second), 0, 0, 30, measure.NotBackToBaseline, -1, -1},
		{"never recovers", 30,
			with(split, decision, 30*sec, all, 0, load.ErrTimeout, 0, time.Second), 0, 20, 20, measure.StillFailing, 0, 0},
		{"evacuated region serves to the end", 30,
			with(split, decision, 30*sec, even, evac, load.ErrNone, 200, time.Millisecond), 0, 19, 20, measure.StillServing, 0, 0},
		{"nothing after the decision", 10, split, 0, 0, 0.02, measure.NoTraffic, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := measure.Cutover(sessionTraffic(tt.secs, tt.f), decision, math.MaxInt64, evac, tt.baseline)
			if got.Why != tt.why || got.Seconds < tt.min || got.Seconds > tt.max {
				t.Fatalf("cutover %.3fs why=%d, want [%v,%v] why=%d (%+v)", got.Seconds, got.Why, tt.min, tt.max, tt.why, got)
			}
			if tt.after >= 0 && (got.FailedAfter != tt.after || got.AttributedAfter != tt.att) {
				t.Fatalf("failed after %d (attributable %d), want %d (%d)", got.FailedAfter, got.AttributedAfter, tt.after, tt.att)
			}
		})
	}
}

// The blackhole case counts the requests that failed during the cutover, and
// the background rate is never below the floor.
func TestCutoverCountsFailuresDuring(t *testing.T) {
	recs := sessionTraffic(40, with(split, decision, decision+700*int64(time.Millisecond), even, 0, load.ErrTimeout, 0, 2*time.Second))
	got := measure.Cutover(recs, decision, math.MaxInt64, evac, 0)
	if got.FailedDuring != 28 || got.Background != measure.MinBackgroundErrRate || got.RequestsAfter == 0 {
		t.Fatalf("%+v: want 28 failed during the cutover, background %v", got, measure.MinBackgroundErrRate)
	}
}

// A cutover shorter than a window is measured to the last failed request,
// not rounded up to the window's edge.
func TestCutoverIsPreciseBelowOneSecond(t *testing.T) {
	recs := traffic(30, func(t int64) (uint8, load.ErrClass, uint16, time.Duration) {
		switch {
		case t < decision:
			return evac, load.ErrNone, 200, time.Millisecond
		case t < decision+300*time.Millisecond.Nanoseconds():
			return 0, load.ErrConnect, 0, 50 * time.Millisecond // 10.0, 10.1, 10.2 fail
		}
		return survivor, load.ErrNone, 200, time.Millisecond
	})
	got := measure.Cutover(recs, decision, math.MaxInt64, evac, 0)
	if !got.Complete() || got.Seconds < 0.199 || got.Seconds > 0.201 {
		t.Fatalf("cutover %+v, want 0.200 (the last failure was sent at +0.2 s; it failed 50 ms later)", got)
	}
	// Records from `until` on do not count: a return of the region later on
	// is not the evacuation still going on.
	back := traffic(30, func(t int64) (uint8, load.ErrClass, uint16, time.Duration) {
		if t >= decision && t < 20*sec {
			return survivor, load.ErrNone, 200, time.Millisecond
		}
		return evac, load.ErrNone, 200, time.Millisecond
	})
	if got := measure.Cutover(back, decision, 20*sec, evac, 0); !got.Complete() || got.Seconds > 0.01 {
		t.Fatalf("with until: cutover %+v, want ~0 complete", got)
	}
	if got := measure.Cutover(back, decision, math.MaxInt64, evac, 0); got.Why != measure.StillServing {
		t.Fatalf("without until the returning region counts as still serving: %+v", got)
	}
}
