package judge_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/verdict"
)

// The survivor slows down after the evacuation: the latency by region says
// so, region by region and window by window; the evacuated region has no row
// in the change window, and one again from its return.
func TestLatencyByRegion(t *testing.T) {
	d := healthyDrill()
	d.answer = func(i int, at time.Duration, s uint32) answer {
		a := healthyAnswer(i, at, s)
		if a.region == euWest && at >= decisionAt && at < restoreAt {
			a.lat = 300 * time.Millisecond
		}
		return a
	}
	rep := d.judged(t)
	rows := map[verdict.LatencyWindow]map[string]verdict.RegionLatency{}
	for _, l := range rep.Latency {
		if l.Drill != "A" {
			t.Errorf("a row for drill %q: %+v", l.Drill, l)
		}
		if rows[l.Window] == nil {
			rows[l.Window] = map[string]verdict.RegionLatency{}
		}
		rows[l.Window][l.Region] = l
	}
	for _, region := range []string{"us-east", "eu-west"} {
		b, ok := rows[verdict.WindowBaseline][region]
		if !ok || b.Requests == 0 || b.P50 != 200 || b.P95 != 200 || b.P99 != 200 {
			t.Errorf("baseline %s: %+v, want 200 ms throughout", region, b)
		}
	}
	c, ok := rows[verdict.WindowChange]["eu-west"]
	if !ok || c.P75 != 300 || c.P95 != 300 || c.P99 != 300 {
		t.Errorf("change eu-west: %+v, want 300 ms", c)
	}
	if u, ok := rows[verdict.WindowChange]["us-east"]; ok {
		t.Errorf("the evacuated region answered nothing in the change window, yet has a row: %+v", u)
	}
	// After the restore at 40 s both regions answer again, at 200 ms.
	for _, region := range []string{"us-east", "eu-west"} {
		r, ok := rows[verdict.WindowReturn][region]
		if !ok || r.Requests == 0 || r.P99 != 200 {
			t.Errorf("return %s: %+v, want 200 ms", region, r)
		}
	}
	if b, c := rows[verdict.WindowBaseline]["eu-west"], rows[verdict.WindowChange]["eu-west"]; c.Requests <= b.Requests {
		t.Errorf("eu-west carries the whole load after the evacuation: %d requests, against %d in the baseline", c.Requests, b.Requests)
	}
}

// When the evacuated region answered nobody in the baseline (its clients
// still pinned elsewhere by an earlier drill), the cutover of 0 s says so:
// it moved no client and does not show the routing change working.
func TestCutoverSaysWhenItMovedNobody(t *testing.T) {
	d := healthyDrill()
	d.answer = func(i int, at time.Duration, s uint32) answer {
		return answer{region: euWest, status: 200, lat: 200 * time.Millisecond}
	}
	c := targetOf(d.judged(t), "cutover_s")
	if !strings.Contains(fmt.Sprint(c.Detail), "us-east answered no request in the drill's baseline") {
		t.Errorf("cutover detail does not say us-east had no client: %v", c.Detail)
	}
	c = targetOf(healthyDrill().judged(t), "cutover_s")
	if strings.Contains(fmt.Sprint(c.Detail), "answered no request") {
		t.Errorf("a drill whose baseline us-east served is told it moved nobody: %v", c.Detail)
	}
}

// The load stopped before the evacuation (the agents' stream could not be
// made, say): the cutover saw no request, so it is inconclusive, not
// failed, and a load_ran target carries the error, so the run cannot pass.
func TestLoadThatStoppedIsNotACutoverFailure(t *testing.T) {
	d := healthyDrill()
	d.loadEnds, d.loadError = decisionAt-2*time.Second, "agents: create the run's stream: JetStream system temporarily unavailable"
	rep := d.judged(t)
	if c := targetOf(rep, "cutover_s"); c.Status != verdict.StatusInconclusive || !strings.Contains(c.Missing, "no request was scheduled") {
		t.Errorf("cutover with no traffic after the decision: %+v", c)
	}
	l := targetOf(rep, "load_ran")
	if l.Status != verdict.StatusInconclusive || !strings.Contains(l.Missing, "JetStream system temporarily unavailable") {
		t.Errorf("load_ran: %+v", l)
	}
	if rep.Verdict == verdict.Pass {
		t.Errorf("a run whose load stopped passed")
	}
	if l := targetOf(healthyDrill().judged(t), "load_ran"); l.Value != "missing" {
		t.Errorf("a healthy drill has a load_ran target: %+v", l)
	}
}
