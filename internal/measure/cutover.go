package measure

import (
	"math"

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

// Cutover is the time from the evacuation decision (ns since run start) until
// both (a) the evacuated region has served its last request (the latest End
// after the decision of a record whose X-Region was the evacuated index) and
// (b) the error rate is back to baseline: the send time of the last failed
// request scheduled before the first 1 s window, counted from the decision, from which
// on every window with traffic has an error rate <= max(2·baseline, 1%).
// Records scheduled at or after until are ignored. ok is false when either
// never happened within the records: the last window is still above the
// threshold (seconds then spans every window), there is no traffic after the
// decision, or the evacuated region still served in the last second of the run.
func Cutover(records []load.Record, decisionAt, until int64, evacuated uint8, baselineErrRate float64) (seconds float64, ok bool) {
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
	n, bad := secondCounts(records, decisionAt, decisionAt, until, isError)
	threshold := math.Max(2*baselineErrRate, 0.01)
	recoveredWin := -1
	for w := len(n) - 1; w >= 0; w-- {
		if n[w] == 0 {
			continue
		}
		if float64(bad[w])/float64(n[w]) > threshold {
			break
		}
		recoveredWin = w
	}
	end := max(lastServed, decisionAt)
	switch {
	case recoveredWin > 0:
		// Errors were elevated until the recovered window: the cutover ends
		// when the last failed request was sent (routed into the outage), to
		// the nanosecond, not at the window's edge. How long that request then
		// took to fail is the router's per-try timeout, not routing.
		last := decisionAt
		limit := decisionAt + int64(recoveredWin)*second
		for i := range records {
			r := &records[i]
			if counted(r) && isError(r) && r.Sched >= decisionAt && r.Sched < limit && r.Sched < until {
				last = max(last, r.Start)
			}
		}
		end = max(end, last)
	case recoveredWin < 0:
		end = max(end, decisionAt+int64(len(n))*second)
	}
	seconds = float64(end-decisionAt) / 1e9
	stillServing := lastServed > 0 && lastServed > runEnd-second
	// The last window always has traffic, so recoveredWin < 0 means it is
	// still above the threshold (or nothing was scheduled after the decision).
	return seconds, !stillServing && recoveredWin >= 0
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
