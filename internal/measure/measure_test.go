package measure_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/measure"
)

const sec = int64(time.Second)

// shape decides a request scheduled at t (ns): region, error class, status, latency.
type shape func(t int64) (region uint8, err load.ErrClass, status uint16, lat time.Duration)

// traffic builds 10 asks per second for secs seconds.
func traffic(secs int, f shape) []load.Record {
	var out []load.Record
	for i := 0; i < secs*10; i++ {
		t := int64(i) * sec / 10
		reg, e, st, lat := f(t)
		out = append(out, load.Record{Seq: uint64(i), Kind: load.KindAsk, Sched: t, Start: t, End: t + int64(lat), Region: reg, Err: e, Status: st})
	}
	return out
}

func healthy(t int64) (uint8, load.ErrClass, uint16, time.Duration) {
	return 1, load.ErrNone, 200, 10 * time.Millisecond
}

func TestLatencyPercentiles(t *testing.T) {
	// 100 requests with latencies 1..100 ms in region 1, one 1 s request in region 2.
	var recs []load.Record
	for i := 1; i <= 100; i++ {
		recs = append(recs, load.Record{Kind: load.KindAsk, Sched: int64(i), End: int64(i) + int64(i)*int64(time.Millisecond), Region: 1, Status: 200})
	}
	recs = append(recs,
		load.Record{Kind: load.KindAsk, Sched: 5, End: 5 + sec, Region: 2, Status: 200},
		load.Record{Kind: load.KindAsk, Sched: 6, End: 0, Region: 1},                                // in flight: ignored
		load.Record{Kind: load.KindToken, Sched: 7, End: 7 + 9*sec, Region: 1},                      // token: ignored
		load.Record{Kind: load.KindAsk, Sched: 8, End: 8 + 9*sec, Region: 1, Err: load.ErrCanceled}, // canceled: ignored
	)
	tests := []struct {
		name     string
		from, to int64
		region   int
		want     measure.Percentiles
	}{
		{"region 1", 0, sec, 1, measure.Percentiles{P50: 50, P75: 75, P95: 95, P99: 99, Count: 100}},
		{"region 2", 0, sec, 2, measure.Percentiles{P50: 1000, P75: 1000, P95: 1000, P99: 1000, Count: 1}},
		{"all regions", 0, sec, measure.AllRegions, measure.Percentiles{P50: 51, P75: 76, P95: 96, P99: 100, Count: 101}},
		{"window excludes", 50, 60, 1, measure.Percentiles{P50: 54, P75: 57, P95: 59, P99: 59, Count: 10}},
		{"empty", 2 * sec, 3 * sec, 1, measure.Percentiles{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := measure.Latency(recs, tt.from, tt.to, tt.region)
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLatencyLargeMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	recs := make([]load.Record, 200000)
	lats := make([]int64, len(recs))
	for i := range recs {
		l := r.Int64N(int64(5 * time.Second))
		recs[i] = load.Record{Kind: load.KindWrite, Sched: int64(i), End: int64(i) + l, Status: 202}
		lats[i] = l
	}
	slices.Sort(lats)
	got := measure.Latency(recs, 0, math.MaxInt64, measure.AllRegions)
	want := float64(lats[len(lats)*99/100-1]) / 1e6
	if got.P99 != want || got.Count != len(recs) {
		t.Fatalf("p99 %v count %d, want %v %d", got.P99, got.Count, want, len(recs))
	}
}

func TestLongest5xxRun(t *testing.T) {
	tests := []struct {
		name       string
		secs       int
		f          shape
		start, end int64
	}{
		{"healthy", 30, healthy, 0, 0},
		{"12 s burst of 5xx", 40, func(t int64) (uint8, load.ErrClass, uint16, time.Duration) {
			if t >= 10*sec && t < 22*sec {
				return 1, load.ErrStatus5xx, 503, 5 * time.Millisecond
			}
			return healthy(t)
		}, 10 * sec, 22 * sec},
		{"timeouts and refused connections count", 20, func(t int64) (uint8, load.ErrClass, uint16, time.Duration) {
			switch {
			case t >= 2*sec && t < 5*sec:
				return 0, load.ErrTimeout, 0, 2 * time.Second
			case t >= 5*sec && t < 9*sec:
				return 0, load.ErrConnect, 0, time.Millisecond
			}
			return healthy(t)
		}, 2 * sec, 9 * sec},
		{"40% errors is not a burst", 20, func(t int64) (uint8, load.ErrClass, uint16, time.Duration) {
			if (t/(sec/10))%10 < 4 {
				return 1, load.ErrStatus5xx, 500, time.Millisecond
			}
			return healthy(t)
		}, 0, 0},
		{"4xx are not outage errors", 20, func(t int64) (uint8, load.ErrClass, uint16, time.Duration) {
			return 1, load.ErrStatus4xx, 404, time.Millisecond
		}, 0, 0},
		{"longest of two bursts", 40, func(t int64) (uint8, load.ErrClass, uint16, time.Duration) {
			if (t >= 3*sec && t < 6*sec) || (t >= 20*sec && t < 25*sec) {
				return 1, load.ErrStatus5xx, 502, time.Millisecond
			}
			return healthy(t)
		}, 20 * sec, 25 * sec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, e := measure.Longest5xxRun(traffic(tt.secs, tt.f), math.MinInt64, math.MaxInt64)
			if s != tt.start || e != tt.end {
				t.Fatalf("run [%v,%v), want [%v,%v)", time.Duration(s), time.Duration(e), time.Duration(tt.start), time.Duration(tt.end))
			}
		})
	}
}

func TestLongest5xxRunSpansSilentSeconds(t *testing.T) {
	recs := traffic(30, func(t int64) (uint8, load.ErrClass, uint16, time.Duration) {
		if t >= 5*sec && t < 15*sec {
			return 1, load.ErrStatus5xx, 503, time.Millisecond
		}
		return healthy(t)
	})
	// Drop seconds 8 and 9 entirely: the burst goes on across the gap.
	recs = slices.DeleteFunc(recs, func(r load.Record) bool { return r.Sched >= 8*sec && r.Sched < 10*sec })
	if s, e := measure.Longest5xxRun(recs, math.MinInt64, math.MaxInt64); s != 5*sec || e != 15*sec {
		t.Fatalf("run [%v,%v), want [5s,15s)", time.Duration(s), time.Duration(e))
	}
}

func TestErrorRateAndBreakdown(t *testing.T) {
	recs := traffic(10, func(t int64) (uint8, load.ErrClass, uint16, time.Duration) {
		switch (t / (sec / 10)) % 10 {
		case 0:
			return 1, load.ErrTimeout, 0, time.Second
		case 1:
			return 2, load.ErrConnect, 0, time.Millisecond
		case 2:
			return 1, load.ErrToolCall, 502, time.Millisecond
		case 3:
			return 1, load.ErrBodyRead, 200, time.Millisecond
		}
		return healthy(t)
	})
	if got := measure.ErrorRate(recs, 0, 10*sec, measure.AllRegions); got != 0.4 {
		t.Errorf("error rate %v, want 0.4", got)
	}
	if got := measure.ErrorRate(recs, 0, 10*sec, 2); got != 1 {
		t.Errorf("region 2 error rate %v, want 1", got)
	}
	b := measure.Breakdown(recs, measure.AllRegions)
	if b.Total != 100 || b.Failed != 40 || b.ByClass[load.ErrTimeout] != 10 {
		t.Errorf("breakdown %+v", b)
	}
	want := measure.Timeouts{Connect: 10, BodyRead: 10, Timeout: 10, ToolCall: 10}
	if got := measure.TimeoutBreakdown(b); got != want {
		t.Errorf("timeouts %+v, want %+v", got, want)
	}
}

func TestPerSecond(t *testing.T) {
	recs := traffic(3, func(t int64) (uint8, load.ErrClass, uint16, time.Duration) {
		i := (t / (sec / 10)) % 10
		switch {
		case t >= 2*sec && i < 5:
			return 2, load.ErrStatus5xx, 503, 100 * time.Millisecond
		case t >= sec && i < 3:
			return 2, load.ErrNone, 200, 20 * time.Millisecond
		}
		return 1, load.ErrNone, 200, 10 * time.Millisecond
	})
	recs[0].Cached, recs[1].Cached, recs[2].Cold = true, true, true
	s := measure.PerSecond(recs, []string{"", "eu-west", "us-east"})
	if len(s.Overall) != 3 {
		t.Fatalf("%d overall buckets, want 3", len(s.Overall))
	}
	o0, o2 := s.Overall[0], s.Overall[2]
	if o0.Count != 10 || o0.Rate != 10 || o0.CacheHit != 0.2 || o0.Cold != 1 || o0.P50 != 10 || o0.Share != 1 {
		t.Errorf("second 0: %+v", o0)
	}
	if o2.Count5xx != 5 || o2.ErrorRate != 0.5 || o2.Classes[load.ErrStatus5xx] != 5 || o2.P99 != 100 {
		t.Errorf("second 2: %+v", o2)
	}
	us := s.ByRegion["us-east"]
	if len(us) != 3 || us[0].Count != 0 || us[1].Share != 0.3 || us[2].Share != 0.5 || us[1].P50 != 20 {
		t.Errorf("us-east: %+v", us)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back measure.Series
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("series does not round-trip: %v\n%s", err, b)
	}
	if back.Overall[2].Classes[load.ErrStatus5xx] != 5 || back.ByRegion["eu-west"][0].Count != 10 {
		t.Errorf("round-trip lost data: %s", b)
	}
}

func BenchmarkLatency1e6(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	recs := make([]load.Record, 1_000_000)
	for i := range recs {
		recs[i] = load.Record{Kind: load.KindAsk, Sched: int64(i), End: int64(i) + r.Int64N(int64(time.Second)), Status: 200}
	}
	for b.Loop() {
		measure.Latency(recs, 0, math.MaxInt64, measure.AllRegions)
	}
}
