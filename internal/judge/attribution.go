package judge

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/regiondrill/regiondrill/internal/ledger"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// span is the time a diagnosis's evidence comes from, in journal ms.
type span struct{ from, to int64 }

func (s span) add(at int64) span {
	if s == (span{}) {
		return span{at, at}
	}
	return span{min(s.from, at), max(s.to, at)}
}

// diagAt records a diagnosis of drill letter with evidence from the time
// in s; the same failure in the same drill gathers its evidence in one.
func diagAt(rep *verdict.Report, id, letter string, s span, evidence ...string) {
	f := failures[id]
	for i, d := range rep.Diagnoses {
		if d.ID == id && d.Drill == letter {
			rep.Diagnoses[i].Evidence = append(rep.Diagnoses[i].Evidence, evidence...)
			if s != (span{}) {
				w := span{d.FromMS, d.ToMS}.add(s.from).add(s.to)
				rep.Diagnoses[i].FromMS, rep.Diagnoses[i].ToMS = w.from, w.to
			}
			return
		}
	}
	rep.Diagnoses = append(rep.Diagnoses, verdict.Diagnosis{ID: f.id, Title: f.title, Drill: letter, Evidence: evidence, Fix: f.fix, FromMS: s.from, ToMS: s.to})
}

// diagTarget diagnoses from a failed target, over its drill's window, and
// links the target.
func (r *run) diagTarget(rep *verdict.Report, id string, t verdict.Target, evidence string) {
	diagAt(rep, id, t.Drill, r.targetSpan(t), evidence)
	ref(rep, id, t.Drill, "acceptance/"+t.ID+"/"+t.Drill)
}

// targetSpan is when a target's evidence was taken: the purge for
// cache_purged, drill C's client traffic for skewed_index_served, else the
// drill's window.
func (r *run) targetSpan(t verdict.Target) span {
	s := span{}
	switch t.ID {
	case "cache_purged":
		for _, p := range r.obs.purges {
			if string(p.Drill) == t.Drill && p.HitsAfter > 0 {
				s = s.add(p.AtMS)
			}
		}
	case "skewed_index_served":
		for _, it := range r.obs.traffic {
			if string(it.Drill) == t.Drill {
				s = s.add(it.FromMS).add(it.ToMS)
			}
		}
	}
	if s != (span{}) {
		return s
	}
	for _, w := range r.windows() {
		if w.letter == t.Drill {
			s = span{w.from, w.to}
		}
	}
	return s
}

// ref links a report item to the diagnosis id of drill letter.
func ref(rep *verdict.Report, id, letter, item string) {
	for i, d := range rep.Diagnoses {
		if d.ID == id && d.Drill == letter && len(d.Refs) < 10 {
			rep.Diagnoses[i].Refs = append(d.Refs, item)
		}
	}
}

// drillAt names the drill whose window holds journal time ms: the last one
// that started at or before it ("" before the first).
func (r *run) drillAt(ms int64) string {
	letter := ""
	for _, w := range r.windows() {
		if w.from <= ms {
			letter = w.letter
		}
	}
	return letter
}

// sentAt is when the client first sent a write, in journal ms (-1 if the
// client never sent it).
func (r *run) sentAt() map[string]int64 {
	out := make(map[string]int64, len(r.writes))
	for _, a := range r.writes {
		out[a.Key] = r.loadAtMS + a.FirstSent/int64(time.Millisecond)
	}
	return out
}

// diagnoseWrites finds split-brain writes and lost writes, each under the
// drill in which the writes involved were first sent.
func (r *run) diagnoseWrites(rep *verdict.Report, led *ledger.Ledger) {
	sent := r.sentAt()
	type found struct {
		dups, lost int
		s          span
		ev         []string
		keys       []string
	}
	by := map[string]*found{}
	at := func(key string) *found {
		ms, ok := sent[key]
		letter := ""
		if ok {
			letter = r.drillAt(ms)
		}
		f := by[letter]
		if f == nil {
			f = &found{}
			by[letter] = f
		}
		if ok {
			f.s = f.s.add(ms)
		}
		if len(f.keys) < 5 {
			f.keys = append(f.keys, "write/"+key)
		}
		return f
	}
	for _, it := range led.Items {
		switch it.Class {
		case ledger.Duplicate:
			f := at(it.Key)
			f.dups++
			if f.dups == 1 {
				f.ev = append(f.ev, "example: "+it.Evidence)
			}
		case ledger.Lost:
			at(it.Key).lost++
		}
	}
	for _, sb := range led.SplitBrain {
		f := at(sb.Key)
		f.ev = append(f.ev, fmt.Sprintf("%s: %d records (e.g. key %s) by %s at epoch %d", sb.Kind, sb.Count, sb.Key, strings.Join(sb.Regions, ","), sb.Epoch))
	}
	for _, s := range r.obs.mislabelled {
		f := at(strings.Fields(s)[0])
		f.ev = append(f.ev, s)
	}
	for _, l := range slices.Sorted(maps.Keys(by)) {
		f := by[l]
		if f.dups > 0 || len(f.ev) > 0 {
			ev := f.ev
			if f.dups > 0 {
				ev = append([]string{fmt.Sprintf("%d writes first sent during drill %s are stored more than once across regions", f.dups, l)}, ev...)
			}
			diagAt(rep, "split_brain_writes", l, f.s, ev...)
			for _, k := range f.keys {
				ref(rep, "split_brain_writes", l, k)
			}
		}
		if f.lost > 0 {
			diagAt(rep, "write_loss", l, f.s, fmt.Sprintf("%d acknowledged writes first sent during drill %s are in no region's store", f.lost, l))
		}
	}
}

// diagnoseWebhooks finds duplicate and disallowed deliveries, under the
// drill in which they arrived.
func (r *run) diagnoseWebhooks(rep *verdict.Report, wh ledger.WebhookLedger) {
	if wh.Duplicates == 0 && wh.FromDisallowedRegion == 0 {
		return
	}
	bad := map[string]bool{}
	for _, it := range wh.Items {
		if it.Class == ledger.WebhookDuplicate || it.Class == ledger.WebhookDisallowed {
			bad[it.ID] = true
		}
	}
	type found struct {
		n  int
		s  span
		by map[string]int
	}
	per := map[string]*found{}
	for _, d := range r.webhooks {
		if !bad[d.ID] {
			continue
		}
		ms := d.ReceivedAt.Sub(r.start.Origin).Milliseconds()
		l := r.drillAt(ms)
		f := per[l]
		if f == nil {
			f = &found{by: map[string]int{}}
			per[l] = f
		}
		f.n++
		f.s = f.s.add(ms)
		f.by[d.Region]++
	}
	for _, l := range slices.Sorted(maps.Keys(per)) {
		f := per[l]
		var by []string
		for reg, n := range f.by {
			by = append(by, fmt.Sprintf("%s sent %d", reg, n))
		}
		sort.Strings(by)
		diagAt(rep, "webhook_duplicates", l, f.s,
			fmt.Sprintf("%d deliveries during drill %s were duplicates or came from a region outside the emit policy (run total: %d duplicates, %d disallowed, of %d expected)",
				f.n, l, wh.Duplicates, wh.FromDisallowedRegion, wh.Expected), strings.Join(by, ", "))
	}
}

// DiagnosisIDs lists the typical failures the judge can diagnose, sorted.
func DiagnosisIDs() []string { return slices.Sorted(maps.Keys(failures)) }
