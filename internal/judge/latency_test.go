package judge_test

import (
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/verdict"
)

// The survivor slows down after the evacuation: the latency by region says
// so, region by region and window by window, and the evacuated region has
// no row in the change window.
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
	if b, c := rows[verdict.WindowBaseline]["eu-west"], rows[verdict.WindowChange]["eu-west"]; c.Requests <= b.Requests {
		t.Errorf("eu-west carries the whole load after the evacuation: %d requests, against %d in the baseline", c.Requests, b.Requests)
	}
}
