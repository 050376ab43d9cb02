package judge

import (
	"github.com/regiondrill/regiondrill/internal/measure"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// latencyWindow is one window of latencyByRegion, in load-record ns.
type latencyWindow struct {
	name     verdict.LatencyWindow
	from, to int64
}

// latencyByRegion adds, for one drill, the latency percentiles of every
// region that answered requests scheduled in each window, from the records
// the measuring process timed (stalls left out). A request nobody answered
// has no region and is in no row; the p95 target counts it.
func (r *run) latencyByRegion(rep *verdict.Report, letter string, windows ...latencyWindow) {
	clean := r.cleanRecords()
	for _, win := range windows {
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
