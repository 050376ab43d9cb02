package judge

import (
	"math"

	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/measure"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// series builds the per-second samples behind the charts, on the journal's
// clock (seconds since the run's start).
func (r *run) series() []verdict.Second {
	out := r.seriesOf(r.records)
	for _, h := range r.health {
		t := int(h.at / 1000)
		if t < 0 || t >= len(out) {
			continue
		}
		for name, hh := range h.Regions {
			out[t].Backlog[name] = hh.Queue.Backlog
			out[t].BacklogAge[name] = r2(hh.Queue.OldestAgeSeconds)
		}
	}
	return out
}

// seriesOf is the client's side of the series: requests, errors and
// latency per second of some records.
func (r *run) seriesOf(recs []load.Record) []verdict.Second {
	s := measure.PerSecond(recs, r.regions)
	offset := int(r.loadAtMS / 1000)
	total := int(r.lastAtMS/1000) + 1
	out := make([]verdict.Second, total)
	for i := range out {
		out[i] = verdict.Second{T: int64(i), ByRegion: map[string]int{}, P95Region: map[string]float64{},
			Backlog: map[string]int{}, BacklogAge: map[string]float64{}}
	}
	for _, b := range s.Overall {
		t := b.Second + offset
		if t < 0 || t >= total {
			continue
		}
		o := &out[t]
		o.Requests, o.Errors, o.Err5xx, o.Cold = b.Count, b.Errors, b.Count5xx, b.Cold
		o.P50, o.P95, o.P99, o.CacheHit = r2(b.P50), r2(b.P95), r2(b.P99), r2(b.CacheHit)
	}
	for name, bs := range s.ByRegion {
		if name == "" || name == "unknown" {
			continue
		}
		for _, b := range bs {
			t := b.Second + offset
			if t < 0 || t >= total || b.Count == 0 {
				continue
			}
			out[t].ByRegion[name] = b.Count
			out[t].P95Region[name] = r2(b.P95)
		}
	}
	return out
}

func r2(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*100) / 100
}

// slo is the error budget the drill's own traffic consumed.
func (r *run) slo() verdict.SLO {
	o := r.plan.SLO
	s := verdict.SLO{Availability: o.Availability, LatencyMS: o.LatencyMS, LatencyObjective: o.LatencyObjective}
	limit := int64(o.LatencyMS * 1e6)
	for i := range r.records {
		rec := &r.records[i]
		if rec.Kind == load.KindToken || rec.End == 0 || rec.Err == load.ErrCanceled {
			continue
		}
		s.Requests++
		if rec.Err != load.ErrNone {
			s.Bad++
		} else if rec.Latency() > limit {
			s.Slow++
		}
	}
	if s.Requests > 0 {
		if b := float64(s.Requests) * (1 - o.Availability); b > 0 {
			s.BudgetConsumed = r2(float64(s.Bad) / b)
		}
		if b := float64(s.Requests) * (1 - o.LatencyObjective); b > 0 {
			s.LatencyBudgetConsumed = r2(float64(s.Slow) / b)
		}
	}
	return s
}
