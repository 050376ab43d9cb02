package judge

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/kind"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// judgeChecks turns the plan's live checks and the post-checks that are
// not targets of their own into targets. A failed live check fails its
// drill unless the plan marks it advisory, or the next reading of the same
// check passed: one reading over a limit that the next one clears is a
// blip, reported, not a failure.
func (r *run) judgeChecks(rep *verdict.Report, w window) {
	if len(r.plan.Checks.Live) > 0 {
		var live []verdict.Check
		for _, c := range r.checks {
			if c.Drill == w.letter && c.Phase == "live" {
				live = append(live, c)
			}
		}
		advisory, blips := 0, 0
		var failed []string
		for i, c := range live {
			next := slices.IndexFunc(live[i+1:], func(x verdict.Check) bool { return x.Name == c.Name })
			switch {
			case c.Pass:
			case c.Advisory:
				advisory++
			case next >= 0 && live[i+1+next].Pass:
				blips++
			default:
				failed = append(failed, fmt.Sprintf("%s at %.1f s: %s", c.Name, float64(c.AtMS)/1000, c.Value))
			}
		}
		t := verdict.Target{ID: "live_checks", Drill: w.letter, Target: "every live check passes", Value: fmt.Sprintf("%d of %d failed", len(failed), len(live)),
			Pass: len(failed) == 0, Detail: fmt.Sprintf("not counted: %d failures cleared at the check's next reading, %d failures of advisory checks", blips, advisory)}
		if len(failed) > 0 {
			t.Detail = strings.Join(failed[:min(5, len(failed))], "; ") + "; " + t.Detail
		}
		add(rep, orMissing(t, len(live) == 0, "no live check ran during drill "+w.letter))
	}
	for _, name := range []plan.CheckName{plan.CheckBacklogZero, plan.CheckCacheRewarmed} {
		if !slices.Contains(r.plan.Checks.Post, name) || slices.Contains(r.plan.Checks.Advisory, name) {
			continue
		}
		c, ok := r.checkResult(w.letter, "post", string(name))
		t := verdict.Target{ID: string(name), Drill: w.letter, Target: "passes", Value: c.Value, Pass: c.Pass, Detail: c.Detail}
		add(rep, orMissing(t, !ok, r.notRun("post", string(name))))
	}
}

// kindTargets judge the targets a drill kind lists (kind.Info.Targets).
var kindTargets = map[kind.Target]func(r *run, rep *verdict.Report, w window){
	kind.NoFlapping:        (*run).judgeFlapping,
	kind.Stickiness:        (*run).judgeStickiness,
	kind.SkewedIndexServed: (*run).judgeIndexTraffic,
	kind.Webhooks:          (*run).judgeWebhooks,
	kind.CachePurged:       nil, // with every drill's purges: judgePurges
	kind.Rebalanced:        (*run).judgeRebalanced,
}

// judgeKind adds the targets of the drill's kind, then its purges.
func (r *run) judgeKind(rep *verdict.Report, w window) {
	for _, t := range w.info.Targets {
		if judge := kindTargets[t]; judge != nil {
			judge(r, rep, w)
		}
	}
	r.judgePurges(rep, w)
}

// judgePurges adds a cache_purged target for each purge of the drill, and
// an inconclusive one when its kind's return purges (kind.CachePurged), the
// plan says to, and the journal holds no purge.
func (r *run) judgePurges(rep *verdict.Report, w window) {
	purged := false
	for _, p := range r.obs.purges {
		if string(p.Drill) == w.letter {
			add(rep, purgeTarget(p))
			purged = true
		}
	}
	if !purged && slices.Contains(w.info.Targets, kind.CachePurged) && r.plan.ReturnToHome.PurgeCache {
		add(rep, verdict.Target{ID: "cache_purged", Drill: w.letter, Target: "hot questions miss after the purge"}.
			Inconclusive("no purge evidence in the journal (the drill stopped before its purge)"))
	}
}

// purgeTarget judges one purge from the hot questions asked through the
// region's cache before and after it.
func purgeTarget(p event.CachePurge) verdict.Target {
	t := verdict.Target{ID: "cache_purged", Drill: string(p.Drill), Target: "hot questions miss after the purge",
		Value: fmt.Sprintf("%d of %d still cached", p.HitsAfter, p.Asked),
		Pass:  p.HitsAfter == 0,
		Detail: fmt.Sprintf("%s: %d of %d hot questions were cache hits before the purge and %d after it; entries %d before, %d after",
			p.Region, p.HitsBefore, p.Asked, p.HitsAfter, p.EntriesBefore, p.EntriesAfter)}
	switch {
	case p.Error != "" && p.HitsAfter == 0:
		return t.Inconclusive("the purge could not be observed: " + p.Error)
	case p.Unlabelled > 0:
		return t.Inconclusive(fmt.Sprintf("%d answers carried no X-Cache header", p.Unlabelled))
	case p.HitsBefore == 0:
		return t.Inconclusive(fmt.Sprintf("none of the %d hot questions was a cache hit before the purge: nothing shows it removed anything", p.Asked))
	}
	return t
}

// judgeIndexTraffic (drill C): no client answer came from the skewed index
// while it was published (until its rebuild).
func (r *run) judgeIndexTraffic(rep *verdict.Report, w window) {
	t := verdict.Target{ID: "skewed_index_served", Drill: w.letter, Target: "= 0 answers"}
	var it *event.IndexTraffic
	for i := range r.obs.traffic {
		if string(r.obs.traffic[i].Drill) == w.letter {
			it = &r.obs.traffic[i]
		}
	}
	if it == nil {
		add(rep, t.Inconclusive("no client traffic of drill "+w.letter+" in the journal"))
		return
	}
	// The skew lasts from its publication until the rebuild that follows.
	from, until := int64(-1), it.ToMS
	for _, m := range r.marks {
		switch {
		case string(m.Drill) != w.letter || m.Kind != event.MarkRebuild:
		case from < 0:
			from = m.at
		case until == it.ToMS:
			until = m.at
		}
	}
	ref := r.referenceHash(it.Skewed, from)
	answered, unlabelled, skewed := 0, 0, 0
	byHash := map[string]int{}
	for _, a := range it.Asks {
		if a.AtMS < from || a.AtMS > until || a.Status/100 != 2 {
			continue
		}
		answered++
		switch {
		case a.IndexHash == "":
			unlabelled++
		case a.IndexHash != ref:
			skewed++
			byHash[a.Region+" "+a.IndexHash]++
		}
	}
	t.Value, t.Pass = skewed, skewed == 0
	t.Detail = fmt.Sprintf("%d answers to clients asking through the entry from the skewed publication of %s (%.1f s) until its rebuild (%.1f s); reference index %s",
		answered, it.Skewed, float64(from)/1000, float64(until)/1000, ref)
	if skewed > 0 {
		var parts []string
		for k, n := range byHash {
			parts = append(parts, fmt.Sprintf("%d from %s", n, k))
		}
		sort.Strings(parts)
		t.Detail += "; answered by another index: " + strings.Join(parts, ", ")
	}
	switch {
	case from < 0:
		t = t.Inconclusive("the journal has no publication of a skewed index")
	case answered == 0:
		t = t.Inconclusive("no client question was answered while the skewed index was published")
	case unlabelled > 0 && skewed == 0:
		t = t.Inconclusive(fmt.Sprintf("%d of %d answers carried no X-Index-Hash header", unlabelled, answered))
	case ref == "":
		t = t.Inconclusive("no health sample gave the reference INDEX_HASH")
	}
	add(rep, t)
}

// referenceHash is the INDEX_HASH every region but skewed reported in the
// last health sample before at.
func (r *run) referenceHash(skewed string, at int64) string {
	ref := ""
	for _, h := range r.health {
		if h.at > at {
			break
		}
		for name, hh := range h.Regions {
			if name != skewed && hh.IndexHash != "" {
				ref = hh.IndexHash
			}
		}
	}
	return ref
}

// judgeWebhooks adds drill D's webhook targets: no duplicate or disallowed
// delivery, and no applied write whose webhook never came.
func (r *run) judgeWebhooks(rep *verdict.Report, w window) {
	wh := r.webhookLedger()
	dup := verdict.Target{ID: "webhook_duplicates", Drill: w.letter, Target: "= 0", Value: wh.Duplicates + wh.FromDisallowedRegion,
		Pass: wh.Duplicates == 0 && wh.FromDisallowedRegion == 0,
		Detail: fmt.Sprintf("%d duplicate deliveries, %d from a region outside the emit policy, of %d deliveries; %d replays of a delivery (re-sent bytes, not counted)",
			wh.Duplicates, wh.FromDisallowedRegion, len(r.webhooks), wh.Replays)}
	if wh.Redeliveries > 0 {
		dup.Detail += fmt.Sprintf("; %d sent again by their region after the sink received them just as this drill cut it off (the answer was lost; not counted: the receiver drops them by webhook id)", wh.Redeliveries)
	}
	miss := verdict.Target{ID: "webhook_missing", Drill: w.letter, Target: "= 0", Value: wh.Missing, Pass: wh.Missing == 0,
		Detail: fmt.Sprintf("%d of %d applied writes' webhooks were never delivered", wh.Missing, wh.Expected)}
	why := ""
	switch {
	case r.obs.hooksWaived:
		why = "targets.waive names sink: the drill read no deliveries"
	case r.obs.hooksErr != "":
		why = "the sink's deliveries could not be read: " + r.obs.hooksErr
	case !r.obs.hooksRead:
		why = "no webhook deliveries in the journal"
	}
	if why != "" {
		dup, miss = dup.Inconclusive(why), miss.Inconclusive(why)
	}
	if u := r.unreadStores(); u != "" && why == "" {
		miss = miss.Inconclusive(u + ": the webhooks due are unknown")
	} else if wh.Expected == 0 && why == "" {
		miss = miss.Inconclusive("no write was applied: no webhook was due")
	}
	add(rep, dup)
	add(rep, miss)
}

// sessionMoves walks each session's requests sent in [from, to) in order
// and calls move for every change of answering region between an answer
// and the next request sent after it ended; failed says whether the
// session saw a request fail in between (its region died for it).
func (r *run) sessionMoves(from, to int64, move func(session uint32, fromRegion, toRegion uint8, at int64, failed bool)) (sessions int) {
	type last struct {
		region uint8
		end    int64
		failed bool
	}
	idx := make([]int, 0, len(r.records))
	for i := range r.records {
		rec := &r.records[i]
		if rec.Kind != load.KindToken && rec.End != 0 && rec.Err != load.ErrCanceled && rec.Start >= from && rec.Start < to {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return r.records[idx[a]].Start < r.records[idx[b]].Start })
	seen := map[uint32]last{}
	for _, i := range idx {
		rec := &r.records[i]
		prev, ok := seen[rec.Session]
		if rec.Err != load.ErrNone || rec.Region == 0 {
			if ok {
				prev.failed = true
				seen[rec.Session] = prev
			}
			continue
		}
		if ok && prev.region != rec.Region && prev.end <= rec.Start {
			move(rec.Session, prev.region, rec.Region, rec.Start, prev.failed)
		}
		if !ok || prev.end <= rec.Start {
			seen[rec.Session] = last{region: rec.Region, end: rec.End}
		}
	}
	return len(seen)
}

// judgeFlapping (drill A): after the evacuation decision no session goes
// back to the evacuated region before the drill starts the return.
func (r *run) judgeFlapping(rep *verdict.Report, w window) {
	t := verdict.Target{ID: "no_flapping", Drill: w.letter, Target: "= 0 sessions"}
	if w.decision < 0 {
		add(rep, t.Inconclusive("the journal has no evacuation decision"))
		return
	}
	until := r.ns(w.to)
	if back := r.returnAt(w); back > w.decision {
		until = r.ns(back)
	}
	evac := r.regionIndex(w.evacuated)
	flapped := map[uint32]bool{}
	left := 0
	n := r.sessionMoves(r.ns(w.decision), until, func(s uint32, from, to uint8, _ int64, _ bool) {
		switch {
		case from == evac:
			left++
		case to == evac:
			flapped[s] = true
		}
	})
	t.Value, t.Pass = len(flapped), len(flapped) == 0
	t.Detail = fmt.Sprintf("%d sessions answered between the decision and the return; %d moves off %s; %d sessions went back to it", n, left, w.evacuated, len(flapped))
	add(rep, orMissing(t, n == 0, "no session was answered between the decision and the return"))
}

// judgeStickiness (drill B): a session stays on its region while that
// region serves. A move off the cut-off region after the decision is the
// failover; a move off a region the router had taken out of rotation in the
// 3 s before it (from the health samples; without them, a session that saw
// a request fail or a region that answered nobody in the second after) is
// the router dropping a region it saw fail; any other move breaks
// stickiness.
func (r *run) judgeStickiness(rep *verdict.Report, w window) {
	if r.plan.Routing.StickMinutes <= 0 { // the plan asked for no sticky sessions
		return
	}
	t := verdict.Target{ID: "stickiness", Drill: w.letter, Target: "= 0 sessions"}
	evac := r.regionIndex(w.evacuated)
	serving := r.answeredStarts()
	rotationKnown := slices.ContainsFunc(r.health, func(s sample) bool { return s.Rotation != nil })
	moved := map[uint32]bool{}
	forced, dropped := 0, 0
	n := r.sessionMoves(r.ns(w.from), r.ns(w.to), func(s uint32, from, _ uint8, at int64, failed bool) {
		atMS := r.loadAtMS + at/int64(time.Millisecond)
		switch {
		case from == evac && w.decision >= 0 && at >= r.ns(w.decision):
			forced++
		case rotationKnown && r.leftRotation(r.regionName(from), atMS-3000, atMS):
			dropped++
		case !rotationKnown && (failed || !answeredIn(serving[from], at, at+int64(time.Second))):
			dropped++
		default:
			moved[s] = true
		}
	})
	how := "it answered nobody in the next second or the session saw a request fail (the router's rotation was not sampled)"
	if rotationKnown {
		how = "the router had it out of rotation"
	}
	t.Value, t.Pass = len(moved), len(moved) == 0
	t.Detail = fmt.Sprintf("%d sessions answered during drill %s; %d moved off the cut-off %s (allowed); %d moved off a region as %s (allowed); %d moved while their region served",
		n, w.letter, forced, w.evacuated, dropped, how, len(moved))
	add(rep, orMissing(t, n == 0, "no session was answered during drill "+w.letter))
}

// leftRotation reports whether a health sample in [fromMS, toMS] saw the
// router hold region out of rotation.
func (r *run) leftRotation(region string, fromMS, toMS int64) bool {
	for _, s := range r.health {
		if s.at >= fromMS && s.at <= toMS && s.Rotation != nil && !s.Rotation[region] {
			return true
		}
	}
	return false
}

// regionName names a region index of the client records.
func (r *run) regionName(i uint8) string {
	if int(i) < len(r.regions) {
		return r.regions[i]
	}
	return ""
}

// answeredStarts lists, per region index, the send times of the requests
// it answered, sorted.
func (r *run) answeredStarts() map[uint8][]int64 {
	out := map[uint8][]int64{}
	for i := range r.records {
		rec := &r.records[i]
		if rec.Kind != load.KindToken && rec.End != 0 && rec.Err == load.ErrNone && rec.Region != 0 {
			out[rec.Region] = append(out[rec.Region], rec.Start)
		}
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

// answeredIn reports whether a sorted list of send times has one in (from, to].
func answeredIn(starts []int64, from, to int64) bool {
	i, _ := slices.BinarySearch(starts, from+1)
	return i < len(starts) && starts[i] <= to
}
