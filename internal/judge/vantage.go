package judge

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/measure"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// agentNotes is what the agents' coordinator journaled: the vantage points,
// their clocks, their ends and their losses.
type agentNotes struct {
	vantages []event.Vantage
	lost     map[string]event.AgentLost
	ends     map[string]event.AgentEnd
	after    map[string]event.ClockOffset
}

// add takes in one of the coordinator's events.
func (a *agentNotes) add(ev journal.Event) (err error) {
	if a.lost == nil {
		a.lost, a.ends, a.after = map[string]event.AgentLost{}, map[string]event.AgentEnd{}, map[string]event.ClockOffset{}
	}
	switch ev.Type {
	case journal.AgentsVantages:
		a.vantages = decode[[]event.Vantage](ev, &err)
	case journal.AgentsLost:
		l := decode[event.AgentLost](ev, &err)
		if _, seen := a.lost[l.Vantage]; !seen && err == nil { // the first loss is when it became inconclusive
			a.lost[l.Vantage] = l
		}
	case journal.AgentsEnd:
		e := decode[event.AgentEnd](ev, &err)
		a.ends[e.Vantage] = e
	case journal.AgentsClock:
		if c := decode[event.AgentsClock](ev, &err); c.Phase == "after" {
			maps.Copy(a.after, c.Offsets)
		}
	}
	return err
}

// writes are the client's writes as the agents reported them: each key's
// last report (an agent reports a write again each time its outcome
// changes), and, for a vantage whose agent was lost, the writes the stores
// hold under its seed that it never got to report: it may have sent them,
// so they are indeterminate, not "unexpected". A journal without agents is
// returned as it is.
func (a *agentNotes) writes(ws []load.WriteAttempt, stores []contract.Writes) []load.WriteAttempt {
	if len(a.vantages) == 0 {
		return ws
	}
	ws = lastReports(ws)
	reported := make(map[string]bool, len(ws))
	for _, w := range ws {
		reported[w.Key] = true
	}
	var prefixes []string
	for _, v := range a.vantages {
		if a.inconclusive(v) != "" {
			prefixes = append(prefixes, load.WriteKey(v.Seed, 0)[:len(load.WriteKey(v.Seed, 0))-1])
		}
	}
	for _, s := range stores {
		for _, st := range s.Writes {
			if reported[st.Key] || !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(st.Key, p) }) {
				continue
			}
			reported[st.Key] = true
			// The generator derives the event from the key: w-S-N is event ev-S-N, rev 1.
			ws = append(ws, load.WriteAttempt{Key: st.Key, Tenant: st.Tenant, EventID: "ev-" + strings.TrimPrefix(st.Key, "w-"), Rev: 1,
				BodyHash: st.BodyHash, Outcome: load.OutcomeIndeterminate, Attempts: 1})
		}
	}
	return ws
}

// lastReports keeps each write key's last report, in the order first seen.
func lastReports(ws []load.WriteAttempt) []load.WriteAttempt {
	at := make(map[string]int, len(ws))
	out := ws[:0]
	for _, w := range ws {
		if i, ok := at[w.Key]; ok {
			out[i] = w
			continue
		}
		at[w.Key] = len(out)
		out = append(out, w)
	}
	return out
}

// byVantage splits records sorted by Seq into each vantage's run.
func byVantage(recs []load.Record) map[int][]load.Record {
	out := map[int][]load.Record{}
	for i := 0; i < len(recs); {
		v := event.VantageOf(recs[i].Seq)
		j := i + sort.Search(len(recs)-i, func(k int) bool { return event.VantageOf(recs[i+k].Seq) > v })
		out[v] = recs[i:j:j]
		i = j
	}
	return out
}

// vantageTargets judges one drill from one vantage's records alone, with
// the whole run's rules (cutover, p95 with confidence bounds, longest 5xx
// run), against that vantage's own baseline: the requests of the drill's
// baseline window that ended inside it (one still in flight when the first
// change came is the change's, and in a vantage's smaller sample a few such
// requests would decide its p95).
func (r *run) vantageTargets(recs []load.Record, w window, name string) []verdict.Target {
	th := r.plan.Thresholds
	from, to := r.baselineWindow(w)
	base := make([]load.Record, 0, len(recs)/8)
	for i := range recs {
		if recs[i].Sched >= from && recs[i].Sched < to && recs[i].End != 0 && recs[i].End < to {
			base = append(base, recs[i])
		}
	}
	var out []verdict.Target
	if w.info.Evacuates && w.decision >= 0 {
		until := int64(math.MaxInt64)
		if back := r.returnAt(w); back > w.decision {
			until = r.ns(back)
		}
		c := measure.Cutover(recs, r.ns(w.decision), until, r.regionIndex(w.evacuated), measure.ErrorRate(base, from, to, measure.AllRegions))
		out = append(out, cutoverTarget(w.letter, c, th.CutoverS, name+"'s clients: "+cutoverDetail(c, w.evacuated)))
		cf, ct := r.changeWindow(w, c.Seconds)
		p := p95Target(w.letter, measure.LatencyBounds(base, from, to, measure.AllRegions, 95, p95Alpha),
			measure.LatencyBounds(recs, cf, ct, measure.AllRegions, 95, p95Alpha), th.P95VsBaseline)
		p.Detail = name + "'s clients against their own baseline: " + p.Detail
		out = append(out, p)
	}
	s, e := measure.Longest5xxRun(recs, r.ns(w.from), r.ns(w.to))
	burst := float64(e-s) / 1e9
	out = append(out, verdict.Target{ID: "max_5xx_burst_s", Drill: w.letter, Target: fmt.Sprintf("≤ %g s", th.Max5xxBurstS), Value: round3(burst),
		Pass: burst <= th.Max5xxBurstS, Limit: th.Max5xxBurstS, Detail: "longest run of failing seconds seen from " + name})
	for i := range out {
		out[i].Vantage = name
		if out[i].Status == "" {
			out[i].Status = verdict.StatusOf(out[i].Pass)
		}
	}
	return out
}

// judgeVantages judges every vantage point of a run with agents on its own
// records and adds its targets; a run without agents has none.
func (r *run) judgeVantages(rep *verdict.Report) {
	if len(r.agents.vantages) == 0 {
		return
	}
	groups := byVantage(r.records)
	for _, n := range r.agents.vantages {
		recs := groups[n.Index]
		vp := verdict.VantagePoint{Name: n.Name, Entry: n.Entry, Verdict: verdict.Pass}
		if n.Clock != nil {
			vp.ClockOffsetMS, vp.ClockErrorMS = round3(float64(n.Clock.OffsetNS)/1e6), round3(float64(n.Clock.DelayNS)/2e6)
		}
		for i := range recs {
			if rec := &recs[i]; rec.Kind != load.KindToken && rec.End != 0 && rec.Err != load.ErrCanceled {
				vp.Requests++
				if rec.Err != load.ErrNone {
					vp.Errors++
				}
			}
		}
		var targets []verdict.Target
		for _, w := range r.windows() {
			for _, t := range r.vantageTargets(recs, w, n.Name) {
				v, isNum := t.Value.(float64)
				switch {
				case t.ID == "max_5xx_burst_s":
					vp.Max5xxBurstS = max(vp.Max5xxBurstS, v)
				case t.ID == "cutover_s" && vp.CutoverS == nil:
					vp.CutoverS = &v
				case t.ID == "p95_vs_baseline" && isNum && (vp.P95VsBaseline == nil || v > *vp.P95VsBaseline):
					vp.P95VsBaseline = &v
				}
				targets = append(targets, t)
			}
		}
		if why := r.agents.inconclusive(n); why != "" {
			// What its agent saw is not the whole drill: its figures are
			// shown, its verdict is not given.
			vp.Verdict, vp.Reason = verdict.Inconclusive, "inconclusive: "+why
			t := verdict.Target{ID: "vantage_conclusive", Vantage: n.Name, Target: "agent alive to the end", Detail: why}
			targets = []verdict.Target{t.Inconclusive("vantage " + n.Name + ": " + why)}
		} else {
			var failed, missing []string
			for _, t := range targets {
				switch t.Status {
				case verdict.StatusFail:
					failed = append(failed, t.ID+" (drill "+t.Drill+")")
				case verdict.StatusInconclusive:
					missing = append(missing, t.ID+" (drill "+t.Drill+"): "+t.Missing)
				}
			}
			switch {
			case len(failed) > 0:
				vp.Verdict, vp.Reason = verdict.Fail, strings.Join(failed, ", ")
			case len(missing) > 0:
				vp.Verdict, vp.Reason = verdict.Inconclusive, "inconclusive: "+strings.Join(missing, "; ")
			}
		}
		rep.Acceptance = append(rep.Acceptance, targets...)
		vp.Series = r.seriesOf(recs)
		rep.VantagePoints = append(rep.VantagePoints, vp)
	}
}

// inconclusive says why a vantage point's verdict cannot be given, or "".
func (a *agentNotes) inconclusive(n event.Vantage) string {
	if !n.Assigned {
		return "no agent took the assignment: " + n.Why
	}
	if l, ok := a.lost[n.Name]; ok {
		return fmt.Sprintf("agent lost at %.1f s (its last heartbeat): %s", float64(l.LastHeartbeatMS)/1000, l.Why)
	}
	e, ok := a.ends[n.Name]
	switch {
	case !ok:
		return "the journal holds no end of its records (the coordinator died?)"
	case e.Reason == event.EndError:
		return "its load generator failed: " + e.Error
	case e.Received < e.Records:
		return fmt.Sprintf("%d of the %d records it sent never reached the journal", e.Records-e.Received, e.Records)
	}
	return ""
}

// vantageReason names the vantages whose agent was lost in a verdict's
// reason (the targets alone do not say which vantage they judge).
func vantageReason(rep *verdict.Report) {
	if rep.Verdict == verdict.Pass {
		return
	}
	var parts []string
	for _, v := range rep.VantagePoints {
		if strings.HasPrefix(v.Reason, "inconclusive:") {
			parts = append(parts, "vantage "+v.Name+" "+v.Reason)
		}
	}
	if len(parts) > 0 {
		rep.Reason = strings.Join(append(parts, rep.Reason), "; ")
	}
}

// MinRequestsForP95 is how many requests a window needs before its p95 can
// be bounded as the p95 target bounds it; fewer make the target
// inconclusive. A vantage point gets its share of the load: the dry run
// warns when its windows will be too small.
func MinRequestsForP95() int { return measure.MinSamplesForUpper(0.95, p95Alpha) }
