package judge

import (
	"github.com/regiondrill/regiondrill/internal/measure"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// latencyByRegion adds, for one drill, the latency percentiles of every
// region that answered requests scheduled in its baseline and in its change
// window, from the records the measuring process timed (stalls left out).
// A request nobody answered has no region and is in no row; the p95 target
// counts it.
func (r *run) latencyByRegion(rep *verdict.Report, letter string, base, change [2]int64) {
	clean := r.cleanRecords()
	for _, win := range []struct {
		name     verdict.LatencyWindow
		from, to int64
	}{{verdict.WindowBaseline, base[0], base[1]}, {verdict.WindowChange, change[0], change[1]}} {
		if win.to <= win.from {
			continue
		}
		for i, name := range r.regions {
			if i == 0 || name == "" {
				continue // index 0: no region answered
			}
			p := measure.Latency(clean, win.from, win.to, i)
			if p.Count == 0 {
				continue
			}
			rep.Latency = append(rep.Latency, verdict.RegionLatency{Drill: letter, Window: win.name, Region: name,
				Requests: p.Count, P50: round3(p.P50), P75: round3(p.P75), P95: round3(p.P95), P99: round3(p.P99)})
		}
	}
}
