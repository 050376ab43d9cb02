package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/fixture"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/pulse"
)

// Each second the view prints the request rate, error rate, p95, traffic
// share per region and backlog: as plain lines into a file or pipe, as one
// line redrawn in place on a terminal.
func TestTerminalStatusLine(t *testing.T) {
	health := event.Health{
		Regions: map[string]contract.Health{"us-east": {Queue: contract.QueueStats{Backlog: 7}}, "eu-west": {Queue: contract.QueueStats{Backlog: 5}}},
		Load:    &pulse.Second{Span: 1, Requests: 80, Errors: 4, P95MS: 84.4, ByRegion: map[string]int{"us-east": 20, "eu-west": 60}},
	}
	evs := []journal.Event{
		fixture.Event(t, journal.RunStart, 0, "", event.RunStart{Regions: []string{"us-east", "eu-west"}}),
		fixture.Event(t, journal.StepStart, 10, "2 evacuate", event.StepStart{Drill: "B"}),
		fixture.Event(t, journal.Health, 1000, "", health),
		fixture.Event(t, journal.Health, 2000, "", event.Health{Regions: health.Regions, Errors: map[string]string{"ap-south": "timeout"}}),
	}
	want := "   1.0s  B 2 evacuate | 80 req/s  err 5.0%  p95 84 ms | us-east 25% eu-west 75% | backlog 12 | up 2/2"
	for _, tty := range []bool{false, true} {
		var b bytes.Buffer
		v := &view{w: &b, tty: tty}
		for _, ev := range evs {
			v.observe(ev)
		}
		v.close()
		out := b.String()
		if !strings.Contains(out, want) || !strings.Contains(out, "B 2 evacuate | backlog 12 | up 2/3") {
			t.Fatalf("tty %v:\n%q", tty, out)
		}
		if redraws := strings.Count(out, "\r\033[K"); tty && redraws < 3 || !tty && redraws != 0 {
			t.Fatalf("tty %v: %d redraws in %q", tty, redraws, out)
		}
		if lines := strings.Count(out, "\n"); !tty && lines != 3 || tty && lines != 1 {
			t.Fatalf("tty %v: %d lines in %q", tty, lines, out)
		}
	}
}
