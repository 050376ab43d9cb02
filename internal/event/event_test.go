package event_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// The typed events marshal to the bytes the untyped values journaled
// before them did (maps, the report's check, the bare action), so journals
// written before and after read the same.
func TestEventsKeepTheirWireShape(t *testing.T) {
	three, minus := 3, -1
	k := 5
	action := adapter.Action{Kind: adapter.Scale, Region: "eu-west", K: &k}
	cases := []struct {
		name       string
		typed, was any
	}{
		{"drained", event.Drained{Drill: "A", OK: true, Seconds: 1.5},
			map[string]any{"drill": "A", "seconds": 1.5, "ok": true}},
		{"drained, not", event.Drained{Drill: "B", Seconds: 60, Backlog: &three},
			map[string]any{"drill": "B", "seconds": 60.0, "ok": false, "backlog": 3}},
		{"drained, unreadable", event.Drained{Drill: "B", Seconds: 60, Backlog: &minus},
			map[string]any{"drill": "B", "seconds": 60.0, "ok": false, "backlog": -1}},
		{"undo failed", event.UndoFailed{Kind: "scale", Region: "eu-west", Error: "timeout"},
			map[string]string{"kind": "scale", "region": "eu-west", "error": "timeout"}},
		{"hook undo failed", event.UndoFailed{Kind: "hook", Error: "exit 1"},
			map[string]string{"kind": "hook", "error": "exit 1"}},
		{"refused", event.Refused{Action: adapter.Promote, Region: "us-east", Why: "not ready"},
			map[string]string{"refused": "promote", "region": "us-east", "why": "not ready"}},
		{"agents bad data", event.AgentBadData{Vantage: "us", Error: "bad json"},
			map[string]string{"vantage": "us", "error": "bad json"}},
		{"applied", event.Applied{Action: action}, action},
		{"undone", event.Undone{Action: action}, action},
		{"check", event.Check{Phase: "live", Name: "ΔS_probe", Drill: "C", Value: "0.3", AtMS: 9, Advisory: true},
			verdict.Check{Phase: "live", Name: "ΔS_probe", Drill: "C", Value: "0.3", AtMS: 9, Advisory: true}},
		{"step start", event.StepStart{Drill: "A"}, map[string]string{"drill": "A"}},
	}
	for _, c := range cases {
		got, err := json.Marshal(c.typed)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(c.was)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, want)
		}
	}
}

// The package's table names every journal type.
func TestTheTableNamesEveryType(t *testing.T) {
	src, err := os.ReadFile("event.go")
	if err != nil {
		t.Fatal(err)
	}
	types := append(journal.Noted(), journal.RunStart, journal.RunEnd, journal.StepStart, journal.StepEnd, journal.Intent,
		journal.Applied, journal.Undone, journal.ApplyFailed, journal.UndoFailed, journal.Check, journal.Probe,
		journal.Health, journal.Stop, journal.Stall, journal.Records, journal.Writes, journal.Stores, journal.Webhooks)
	for _, typ := range types {
		if !strings.Contains(string(src), "//\t"+string(typ)+" ") {
			t.Errorf("event.go's table does not name %s", typ)
		}
	}
}
