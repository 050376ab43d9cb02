package measure

import (
	"cmp"
	"math"
	"slices"
	"sort"

	"github.com/regiondrill/regiondrill/internal/load"
)

// Longest5xxRun is the longest run of consecutive 1 s buckets (by scheduled
// time) in which more than half of the counted requests failed with a 5xx, a
// dial failure or a timeout. Seconds with no counted request neither break
// a run nor start one: a run continues across them if a failing second
// follows. Only records scheduled in [from, to) count; the buckets are
// aligned to 0, not to from. It returns the run as [start,end) in ns since
// run start, or (0,0) if no second failed.
func Longest5xxRun(records []load.Record, from, to int64) (start, end int64) {
	n, bad := secondCounts(records, 0, max(from, 0), to, isOutage)
	bestS, bestE := -1, -1
	runS, lastBad := -1, -1
	for s := range n {
		switch {
		case n[s] == 0:
			continue
		case 2*bad[s] > n[s]:
			if runS < 0 {
				runS = s
			}
			lastBad = s
		default:
			runS = -1
		}
		if runS >= 0 && lastBad+1-runS > bestE-bestS {
			bestS, bestE = runS, lastBad+1
		}
	}
	if bestS < 0 {
		return 0, 0
	}
	return int64(bestS) * second, int64(bestE) * second
}

// secondCounts counts records scheduled in [from, to) per 1 s window
// aligned to origin (from >= origin): all counted ones and those matching pred.
func secondCounts(records []load.Record, origin, from, to int64, pred func(*load.Record) bool) (n, hit []int) {
	for i := range records {
		r := &records[i]
		if !counted(r) || r.Sched < from || r.Sched >= to {
			continue
		}
		w := int((r.Sched - origin) / second)
		for len(n) <= w {
			n = append(n, 0)
			hit = append(hit, 0)
		}
		n[w]++
		if pred(r) {
			hit[w]++
		}
	}
	return n, hit
}

// The cutover's tests. A 1 s window is elevated when its failures
// attributable to the evacuated region would have a chance below
// CutoverAlpha at the background rate; the failures after the cutover are
// tested the same way, all of them pooled.
const (
	CutoverAlpha = 0.001
	// MinBackgroundErrRate is the least background rate tested against: a
	// baseline that happened to see no failure must not turn one stray
	// failure into an outage.
	MinBackgroundErrRate = 0.01
)

// Incomplete says why a cutover did not complete.
type Incomplete uint8

const (
	CutoverComplete   Incomplete = iota
	NoTraffic                    // nothing was scheduled after the decision
	StillServing                 // the evacuated region answered in the last second of the run
	StillFailing                 // the last window still had elevated failures attributable to the evacuated region
	NotBackToBaseline            // the failures after the cutover, pooled, stand out against the background rate
)

// CutoverResult is a cutover as measured from the records.
type CutoverResult struct {
	Seconds    float64
	Why        Incomplete
	Background float64 // the error rate the tests assumed: max(baseline, MinBackgroundErrRate)
	// Failed requests sent during the cutover, and those sent after it
	// (scheduled before until), of which Attributed were attributable to
	// the evacuated region; RequestsAfter counts every request sent after.
	FailedDuring, FailedAfter, AttributedAfter, RequestsAfter int
}

// Complete reports whether the cutover finished within the records.
func (c CutoverResult) Complete() bool { return c.Why == CutoverComplete }

// Cutover is the time from the evacuation decision (ns since run start) until
// both (a) the evacuated region has served its last request (the latest End
// after the decision of a record whose X-Region was the evacuated index) and
// (b) the outage's failures have ended: the send time of the last failure
// attributable to the evacuated region scheduled before the first 1 s
// window (counted from the decision) from which on no window is elevated.
//
// A failure is attributable when the evacuated region answered it, or when
// no region answered (timeout, refused connection, a gateway error of the
// router) and its session was last seen pinned (X-Sticky-Region) to the
// evacuated region or never seen pinned. A failure answered by another
// region, or of a session pinned elsewhere, is not the outage's: a stray 409
// or a timeout in a survivor does not move the cutover.
//
// Records scheduled at or after until are ignored. The cutover is not
// complete when nothing was scheduled after the decision, the evacuated
// region served in the last second of the run, the last window is still
// elevated (Seconds then spans every window), or the failures after the
// cutover, all kinds pooled, stand out against the background rate: the
// service never came back to its baseline.
func Cutover(records []load.Record, decisionAt, until int64, evacuated uint8, baselineErrRate float64) CutoverResult {
	res := CutoverResult{Background: math.Max(baselineErrRate, MinBackgroundErrRate)}
	var lastServed, runEnd int64
	for i := range records {
		r := &records[i]
		if r.End == 0 || r.Sched >= until {
			continue
		}
		runEnd = max(runEnd, r.End)
		if r.Region == evacuated && r.End > decisionAt {
			lastServed = max(lastServed, r.End)
		}
	}
	pins := sessionPins(records, decisionAt, until)
	attributable := func(r *load.Record) bool {
		if !isError(r) {
			return false
		}
		if r.Region != 0 {
			return r.Region == evacuated
		}
		pin := pins.at(r.Session, r.Start)
		return pin == 0 || pin == evacuated
	}
	n, bad := secondCounts(records, decisionAt, decisionAt, until, attributable)
	recoveredWin := -1
	for w := len(n) - 1; w >= 0; w-- {
		if n[w] == 0 {
			continue
		}
		if BinomialTail(n[w], bad[w], res.Background) < CutoverAlpha {
			break
		}
		recoveredWin = w
	}
	end := max(lastServed, decisionAt)
	switch {
	case recoveredWin > 0:
		// The outage's failures were elevated until the recovered window:
		// the cutover ends when the last of them was sent (routed into the
		// outage), to the nanosecond, not at the window's edge. How long
		// that request then took to fail is the router's per-try timeout,
		// not routing.
		limit := decisionAt + int64(recoveredWin)*second
		for i := range records {
			r := &records[i]
			if counted(r) && r.Sched >= decisionAt && r.Sched < limit && r.Sched < until && attributable(r) {
				end = max(end, r.Start)
			}
		}
	case recoveredWin < 0:
		end = max(end, decisionAt+int64(len(n))*second)
	}
	res.Seconds = float64(end-decisionAt) / 1e9
	for i := range records {
		r := &records[i]
		if !counted(r) || r.Sched >= until || r.Start < decisionAt {
			continue
		}
		switch {
		case r.Start <= end:
			if isError(r) {
				res.FailedDuring++
			}
		default:
			res.RequestsAfter++
			if isError(r) {
				res.FailedAfter++
				if attributable(r) {
					res.AttributedAfter++
				}
			}
		}
	}
	switch {
	case len(n) == 0:
		res.Why = NoTraffic
	case lastServed > 0 && lastServed > runEnd-second:
		res.Why = StillServing
	case recoveredWin < 0: // the last window always has traffic
		res.Why = StillFailing
	case BinomialTail(res.RequestsAfter, res.FailedAfter, res.Background) < CutoverAlpha:
		res.Why = NotBackToBaseline
	}
	return res
}

// pinIndex holds, per session, the regions its answers named as sticky in
// order of their end, for the sessions that had a failure nobody answered.
type pinIndex map[uint32][]pin

type pin struct {
	end    int64
	region uint8
}

// sessionPins indexes the sticky regions of the sessions that have a failure
// without an answering region scheduled in [from, until).
func sessionPins(records []load.Record, from, until int64) pinIndex {
	idx := pinIndex{}
	for i := range records {
		r := &records[i]
		if counted(r) && isError(r) && r.Region == 0 && r.Sched >= from && r.Sched < until {
			idx[r.Session] = nil
		}
	}
	if len(idx) == 0 {
		return idx
	}
	for i := range records {
		r := &records[i]
		if r.End == 0 || r.Sticky == 0 {
			continue
		}
		if ps, ok := idx[r.Session]; ok {
			idx[r.Session] = append(ps, pin{end: r.End, region: r.Sticky})
		}
	}
	for s, ps := range idx {
		slices.SortFunc(ps, func(a, b pin) int { return cmp.Compare(a.end, b.end) })
		idx[s] = ps
	}
	return idx
}

// at is the sticky region of the session's last answer that ended before t,
// or 0 if none did.
func (idx pinIndex) at(session uint32, t int64) uint8 {
	ps := idx[session]
	i := sort.Search(len(ps), func(i int) bool { return ps[i].end >= t })
	if i == 0 {
		return 0
	}
	return ps[i-1].region
}

// ErrorRate is the share of counted requests scheduled in [from,to) that
// failed, for one region index or AllRegions; use it for the baseline.
func ErrorRate(records []load.Record, from, to int64, region int) float64 {
	n, bad := 0, 0
	for i := range records {
		r := &records[i]
		if counted(r) && r.Sched >= from && r.Sched < to && inRegion(r, region) {
			n++
			if isError(r) {
				bad++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(bad) / float64(n)
}
