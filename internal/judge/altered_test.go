package judge_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/judge"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/probe"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// stores collects a journal's store records by region.
func stores(t *testing.T, evs []journal.Event) map[string][]contract.StoredWrite {
	t.Helper()
	out := map[string][]contract.StoredWrite{}
	for _, ev := range evs {
		if ev.Type != journal.Stores {
			continue
		}
		var ws []contract.Writes
		if err := ev.Decode(&ws); err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			out[w.Region] = append(out[w.Region], w.Writes...)
		}
	}
	return out
}

// withStores replaces a journal's store events by one holding ss, and adds
// events after it.
func withStores(t *testing.T, evs []journal.Event, ss []contract.Writes, after ...journal.Event) []journal.Event {
	t.Helper()
	var out []journal.Event
	for _, ev := range evs {
		if ev.Type == journal.Stores {
			continue
		}
		if ev.Type == journal.RunEnd {
			data, err := json.Marshal(ss)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, journal.Event{At: ev.At, Type: journal.Stores, Data: data})
			for _, a := range after {
				a.At = ev.At
				out = append(out, a)
			}
		}
		out = append(out, ev)
	}
	return out
}

func judged(t *testing.T, evs []journal.Event) (*verdict.Report, []string, []string, []string) {
	t.Helper()
	rep, err := judge.Build(evs)
	if err != nil {
		t.Fatal(err)
	}
	f, i, d := outcomes(rep)
	return rep, f, i, d
}

// The judge on recorded journals altered the way a real target can fail to
// be observed: each missing or doubtful observation makes the targets that
// rest on it inconclusive or failed, never passed.
func TestJudgeOnAlteredJournals(t *testing.T) {
	evs := events(t, "healthy-b")
	byRegion := stores(t, evs)
	east, west := byRegion["us-east"], byRegion["eu-west"]
	if len(east)+len(west) == 0 {
		t.Fatal("the recorded journal holds no store record")
	}
	all := append(slices.Clone(east), west...)
	one := all[0]

	t.Run("a store that could not be read", func(t *testing.T) {
		rep, fail, inc, _ := judged(t, withStores(t, evs, []contract.Writes{{Region: "eu-west", Writes: west}},
			journal.Event{Type: journal.StoreError, Data: json.RawMessage(`"us-east: dial tcp 127.0.0.1:1: connection refused"`)}))
		if rep.Verdict == verdict.Pass || !slices.Contains(inc, "duplicates/B") || !slices.Contains(inc, "unexpected_writes/") {
			t.Fatalf("verdict %s, failed %v, inconclusive %v", rep.Verdict, fail, inc)
		}
	})
	// withReplica adds r to the store of the region that did not apply it.
	withReplica := func(r contract.StoredWrite) []journal.Event {
		other := "us-east"
		if r.AppliedBy == "us-east" {
			other = "eu-west"
		}
		ss := []contract.Writes{{Region: "us-east", Writes: east}, {Region: "eu-west", Writes: west}}
		for i := range ss {
			if ss[i].Region == other {
				ss[i].Writes = append(slices.Clone(ss[i].Writes), r)
			}
		}
		return withStores(t, evs, ss)
	}
	t.Run("a faithful replica is not a duplicate", func(t *testing.T) {
		r := one
		r.Replica = true
		_, fail, inc, diag := judged(t, withReplica(r))
		if slices.Contains(fail, "duplicates/B") || slices.Contains(inc, "duplicates/B") || slices.Contains(diag, "split_brain_writes/B") {
			t.Fatalf("a faithful replica counted: failed %v, inconclusive %v, diagnosed %v", fail, inc, diag)
		}
	})
	t.Run("a record labelled replica that copies nothing", func(t *testing.T) {
		r := one
		r.Replica, r.BodyHash = true, "sha256:another-body"
		rep, fail, _, diag := judged(t, withReplica(r))
		if rep.Verdict != verdict.Fail || !slices.Contains(fail, "duplicates/B") || !slices.Contains(diag, "split_brain_writes/B") {
			t.Fatalf("verdict %s, failed %v, diagnosed %v: a mislabelled copy hid a duplicate", rep.Verdict, fail, diag)
		}
	})

	t.Run("the sink's deliveries could not be read", func(t *testing.T) {
		var out []journal.Event
		for _, ev := range events(t, "healthy-d") {
			if ev.Type == journal.Webhooks {
				continue
			}
			if ev.Type == journal.RunEnd {
				out = append(out, journal.Event{At: ev.At, Type: journal.DeliveriesError, Data: json.RawMessage(`"GET /deliveries: connection refused"`)})
			}
			out = append(out, ev)
		}
		rep, _, inc, _ := judged(t, out)
		if rep.Verdict == verdict.Pass || !slices.Contains(inc, "webhook_duplicates/D") || !slices.Contains(inc, "webhook_missing/D") {
			t.Fatalf("verdict %s, inconclusive %v", rep.Verdict, inc)
		}
	})
}

// alter re-encodes the data of every event of type typ through f.
func alter[T any](t *testing.T, evs []journal.Event, typ journal.Type, f func(at int64, v *T)) []journal.Event {
	t.Helper()
	out := slices.Clone(evs)
	for i, ev := range out {
		if ev.Type != typ {
			continue
		}
		var v T
		if err := ev.Decode(&v); err != nil {
			t.Fatal(err)
		}
		f(ev.At, &v)
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[i].Data = data
	}
	return out
}

// mark is when the journal's first mark of kind was noted.
func mark(t *testing.T, evs []journal.Event, kind event.MarkKind) int64 {
	t.Helper()
	for _, ev := range evs {
		var m event.Mark
		if ev.Type == journal.Mark && ev.Decode(&m) == nil && m.Kind == kind {
			return ev.At
		}
	}
	t.Fatalf("no %s mark", kind)
	return 0
}

// loadStart is the journal ms the client records count from.
func loadStart(t *testing.T, evs []journal.Event) int64 {
	t.Helper()
	for _, ev := range evs {
		var ls event.LoadStart
		if ev.Type == journal.LoadStart && ev.Decode(&ls) == nil {
			return ls.AtMS
		}
	}
	t.Fatal("no load_start")
	return 0
}

// Targets no lab misconfiguration breaks, each shown to fire on a recorded
// healthy journal altered the way a broken system would have written it.
func TestTargetsFireOnAlteredJournals(t *testing.T) {
	for _, c := range altered {
		t.Run(c.name, func(t *testing.T) {
			evs := events(t, c.journal)
			rep, fail, inc, _ := judged(t, c.alter(t, evs))
			if !slices.Contains(fail, c.want) && !slices.Contains(inc, c.want) {
				t.Fatalf("%s did not fire: verdict %s, failed %v, inconclusive %v", c.want, rep.Verdict, fail, inc)
			}
			if _, f0, i0, _ := judged(t, evs); slices.Contains(f0, c.want) || slices.Contains(i0, c.want) {
				t.Fatalf("%s fires on the unaltered journal too: the case proves nothing", c.want)
			}
		})
	}
}

// altered are the cases of TestTargetsFireOnAlteredJournals: a recorded
// journal, how it is altered, and the target ("id/drill") that must fire.
var altered = []struct {
	name, journal, want string
	alter               func(t *testing.T, evs []journal.Event) []journal.Event
}{
	{"a probe answer that echoes the question", "healthy-a", "answer_grounded/A", func(t *testing.T, evs []journal.Event) []journal.Event {
		return alter(t, evs, journal.Probe, func(_ int64, p *event.Probe) {
			for i := range p.Results {
				p.Results[i].Answer, p.Results[i].Grounded = p.Results[i].Question, 0.4
			}
		})
	}},
	// The drill's own check found the returned region cold at closeout
	// (its re-warm did not hold): the check's event says so.
	{"a cache cold after the re-warm", "healthy-e", "cache_rewarmed/E", func(t *testing.T, evs []journal.Event) []journal.Event {
		return alter(t, evs, journal.Check, func(_ int64, c *event.Check) {
			if c.Name == "cache_rewarmed" {
				c.Pass, c.Value, c.Detail = false, "cold", "us-east has 0 of 16 hot keys"
			}
		})
	}},
	{"retrieval that misses the gold answer", "healthy-a", "coverage/A", func(t *testing.T, evs []journal.Event) []journal.Event {
		return alter(t, evs, journal.Probe, func(_ int64, p *event.Probe) {
			for i := range p.Results {
				p.Results[i].Coverage = 0.3
			}
		})
	}},
	{"retrieval far from the question", "healthy-a", "delta_s/A", func(t *testing.T, evs []journal.Event) []journal.Event {
		return alter(t, evs, journal.Probe, func(_ int64, p *event.Probe) {
			for i := range p.Results {
				p.Results[i].DeltaS = 0.7
			}
		})
	}},
	{"answers that never settle", "healthy-a", "lambda/A", func(t *testing.T, evs []journal.Event) []journal.Event {
		return alter(t, evs, journal.Probe, func(_ int64, p *event.Probe) {
			for i := range p.Results {
				p.Results[i].Lambda = probe.Chaotic
			}
		})
	}},
	{"a region that ranks other chunks and drifts", "healthy-a", "dualhome_overlap/A", func(t *testing.T, evs []journal.Event) []journal.Event {
		return alter(t, evs, journal.Probe, func(_ int64, p *event.Probe) {
			for i := range p.Results {
				if p.Region == "eu-west" && p.Phase == "after" {
					slices.Reverse(p.Results[i].TopChunks)
					p.Results[i].TopChunks = append([]string{"x/1", "x/2", "x/3"}, p.Results[i].TopChunks...)
					p.Results[i].DeltaS += 0.1
				}
			}
		})
	}},
	{"a stored body other than the one sent", "healthy-b", "write_integrity/B", func(t *testing.T, evs []journal.Event) []journal.Event {
		return alter(t, evs, journal.Stores, func(_ int64, ws *[]contract.Writes) {
			for i := range *ws {
				if len((*ws)[i].Writes) > 0 {
					(*ws)[i].Writes[0].BodyHash = "sha256:tampered"
				}
			}
		})
	}},
	{"a queue that does not drain back", "healthy-a", "backlog_zero/A", func(t *testing.T, evs []journal.Event) []journal.Event {
		return alter(t, evs, journal.Check, func(_ int64, c *verdict.Check) {
			if c.Name == "backlog_zero" {
				c.Pass, c.Value = false, "900"
			}
		})
	}},
	{"a queue that took longer than the target to drain", "healthy-a", "backlog_drain_s/A", func(t *testing.T, evs []journal.Event) []journal.Event {
		var out []journal.Event
		for _, ev := range evs {
			if ev.Type == journal.Drained {
				ev.Data = json.RawMessage(`{"drill":"A","seconds":700,"ok":true}`)
			}
			out = append(out, ev)
		}
		return out
	}},
	{"an acknowledged write in no store", "healthy-b", "write_loss/B", func(t *testing.T, evs []journal.Event) []journal.Event {
		acked := map[string]bool{}
		for _, ev := range evs {
			var ws []load.WriteAttempt
			if ev.Type == journal.Writes && ev.Decode(&ws) == nil {
				for _, w := range ws {
					acked[w.Key] = w.Outcome == load.OutcomeAcked
				}
			}
		}
		dropped := false
		return alter(t, evs, journal.Stores, func(_ int64, ws *[]contract.Writes) {
			for i := range *ws {
				(*ws)[i].Writes = slices.DeleteFunc((*ws)[i].Writes, func(w contract.StoredWrite) bool {
					if !dropped && acked[w.Key] {
						dropped = true
						return true
					}
					return false
				})
			}
		})
	}},
	{"a stored write nobody sent", "healthy-b", "unexpected_writes/", func(t *testing.T, evs []journal.Event) []journal.Event {
		return alter(t, evs, journal.Stores, func(_ int64, ws *[]contract.Writes) {
			if len(*ws) > 0 {
				(*ws)[0].Writes = append((*ws)[0].Writes, contract.StoredWrite{Key: "ghost-1", AppliedBy: (*ws)[0].Region, Epoch: 1})
			}
		})
	}},
	{"a purge with nothing cached before it", "healthy-e", "cache_purged/E", func(t *testing.T, evs []journal.Event) []journal.Event {
		var out []journal.Event
		for _, ev := range evs {
			var p event.CachePurge
			if ev.Type == journal.CachePurge && ev.Decode(&p) == nil {
				p.HitsBefore = 0
				ev.Data, _ = json.Marshal(p)
			}
			out = append(out, ev)
		}
		return out
	}},
	{"sessions sent back to the evacuated region", "healthy-a", "no_flapping/A", func(t *testing.T, evs []journal.Event) []journal.Event {
		from := (mark(t, evs, event.MarkDecision) - loadStart(t, evs) + 3000) * int64(time.Millisecond)
		evac := uint8(0)
		for _, ev := range evs {
			var regions event.RegionsIndex
			if ev.Type == journal.RegionsIndex && ev.Decode(&regions) == nil {
				evac = uint8(slices.Index(regions, "us-east"))
			}
		}
		return alter(t, evs, journal.Records, func(_ int64, b *load.Batch) {
			for i := range *b {
				if r := &(*b)[i]; r.Start > from && r.Session%4 == 0 && r.Region != 0 && r.Seq%3 == 0 {
					r.Region = evac // back on the evacuated region now and then
				}
			}
		})
	}},
	{"sessions moved while their region served", "healthy-b", "stickiness/B", func(t *testing.T, evs []journal.Event) []journal.Event {
		return alter(t, evs, journal.Records, func(_ int64, b *load.Batch) {
			for i := range *b {
				if r := &(*b)[i]; r.Session%5 == 0 && r.Region != 0 && r.Seq%2 == 0 {
					r.Region = 3 - r.Region // alternate between the two regions
				}
			}
		})
	}},
}
