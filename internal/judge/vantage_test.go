package judge_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/judge"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// agentsJournal is a recorded run with two vantage points, "us" and "eu",
// whose agents each sent ten records; broken changes what the journal says.
func agentsJournal(t *testing.T, broken func(ev []journal.Event) []journal.Event) []journal.Event {
	t.Helper()
	planJSON := `{"regions":["us-east","eu-west"],"evacuate":"us-east","drills":["B"],
	 "agents":{"nats_url":"nats://127.0.0.1:4222","vantage_points":[{"name":"us","share":0.5},{"name":"eu","share":0.5}]}}`
	ev := func(typ journal.Type, id string, data any) journal.Event {
		b, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		return journal.Event{At: 100, Type: typ, ID: id, Data: b}
	}
	off := event.ClockOffset{OffsetNS: 250e6, DelayNS: 2e5, Samples: 9}
	evs := []journal.Event{
		ev(journal.RunStart, "", event.RunStart{Plan: json.RawMessage(planJSON), Target: "lab", Origin: time.Unix(0, 0), Drills: []event.Letter{"B"}}),
		ev(journal.LoadStart, "", event.LoadStart{AtMS: 50}),
		ev(journal.AgentsVantages, "", []event.Vantage{
			{Index: 1, Name: "us", Share: 0.5, Seed: 1001, Clock: &off, Assigned: true},
			{Index: 2, Name: "eu", Share: 0.5, Seed: 1002, Clock: &off, Assigned: true}}),
		ev(journal.RegionsIndex, "", event.RegionsIndex{"", "eu-west"}),
	}
	for v, name := range []string{"us", "eu"} {
		var b load.Batch
		for i := range 10 {
			at := int64(i) * int64(100*time.Millisecond)
			b = append(b, load.Record{Seq: uint64(v+1)<<event.VantageShift | uint64(i), Sched: at, Start: at, End: at + 2e7,
				Kind: load.KindAsk, Status: 200, Region: 1})
		}
		evs = append(evs, ev(journal.Records, name, b))
		evs = append(evs, ev(journal.AgentsEnd, "", event.AgentEnd{Vantage: name, Received: 10,
			VantageEnd: event.VantageEnd{Reason: event.EndStopped, Records: 10, Batches: 1}}))
	}
	// A write reported twice: in flight, then acknowledged. The last report counts.
	w := load.WriteAttempt{ID: 1<<event.VantageShift | 1, Key: "w-1001-1", Outcome: load.OutcomeIndeterminate, Attempts: 1}
	evs = append(evs, ev(journal.Writes, "us", []load.WriteAttempt{w}))
	w.Outcome = load.OutcomeAcked
	evs = append(evs, ev(journal.Writes, "us", []load.WriteAttempt{w}))
	// The stores hold that write, and one of eu's that eu never reported.
	evs = append(evs, ev(journal.Stores, "", []contract.Writes{{Region: "eu-west", Writes: []contract.StoredWrite{
		{Key: "w-1001-1", AppliedBy: "eu-west", Epoch: 1}, {Key: "w-1002-9", AppliedBy: "eu-west", Epoch: 1}}}}))
	evs = append(evs, ev(journal.RunEnd, "", event.RunEnd{Outcome: event.Completed}))
	if broken != nil {
		evs = broken(evs)
	}
	for i := range evs {
		evs[i].Seq = i + 1
	}
	return evs
}

func judgeEvents(t *testing.T, evs []journal.Event) *verdict.Report {
	t.Helper()
	rep, err := judge.Build(evs)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func vantageOf(rep *verdict.Report, name string) verdict.VantagePoint {
	for _, v := range rep.VantagePoints {
		if v.Name == name {
			return v
		}
	}
	return verdict.VantagePoint{}
}

// Each vantage is judged on its own records; a vantage whose agent was
// lost, or whose records did not all reach the journal, is inconclusive and
// fails the run with that reason.
func TestVantageVerdicts(t *testing.T) {
	rep := judgeEvents(t, agentsJournal(t, nil))
	if len(rep.VantagePoints) != 2 || vantageOf(rep, "us").Requests != 10 || vantageOf(rep, "eu").ClockOffsetMS != 250 {
		t.Fatalf("vantage points: %+v", rep.VantagePoints)
	}
	if rep.Writes.Attempted != 1 || rep.Writes.Acknowledged != 1 || rep.Writes.Unexpected != 1 {
		t.Fatalf("a write reported twice counts once, as last reported; a stored write no agent reported is unexpected: %+v", rep.Writes)
	}
	cases := []struct {
		name       string
		broken     func([]journal.Event) []journal.Event
		reason     string
		unexpected int // eu's unreported stored write is indeterminate once eu is inconclusive
	}{
		{"agent lost", func(evs []journal.Event) []journal.Event {
			b, _ := json.Marshal(event.AgentLost{Vantage: "eu", LastHeartbeatMS: 21000, Why: "no heartbeat for 3.0 s"})
			return append(evs[:len(evs)-1], journal.Event{Type: journal.AgentsLost, Data: b}, evs[len(evs)-1])
		}, "inconclusive: agent lost at 21.0 s (its last heartbeat)", 0},
		{"records lost in transit", func(evs []journal.Event) []journal.Event {
			for i, e := range evs {
				if e.Type == journal.AgentsEnd && strings.Contains(string(e.Data), `{"vantage":"eu"`) {
					b, _ := json.Marshal(event.AgentEnd{Vantage: "eu", Received: 8,
						VantageEnd: event.VantageEnd{Reason: event.EndStopped, Records: 10}})
					evs[i].Data = b
				}
			}
			return evs
		}, "inconclusive: 2 of the 10 records it sent never reached the journal", 0},
		{"no end (coordinator died)", func(evs []journal.Event) []journal.Event {
			var out []journal.Event
			for _, e := range evs {
				if e.Type != journal.AgentsEnd || !strings.Contains(string(e.Data), `{"vantage":"eu"`) {
					out = append(out, e)
				}
			}
			return out
		}, "inconclusive: the journal holds no end of its records", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := judgeEvents(t, agentsJournal(t, c.broken))
			eu := vantageOf(rep, "eu")
			if rep.Verdict == verdict.Pass || !strings.HasPrefix(eu.Reason, c.reason) || !strings.Contains(rep.Reason, "vantage eu inconclusive") {
				t.Fatalf("verdict %s (%s), eu %q; want it inconclusive: %s", rep.Verdict, rep.Reason, eu.Reason, c.reason)
			}
			if rep.Writes.Unexpected != c.unexpected || rep.Writes.IndeterminateApplied != 1 {
				t.Fatalf("eu's unreported write: %+v", rep.Writes)
			}
			if us := vantageOf(rep, "us"); us.Verdict != verdict.Pass {
				t.Fatalf("us is judged on its own and passes: %+v", us)
			}
		})
	}
}
