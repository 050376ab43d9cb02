package measure

import (
	"math"

	"github.com/regiondrill/regiondrill/internal/load"
)

// Percentiles of latency in milliseconds, measured from the scheduled time
// (End-Sched), nearest-rank.
type Percentiles struct {
	P50   float64 `json:"p50_ms"`
	P75   float64 `json:"p75_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Count int     `json:"count"`
}

// Latency computes percentiles over counted records scheduled in [from,to)
// (ns since run start) for one region index or AllRegions. Errors are
// included: a timeout is a slow answer from the client's side.
func Latency(records []load.Record, from, to int64, region int) Percentiles {
	return percentiles(latencies(records, from, to, region))
}

// latencies are the End-Sched of the counted records Latency selects.
func latencies(records []load.Record, from, to int64, region int) []int64 {
	lat := make([]int64, 0, len(records))
	for i := range records {
		r := &records[i]
		if counted(r) && r.Sched >= from && r.Sched < to && inRegion(r, region) {
			lat = append(lat, max(r.End-r.Sched, 0))
		}
	}
	return lat
}

// Bounded is a latency percentile with one-sided confidence bounds that
// hold whatever the distribution (order statistics), in ms.
type Bounded struct {
	Count int
	Value float64 // the nearest-rank percentile
	Lower float64 // the true percentile is at least this with the confidence asked; 0 if Count is too small
	Upper float64 // and at most this; +Inf if Count is too small
}

// LatencyBounds is the p-th percentile of the latencies Latency selects,
// with a lower and an upper bound each holding with confidence 1−alpha.
func LatencyBounds(records []load.Record, from, to int64, region, p int, alpha float64) Bounded {
	lat := latencies(records, from, to, region)
	b := Bounded{Count: len(lat), Upper: math.Inf(1)}
	if len(lat) == 0 {
		return b
	}
	sortInt64(lat)
	b.Value = ms(rank(lat, p))
	lo, hi := quantileRanks(len(lat), float64(p)/100, alpha)
	if lo >= 1 {
		b.Lower = ms(lat[lo-1])
	}
	if hi <= len(lat) {
		b.Upper = ms(lat[hi-1])
	}
	return b
}

// percentiles sorts lat in place and reads the nearest-rank percentiles.
func percentiles(lat []int64) Percentiles {
	if len(lat) == 0 {
		return Percentiles{}
	}
	sortInt64(lat)
	return Percentiles{
		P50:   ms(rank(lat, 50)),
		P75:   ms(rank(lat, 75)),
		P95:   ms(rank(lat, 95)),
		P99:   ms(rank(lat, 99)),
		Count: len(lat),
	}
}

// rank is the nearest-rank p-th percentile of sorted s: the value at
// ceil(p/100·n)-1.
func rank(s []int64, p int) int64 {
	i := (p*len(s) + 99) / 100
	return s[max(i-1, 0)]
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// sortInt64 sorts non-negative values: LSD radix with 8-bit digits for large
// slices, insertion sort for small ones.
func sortInt64(s []int64) {
	if len(s) < 64 {
		for i := 1; i < len(s); i++ {
			for j := i; j > 0 && s[j] < s[j-1]; j-- {
				s[j], s[j-1] = s[j-1], s[j]
			}
		}
		return
	}
	var hi int64
	for _, v := range s {
		hi = max(hi, v)
	}
	buf := make([]int64, len(s))
	src, dst := s, buf
	for shift := uint(0); shift < 64 && hi>>shift > 0; shift += 8 {
		var cnt [257]int
		for _, v := range src {
			cnt[(v>>shift)&0xff+1]++
		}
		for i := 1; i < 257; i++ {
			cnt[i] += cnt[i-1]
		}
		for _, v := range src {
			d := (v >> shift) & 0xff
			dst[cnt[d]] = v
			cnt[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &s[0] {
		copy(s, src)
	}
}

// Span is an interval in ns since run start.
type Span struct{ From, To int64 }

// Unstalled returns the records whose life, from when they were due to when
// they ended, overlaps none of the stalls: the requests the measuring
// process timed while it was running. Records still in flight are kept (the
// selectors above skip them anyway).
func Unstalled(records []load.Record, stalls []Span) []load.Record {
	if len(stalls) == 0 {
		return records
	}
	out := make([]load.Record, 0, len(records))
	for i := range records {
		r := &records[i]
		if r.End == 0 || !overlapsAny(r.Sched, r.End, stalls) {
			out = append(out, *r)
		}
	}
	return out
}

func overlapsAny(from, to int64, spans []Span) bool {
	for _, s := range spans {
		if from <= s.To && to >= s.From {
			return true
		}
	}
	return false
}
