package measure

import "github.com/regiondrill/regiondrill/internal/load"

// Bucket is one second of traffic, by scheduled time.
type Bucket struct {
	Second    int                   `json:"t"`    // seconds since run start
	Count     int                   `json:"n"`    // counted requests scheduled in this second
	Rate      float64               `json:"rate"` // req/s (Count over the 1 s bucket)
	P50       float64               `json:"p50_ms,omitempty"`
	P75       float64               `json:"p75_ms,omitempty"`
	P95       float64               `json:"p95_ms,omitempty"`
	P99       float64               `json:"p99_ms,omitempty"`
	Errors    int                   `json:"errors,omitempty"`
	ErrorRate float64               `json:"error_rate,omitempty"`
	Count5xx  int                   `json:"n_5xx,omitempty"`
	Classes   map[load.ErrClass]int `json:"classes,omitempty"` // includes canceled requests
	Cold      int                   `json:"cold,omitempty"`
	CacheHit  float64               `json:"cache_hit_ratio,omitempty"` // cached over successful asks
	Share     float64               `json:"share,omitempty"`           // this region's part of all counted requests in the second
	asks      int
	cached    int
	latencies []int64
}

// Series is the per-second view of a run, overall and per region. Each slice
// has one bucket per second from 0 to the last scheduled second.
type Series struct {
	Regions  []string            `json:"regions"`
	Overall  []Bucket            `json:"overall"`
	ByRegion map[string][]Bucket `json:"by_region"`
}

// PerSecond builds the series. regions is the load region table (index i
// names Record.Region == i); index 0 appears as "unknown".
func PerSecond(records []load.Record, regions []string) *Series {
	last := -1
	var used [256]bool
	for i := range records {
		r := &records[i]
		if r.Kind == load.KindToken || r.End == 0 || r.Sched < 0 {
			continue
		}
		last = max(last, secondOf(r.Sched))
		used[r.Region] = true
	}
	s := &Series{Regions: regions, ByRegion: map[string][]Bucket{}}
	if last < 0 {
		return s
	}
	s.Overall = make([]Bucket, last+1)
	var per [256][]Bucket
	for i, u := range used {
		if u {
			per[i] = make([]Bucket, last+1)
		}
	}
	for i := range records {
		r := &records[i]
		if r.Kind == load.KindToken || r.End == 0 || r.Sched < 0 {
			continue
		}
		sec := secondOf(r.Sched)
		add(&s.Overall[sec], r)
		add(&per[r.Region][sec], r)
	}
	finish(s.Overall, nil)
	for i := range per {
		if per[i] != nil {
			finish(per[i], s.Overall)
			s.ByRegion[regionName(regions, i)] = per[i]
		}
	}
	return s
}

func add(b *Bucket, r *load.Record) {
	if r.Err != load.ErrNone {
		if b.Classes == nil {
			b.Classes = map[load.ErrClass]int{}
		}
		b.Classes[r.Err]++
	}
	if !counted(r) {
		return
	}
	b.Count++
	b.latencies = append(b.latencies, max(r.End-r.Sched, 0))
	if isError(r) {
		b.Errors++
	}
	if r.Status >= 500 {
		b.Count5xx++
	}
	if r.Cold {
		b.Cold++
	}
	if r.Kind == load.KindAsk && r.Err == load.ErrNone {
		b.asks++
		if r.Cached {
			b.cached++
		}
	}
}

// finish fills the derived fields; overall is nil for the overall series.
func finish(bs []Bucket, overall []Bucket) {
	for i := range bs {
		b := &bs[i]
		b.Second = i
		b.Rate = float64(b.Count)
		p := percentiles(b.latencies)
		b.P50, b.P75, b.P95, b.P99 = p.P50, p.P75, p.P95, p.P99
		b.latencies = nil
		if b.Count > 0 {
			b.ErrorRate = float64(b.Errors) / float64(b.Count)
		}
		if b.asks > 0 {
			b.CacheHit = float64(b.cached) / float64(b.asks)
		}
		switch {
		case overall == nil && b.Count > 0:
			b.Share = 1
		case overall != nil && overall[i].Count > 0:
			b.Share = float64(b.Count) / float64(overall[i].Count)
		}
	}
}
