package judge

import (
	"fmt"
	"strings"

	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/ledger"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// judgeWrites adds the write targets of one drill over the writes first
// sent during it: loss, duplicates, and the other ledger classes that break
// the write contract (applied though refused, corrupt bodies).
func (r *run) judgeWrites(rep *verdict.Report, w window, led *ledger.Ledger) {
	keys := map[string]bool{}
	acked := 0
	for _, a := range r.writes {
		if a.FirstSent >= r.ns(w.from) && a.FirstSent < r.ns(w.to) && !keys[a.Key] {
			keys[a.Key] = true
			if a.Outcome == load.OutcomeAcked {
				acked++
			}
		}
	}
	n := map[ledger.Class]int{}
	var examples []string
	for _, it := range led.Items {
		if keys[it.Key] {
			n[it.Class]++
			if it.Class.Violation() && len(examples) < 3 {
				examples = append(examples, it.Key+" "+it.Class.String()+": "+it.Evidence)
			}
		}
	}
	unread := r.unreadStores()
	loss := verdict.Target{ID: "write_loss", Drill: w.letter, Target: "= 0", Value: n[ledger.Lost], Pass: n[ledger.Lost] == 0,
		Detail: fmt.Sprintf("%d writes first sent during drill %s, %d acknowledged; acknowledged and absent from every store: %d", len(keys), w.letter, acked, n[ledger.Lost])}
	switch {
	case acked == 0:
		loss = loss.Inconclusive(fmt.Sprintf("no write first sent during drill %s was acknowledged", w.letter))
	case unread != "" && n[ledger.Lost] > 0:
		loss = loss.Inconclusive(unread + ": the writes missing from the other stores may be there")
	}
	add(rep, loss)
	dup := verdict.Target{ID: "duplicates", Drill: w.letter, Target: "= 0", Value: n[ledger.Duplicate], Pass: n[ledger.Duplicate] == 0,
		Detail: "writes present more than once across all regions' stores (records labelled replicas are checked against the record they copy)"}
	if unread != "" && dup.Pass {
		dup = dup.Inconclusive(unread)
	}
	add(rep, dup)
	bad := n[ledger.FailedApplied] + n[ledger.Corrupt]
	integrity := verdict.Target{ID: "write_integrity", Drill: w.letter, Target: "= 0", Value: bad, Pass: bad == 0,
		Detail: fmt.Sprintf("refused yet applied: %d; stored with another body than sent: %d", n[ledger.FailedApplied], n[ledger.Corrupt])}
	if len(examples) > 0 {
		integrity.Detail += "; e.g. " + strings.Join(examples, "; ")
	}
	if unread != "" && bad == 0 {
		integrity = integrity.Inconclusive(unread)
	}
	add(rep, integrity)
}

// judgeRun adds the targets that belong to the whole run, not to a drill.
func (r *run) judgeRun(rep *verdict.Report, led *ledger.Ledger) {
	var ex []string
	for _, it := range led.Items {
		if it.Class == ledger.Unexpected && len(ex) < 3 {
			ex = append(ex, it.Key+" in "+strings.Join(it.Found, ",")+": "+it.Evidence)
		}
	}
	t := verdict.Target{ID: "unexpected_writes", Target: "= 0", Value: led.Unexpected, Pass: led.Unexpected == 0,
		Detail: "stored records of writes this drill's client never sent"}
	if len(ex) > 0 {
		t.Detail += ": " + strings.Join(ex, "; ")
	}
	if len(r.obs.mislabelled) > 0 {
		t.Detail += fmt.Sprintf("; %d records labelled replicas copy nothing and were counted as applied: %s", len(r.obs.mislabelled), strings.Join(r.obs.mislabelled[:min(3, len(r.obs.mislabelled))], "; "))
	}
	if u := r.unreadStores(); u != "" && t.Pass {
		t = t.Inconclusive(u)
	}
	add(rep, t)
}

// judgeLoad adds, when the load could not run (or stopped early), a target
// that says so: every target that needs the client's records lacks them
// then, and the run is not a pass whatever they say.
func (r *run) judgeLoad(rep *verdict.Report) {
	if len(r.loadErrs) == 0 {
		return
	}
	add(rep, verdict.Target{ID: "load_ran", Target: "the load ran throughout", Detail: strings.Join(r.loadErrs, "; ")}.
		Inconclusive("the load could not run: "+r.loadErrs[0]))
}

// judgeDrain adds backlog_drain_s: how long the queues took to empty after
// the drill. The drill waits at most phases.drain_timeout_s; a backlog
// still there when that is shorter than the target proves nothing either
// way.
func (r *run) judgeDrain(rep *verdict.Report, w window) {
	lim := r.plan.Thresholds.BacklogDrainS
	dr, ok := r.drained[event.Letter(w.letter)]
	t := verdict.Target{ID: "backlog_drain_s", Drill: w.letter, Target: fmt.Sprintf("≤ %g s", lim), Value: round3(dr.Seconds),
		Pass: ok && dr.OK && dr.Seconds <= lim, Limit: lim, Detail: "time from the closeout until every write and webhook queue was empty"}
	switch {
	case !ok:
		t = t.Inconclusive("the drill stopped before its closeout measured the drain")
	case !dr.OK && dr.Seconds < lim:
		t.Detail = fmt.Sprintf("%d messages still queued after %.0f s", dr.Left(), dr.Seconds)
		t = t.Inconclusive(fmt.Sprintf("the drill waited only phases.drain_timeout_s (%.0f s) of the %g s allowed; raise drain_timeout_s to judge", dr.Seconds, lim))
	case !dr.OK:
		t.Detail = fmt.Sprintf("%d messages still queued after %.0f s", dr.Left(), dr.Seconds)
	}
	add(rep, t)
}
