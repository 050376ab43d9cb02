package judge

import (
	"fmt"
	"slices"
	"sort"

	"github.com/regiondrill/regiondrill/internal/verdict"
)

// A drill whose measuring process stalled for long enough cannot fail on
// timing: the stalls of internal/stall are this process's, not the
// target's, and a request that waited 8 s for the process to run looks
// like an outage from the client's side. When the process stalled for at
// least starvedShare of a drill's window, or once for starvedLongestMS, the
// drill's failed timing targets become inconclusive, saying so. Targets of
// correctness (writes lost, duplicated or altered, parity, answers) are
// never excused: no stall makes a store lose a write.
const (
	starvedShare     = 0.05
	starvedLongestMS = 1000
)

// timingTargets are the targets whose failure a starved measuring process
// can cause by itself.
// p95_vs_baseline is not among them: it leaves out the requests in flight
// across a stall and is judged on the rest (inconclusive when too few
// remain), so a failure it still finds is the target's.
var timingTargets = []string{"cutover_s", "max_5xx_burst_s", "live_checks", "backlog_drain_s", "backlog_zero", "cache_rewarmed"}

// starvation is the stall time of the measuring process within [from, to]
// (journal ms), overlapping stalls counted once, and the longest stall.
func (r *run) starvation(from, to int64) (total, longest int64) {
	type span struct{ from, to int64 }
	var ss []span
	for _, s := range r.stalls {
		f, t := max(s.FromMS, from), min(s.ToMS, to)
		if t > f {
			ss = append(ss, span{f, t})
		}
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].from < ss[j].from })
	end := int64(-1 << 62)
	for _, s := range ss {
		longest = max(longest, s.to-s.from)
		if s.from > end {
			total += s.to - s.from
		} else if s.to > end {
			total += s.to - end
		}
		end = max(end, s.to)
	}
	return total, longest
}

// excuseStarved turns the failed timing targets of drills run on a starved
// measuring process into inconclusive ones.
func (r *run) excuseStarved(rep *verdict.Report) {
	if len(r.stalls) == 0 {
		return
	}
	for _, w := range r.windows() {
		if w.from < 0 || w.to <= w.from {
			continue
		}
		total, longest := r.starvation(w.from, w.to)
		share := float64(total) / float64(w.to-w.from)
		if share < starvedShare && longest < starvedLongestMS {
			continue
		}
		why := fmt.Sprintf("the measuring process could not run for %.1f s of drill %s's %.0f s (%.0f%%, longest stall %.1f s): its timing is not the target's",
			float64(total)/1000, w.letter, float64(w.to-w.from)/1000, 100*share, float64(longest)/1000)
		for i, t := range rep.Acceptance {
			if t.Drill == w.letter && t.Status == verdict.StatusFail && slices.Contains(timingTargets, t.ID) {
				t.Detail += "; " + why
				rep.Acceptance[i] = t.Inconclusive(why)
			}
		}
	}
}
