package judge

import (
	"fmt"
	"math"
	"sort"

	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/measure"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// rebalanceAlpha is the significance at which fewer new sessions on the
// returned region than before the drill counts as a return that did not
// happen.
const rebalanceAlpha = 0.01

// judgeRebalanced (drill E): once the return has raised the region's weight
// to its last step, new sessions go to it again about as often as they did
// before the drill. Sticky sessions stay where they are by design (the page
// keeps stickiness for multi-turn sessions), so only sessions that began
// after the step show where the router sends clients now; those that began
// before the drill's evacuation decision show where it sent them before:
// from the start of the run, leaving out the time an earlier drill had the
// region evacuated (a baseline window of a few seconds holds too few new
// sessions to compare: the page plan's 3 s held 10).
//
// What counts as a failed return depends on the routing. By latency, the
// router owes the region no share: right after the return the survivor's
// cache is warm and the returned region's is not, and a router that sends
// new clients to the faster region is doing its job (the lab's did, 6 of
// 23 against 34 of 58 before). The return failed when no new session
// reached the region at all, where before the drill enough did for none
// to stand out. By weights, the region is owed its share again: fewer is a
// failure when it stands out (Fisher's exact test at rebalanceAlpha) and
// is under half the earlier share, since a region just re-warmed may take
// a little less for a while.
func (r *run) judgeRebalanced(rep *verdict.Report, w window) {
	t := verdict.Target{ID: "rebalanced", Drill: w.letter, Target: "new sessions reach " + w.evacuated + " as before the drill"}
	step := r.lastReturnStep(w)
	if step < 0 {
		add(rep, t.Inconclusive("the drill never brought "+w.evacuated+" back"))
		return
	}
	home := r.regionIndex(w.evacuated)
	_, baseTo := r.baselineWindow(w)
	if w.decision >= 0 {
		baseTo = r.ns(w.decision)
	}
	starts := r.sessionStarts()
	kb, nb := starts.count(math.MinInt64, baseTo, home, r.evacuatedBefore(w)...)
	kr, nr := starts.count(r.ns(step), r.ns(w.to), home)
	before, after := fraction(kb, nb), fraction(kr, nr)
	t.Value = round3(after)
	t.Detail = fmt.Sprintf("sessions that began before the evacuation: %d of %d on %s (%.0f%%); after its last weight step: %d of %d (%.0f%%)",
		kb, nb, w.evacuated, 100*before, kr, nr, 100*after)
	p := measure.FisherGreater(kb, nb, kr, nr)
	switch {
	case nb == 0:
		t = t.Inconclusive("no session began before the evacuation decision: sessions that outlive the drill never show where the router sends new clients (load.session_s shorter than the drill)")
	case kb == 0:
		t = t.Inconclusive("no session that began before the evacuation went to " + w.evacuated + ": from this vantage point it takes no new clients even before the drill, so its return cannot be seen")
	case nr == 0:
		t = t.Inconclusive("no session began after the last weight step: sessions that outlive the drill never show where the router sends new clients (load.session_s shorter than the drill)")
	case measure.FisherGreater(kb, nb, 0, nr) >= rebalanceAlpha:
		t = t.Inconclusive(fmt.Sprintf("%d sessions began after the last weight step: too few for even none on %s to stand out against the time before the drill", nr, w.evacuated))
	case r.plan.Routing.Mode == plan.RoutingWeights:
		t.Pass = !(p < rebalanceAlpha && 2*after < before)
		t.Detail += fmt.Sprintf("; one-sided Fisher p = %.2g; by weights, under half the earlier share with p < %g fails", p, rebalanceAlpha)
		if !t.Pass {
			t.Detail += fmt.Sprintf("; the router keeps most new clients off %s after its weight was restored", w.evacuated)
		}
	default:
		t.Pass = kr > 0
		t.Detail += fmt.Sprintf("; by latency the region is owed no share, only new clients again (none at all would have stood out against the time before the drill: p = %.2g)", measure.FisherGreater(kb, nb, 0, nr))
		if !t.Pass {
			t.Detail += fmt.Sprintf("; the router still keeps new clients off %s after its weight was restored", w.evacuated)
		}
	}
	add(rep, t)
}

// lastReturnStep is the journal time of the drill's last weight step of
// the return, or of its restore when it has no steps; -1 without either.
func (r *run) lastReturnStep(w window) int64 {
	back := r.returnAt(w)
	if back < 0 {
		return -1
	}
	at := back
	for _, m := range r.marks {
		if string(m.Drill) == w.letter && m.at >= back && m.Kind == event.MarkWeight {
			at = m.at
		}
	}
	return at
}

// evacuatedBefore are the spans, in load-record ns, in which a drill before
// w had w's region evacuated: from its decision until its return began (or
// its end, without one).
func (r *run) evacuatedBefore(w window) []measure.Span {
	var out []measure.Span
	for _, x := range r.windows() {
		if x.from >= w.from || !x.info.Evacuates || x.decision < 0 || x.evacuated != w.evacuated {
			continue
		}
		until := x.to
		if back := r.returnAt(x); back > x.decision {
			until = back
		}
		out = append(out, measure.Span{From: r.ns(x.decision), To: r.ns(until)})
	}
	return out
}

// sessionStart is where one session began: the start of its first request
// (a token fetch included) and the region that answered its first answered
// ask or write.
type sessionStart struct {
	at, answeredAt int64
	region         uint8
}

type sessionStarts []sessionStart

// sessionStarts lists every session of the run by its first request.
func (r *run) sessionStarts() sessionStarts {
	first := map[uint32]*sessionStart{}
	idx := make([]int, 0, len(r.records))
	for i := range r.records {
		if r.records[i].End != 0 {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return r.records[idx[a]].Start < r.records[idx[b]].Start })
	for _, i := range idx {
		rec := &r.records[i]
		s, ok := first[rec.Session]
		if !ok {
			s = &sessionStart{at: rec.Start}
			first[rec.Session] = s
		}
		if s.region == 0 && rec.Kind != load.KindToken && rec.Err == load.ErrNone && rec.Region != 0 {
			s.region, s.answeredAt = rec.Region, rec.Start
		}
	}
	out := make(sessionStarts, 0, len(first))
	for _, s := range first {
		out = append(out, *s)
	}
	return out
}

// count is how many sessions began in [from, to), outside the skipped
// spans, and were answered before to, and how many of those were answered
// first by region.
func (ss sessionStarts) count(from, to int64, region uint8, skip ...measure.Span) (onRegion, all int) {
	for _, s := range ss {
		if s.at >= from && s.at < to && s.region != 0 && s.answeredAt < to && !within(s.at, skip) {
			all++
			if s.region == region {
				onRegion++
			}
		}
	}
	return onRegion, all
}

func fraction(k, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}

func within(at int64, spans []measure.Span) bool {
	for _, sp := range spans {
		if at >= sp.From && at < sp.To {
			return true
		}
	}
	return false
}
