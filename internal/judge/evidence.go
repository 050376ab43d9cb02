package judge

import (
	"fmt"
	"slices"
	"strings"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// settle decides the run's verdict from how it ended, its targets and its
// diagnoses. Pass needs a completed run in which every target passed with
// its evidence and nothing was diagnosed. A failed target or a diagnosis
// fails the run; otherwise a target that lacked its observations makes the
// run inconclusive: it proved nothing about that target.
func (r *run) settle(rep *verdict.Report) {
	switch r.end.Outcome {
	case "completed":
		rep.Verdict = verdict.Pass
	case "gate_failed":
		rep.Verdict, rep.Reason = verdict.Fail, r.end.Reason
		if r.gateRefusedUnsteady() {
			// Nothing was changed and nothing about failover was observed:
			// the system was not steady enough to drill (a backlog, a cold
			// cache, a region out of rotation), which says nothing for or
			// against its failover. A parity check that failed is a finding.
			rep.Verdict, rep.Reason = verdict.Inconclusive, "the drill did not start on a steady system: "+r.end.Reason
		}
	case "stopped", "drill_failed":
		rep.Verdict, rep.Reason = verdict.Fail, r.end.Reason
	case "":
		rep.Verdict, rep.Reason = verdict.Aborted, "the journal has no run_end: the drill process died"
	default:
		rep.Verdict, rep.Reason = verdict.Aborted, r.end.Reason
	}
	if rep.Verdict != verdict.Pass {
		return
	}
	var failed, missing []string
	for _, t := range rep.Acceptance {
		switch t.Status {
		case verdict.StatusFail:
			failed = append(failed, t.ID+where(t.Drill))
		case verdict.StatusInconclusive:
			missing = append(missing, t.ID+where(t.Drill)+": "+t.Missing)
		}
	}
	var diagnosed []string
	for _, d := range rep.Diagnoses {
		diagnosed = append(diagnosed, d.ID+where(d.Drill))
	}
	switch {
	case len(failed) > 0:
		rep.Verdict, rep.Reason = verdict.Fail, "acceptance targets failed: "+strings.Join(failed, ", ")
	case len(diagnosed) > 0:
		rep.Verdict, rep.Reason = verdict.Fail, "typical failure diagnosed: "+strings.Join(diagnosed, ", ")
	case len(missing) > 0:
		rep.Verdict, rep.Reason = verdict.Inconclusive, "no evidence for "+strings.Join(missing, "; ")
	}
}

// unsteadyChecks are the pre-checks that read a passing state of the moment
// (not a configuration): refused by them alone, a drill is inconclusive.
var unsteadyChecks = []string{"queue_empty", "cache_warm"}

// gateRefusedUnsteady reports whether the pre-check gate refused only on
// steady-state grounds: no pre-check failed but the unsteady ones.
func (r *run) gateRefusedUnsteady() bool {
	for _, c := range r.checks {
		if c.Phase == "pre" && !c.Pass && !slices.Contains(unsteadyChecks, c.Name) {
			return false
		}
	}
	return true
}

// where is " (drill X)", or "" for a whole-run item.
func where(letter string) string {
	if letter == "" {
		return ""
	}
	return fmt.Sprintf(" (drill %s)", letter)
}

// statusRank orders targets for the report: failed, then inconclusive, then passed.
func statusRank(s verdict.Status) int {
	switch s {
	case verdict.StatusFail:
		return 0
	case verdict.StatusInconclusive:
		return 1
	}
	return 2
}

// observations are what the drill saw, or failed to see, beyond the
// client's records: store and sink reads, purge evidence, drill C's traffic.
type observations struct {
	storesRead  map[string]bool   // regions whose store is in the journal
	storeErrs   map[string]string // region → why its store could not be read
	replicas    []replicaAt       // records the system labels replicas
	mislabelled []string          // replicas that copy nothing: counted as applied
	hooksRead   bool              // the sink's deliveries are in the journal
	hooksErr    string            // why the sink's deliveries could not be read
	hooksWaived bool              // the plan waived the sink
	purges      []event.CachePurge
	traffic     []event.IndexTraffic
}

func newObservations() observations {
	return observations{storesRead: map[string]bool{}, storeErrs: map[string]string{}}
}

// observed takes in an event that says what the drill saw, or failed to
// see, beyond the client's records.
func (r *run) observed(ev journal.Event) (err error) {
	switch ev.Type {
	case journal.StoreError:
		region, why, _ := strings.Cut(string(decode[event.StoreError](ev, &err)), ": ")
		r.obs.storeErrs[region] = why
	case journal.DeliveriesError:
		r.obs.hooksErr = string(decode[event.DeliveriesError](ev, &err))
	case journal.DeliveriesWaived:
		r.obs.hooksWaived = true
	case journal.CachePurge:
		r.obs.purges = append(r.obs.purges, decode[event.CachePurge](ev, &err))
	case journal.IndexTraffic:
		r.obs.traffic = append(r.obs.traffic, decode[event.IndexTraffic](ev, &err))
	}
	return err
}

type replicaAt struct {
	store string
	w     contract.StoredWrite
}

// checkReplicas judges every record the system labels a replica against
// what it claims: a copy, in another region's store, of a record the
// region named in applied_by applied (same key, body and epoch), at most
// one per store. A replica that copies nothing is a write the label would
// hide: it is counted as applied where it is, so a duplicate shows.
// Replicas whose source store could not be read stay unverified: the write
// targets are inconclusive then anyway.
func (r *run) checkReplicas() {
	if len(r.obs.replicas) == 0 {
		return
	}
	type src struct{ region, key string }
	applied := map[src]contract.StoredWrite{}
	for _, s := range r.stores {
		for _, w := range s.Writes {
			applied[src{s.Region, w.Key}] = w
		}
	}
	seen := map[src]bool{}
	for _, rp := range r.obs.replicas {
		w, why := rp.w, ""
		orig, ok := applied[src{w.AppliedBy, w.Key}]
		switch {
		case w.AppliedBy == rp.store:
			why = "a replica of itself: " + rp.store + " names itself as the applier"
		case seen[src{rp.store, w.Key}]:
			why = "a second replica in the same store"
		case !r.obs.storesRead[w.AppliedBy]:
			continue // unverifiable: its source store is not in the journal
		case !ok:
			why = w.AppliedBy + " holds no applied record of it"
		case orig.BodyHash != w.BodyHash || orig.Epoch != w.Epoch:
			why = fmt.Sprintf("it differs from %s's record (body %s epoch %d vs %s epoch %d)", w.AppliedBy, w.BodyHash, w.Epoch, orig.BodyHash, orig.Epoch)
		}
		seen[src{rp.store, w.Key}] = true
		if why == "" {
			continue
		}
		r.obs.mislabelled = append(r.obs.mislabelled, fmt.Sprintf("%s in %s is labelled a replica but is %s", w.Key, rp.store, why))
		w.Replica = false
		i := slices.IndexFunc(r.stores, func(x contract.Writes) bool { return x.Region == rp.store })
		r.stores[i].Writes = append(r.stores[i].Writes, w)
	}
	r.obs.replicas = nil
}

// unreadStores names the plan's regions whose store is not in the journal,
// with why; "" when every store was read.
func (r *run) unreadStores() string {
	var out []string
	for _, name := range r.plan.Regions {
		if r.obs.storesRead[name] {
			continue
		}
		why := r.obs.storeErrs[name]
		if why == "" {
			why = "not in the journal"
		}
		out = append(out, "the store of "+name+" could not be read ("+why+")")
	}
	return strings.Join(out, "; ")
}
