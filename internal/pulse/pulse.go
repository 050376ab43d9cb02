// Package pulse is the drill's pulse while it runs: each second, the
// requests that ended in that second, their errors and latency percentiles,
// and where they were served. It observes the load generator's records as
// they end, so the engine can journal one small summary per second for the
// live view and the terminal view; the report still measures from the full
// records afterwards.
package pulse

import (
	"slices"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/load"
)

// Second summarises the requests that ended since the previous Take.
type Second struct {
	Span     float64        `json:"span_s"` // seconds covered
	Requests int            `json:"requests"`
	Errors   int            `json:"errors"`  // any error class
	Err5xx   int            `json:"err_5xx"` // HTTP 5xx responses
	P50MS    float64        `json:"p50_ms"`
	P95MS    float64        `json:"p95_ms"`
	P99MS    float64        `json:"p99_ms"`
	ByRegion map[string]int `json:"by_region"` // requests served per region
}

// Pulse accumulates ended requests between Takes. It is a load.Observer and
// a load.RegionObserver; the zero value is not usable, call New.
type Pulse struct {
	mu       sync.Mutex
	last     time.Time
	now      func() time.Time
	lat      []int64 // latencies in ns of requests ended since the last Take
	errors   int
	err5xx   int
	byRegion map[uint8]int
	regions  []string
}

// New returns a pulse whose first second starts now.
func New(now func() time.Time) *Pulse {
	if now == nil {
		now = time.Now
	}
	return &Pulse{now: now, last: now(), byRegion: map[uint8]int{}, regions: []string{""}}
}

// Started ignores requests that have not ended.
func (p *Pulse) Started(load.Record) {}

// Finished counts an ended request.
func (p *Pulse) Finished(r load.Record) {
	if r.Kind == load.KindToken || r.End == 0 || r.Err == load.ErrCanceled {
		return
	}
	p.mu.Lock()
	p.lat = append(p.lat, r.Latency())
	if r.Err != load.ErrNone {
		p.errors++
	}
	if r.Status >= 500 {
		p.err5xx++
	}
	if r.Region != 0 {
		p.byRegion[r.Region]++
	}
	p.mu.Unlock()
}

// RegionSeen learns a region's name.
func (p *Pulse) RegionSeen(index uint8, name string) {
	p.mu.Lock()
	for len(p.regions) <= int(index) {
		p.regions = append(p.regions, "")
	}
	p.regions[index] = name
	p.mu.Unlock()
}

// Take returns the summary since the previous Take and starts a new one.
func (p *Pulse) Take() Second {
	p.mu.Lock()
	now := p.now()
	lat, errs, e5, by := p.lat, p.errors, p.err5xx, p.byRegion
	names := p.regions
	p.lat, p.errors, p.err5xx, p.byRegion = make([]int64, 0, len(lat)), 0, 0, map[uint8]int{}
	span := now.Sub(p.last).Seconds()
	p.last = now
	p.mu.Unlock()

	s := Second{Span: round(span, 3), Requests: len(lat), Errors: errs, Err5xx: e5, ByRegion: map[string]int{}}
	for i, n := range by {
		if int(i) < len(names) && names[i] != "" {
			s.ByRegion[names[i]] += n
		}
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		s.P50MS, s.P95MS, s.P99MS = pct(lat, 0.50), pct(lat, 0.95), pct(lat, 0.99)
	}
	return s
}

// pct is the nearest-rank percentile of sorted latencies, in ms.
func pct(sorted []int64, q float64) float64 {
	i := int(q*float64(len(sorted))+0.999999) - 1
	i = min(max(i, 0), len(sorted)-1)
	return round(float64(sorted[i])/1e6, 1)
}

func round(v float64, digits int) float64 {
	m := 1.0
	for range digits {
		m *= 10
	}
	return float64(int64(v*m+0.5)) / m
}

// Tee is a load.Observer that hands every record to each of observers, and
// region names to those that want them.
func Tee(observers ...load.Observer) load.Observer { return tee(observers) }

type tee []load.Observer

func (t tee) Started(r load.Record) {
	for _, o := range t {
		o.Started(r)
	}
}

func (t tee) Finished(r load.Record) {
	for _, o := range t {
		o.Finished(r)
	}
}

func (t tee) RegionSeen(index uint8, name string) {
	for _, o := range t {
		if ro, ok := o.(load.RegionObserver); ok {
			ro.RegionSeen(index, name)
		}
	}
}

var (
	_ load.Observer       = (*Pulse)(nil)
	_ load.RegionObserver = (*Pulse)(nil)
	_ load.RegionObserver = tee(nil)
)
