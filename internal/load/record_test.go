package load_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/regiondrill/regiondrill/internal/load"
)

func TestRecordIsCompact(t *testing.T) {
	if s := unsafe.Sizeof(load.Record{}); s > 160 {
		t.Fatalf("Record is %d bytes, want <= 160", s)
	}
	r := load.NewRecorder()
	r.Started(load.Record{Seq: 0})
	per := testing.AllocsPerRun(2000, func() {
		r.Started(load.Record{Seq: 1, Kind: load.KindAsk})
		r.Finished(load.Record{Seq: 1, Kind: load.KindAsk, End: 5})
	})
	if per != 0 {
		t.Fatalf("recording allocates %v per request", per)
	}
}

func TestRecorderKeepsFinalRecord(t *testing.T) {
	r := load.NewRecorder()
	for i := uint64(0); i < 5000; i++ {
		r.Started(load.Record{Seq: i, Sched: int64(i)})
	}
	r.Finished(load.Record{Seq: 4500, Sched: 4500, End: 9000, Status: 200})
	r.RegionSeen(2, "us-east")
	recs := r.Records()
	if len(recs) != 5000 || recs[4500].End != 9000 || recs[4499].End != 0 {
		t.Fatalf("records wrong: len %d, rec[4500] %+v", len(recs), recs[4500])
	}
	if reg := r.Regions(); len(reg) != 3 || reg[2] != "us-east" {
		t.Fatalf("regions %v", reg)
	}
}

func BenchmarkRecord(b *testing.B) {
	r := load.NewRecorder()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec := load.Record{Seq: uint64(i), Kind: load.KindAsk, Sched: int64(i)}
		r.Started(rec)
		rec.End = rec.Sched + 1000
		r.Finished(rec)
	}
}

// BenchmarkPacing runs 2000 req/s for 2 s against a trivial local server and
// reports the delivered rate and the worst lag.
func BenchmarkPacing(b *testing.B) {
	url := serveB(b)
	for b.Loop() {
		g, err := load.New(load.Config{URL: url, Rate: 2000, Duration: 2 * time.Second, Sessions: 50})
		if err != nil {
			b.Fatal(err)
		}
		sum, err := g.Run(context.Background(), load.NewRecorder())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(sum.Delivered, "req/s")
		b.ReportMetric(float64(sum.MaxLag.Microseconds()), "maxlag-µs")
		b.ReportMetric(float64(sum.Lagged), "lagged")
		if sum.GeneratorLimited {
			b.Logf("generator limited: %+v", sum)
		}
	}
}

func serveB(b *testing.B) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Region", "eu-west")
		w.Write([]byte(`{"region":"eu-west","answer":"ok"}`))
	}))
	b.Cleanup(s.Close)
	return s.URL
}

// BenchmarkMaxRate asks for far more than the generator can send with 32
// workers and reports what it delivered and what each request allocated.
func BenchmarkMaxRate(b *testing.B) {
	url := serveB(b)
	for b.Loop() {
		g, err := load.New(load.Config{URL: url, Rate: 1e6, Duration: time.Second, Sessions: 32, MaxWorkers: 32})
		if err != nil {
			b.Fatal(err)
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		sum, err := g.Run(context.Background(), load.NewRecorder())
		if err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&m1)
		b.ReportMetric(sum.Delivered, "req/s")
		b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(sum.Sent), "allocs/req")
		b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(sum.Sent), "B/req")
	}
}
