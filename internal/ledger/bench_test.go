package ledger_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/ledger"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/measure"
)

// synthWrites builds n acked writes, each applied once by eu-west and copied
// to us-east, with every 1000th lost, so the ledger has items to report.
func synthWrites(n int) ([]load.WriteAttempt, []contract.Writes) {
	at := make([]load.WriteAttempt, n)
	eu := contract.Writes{Region: "eu-west", Writes: make([]contract.StoredWrite, 0, n)}
	us := contract.Writes{Region: "us-east", Writes: make([]contract.StoredWrite, 0, n)}
	for i := range at {
		key := fmt.Sprintf("t1:ev-%07d:1", i)
		at[i] = load.WriteAttempt{ID: uint64(i + 1), Key: key, Tenant: "t1", EventID: fmt.Sprintf("ev-%07d", i), Rev: 1,
			BodyHash: fmt.Sprintf("%064x", i), Outcome: load.OutcomeAcked, AckedBy: "eu-west", Attempts: 1}
		if i%1000 == 999 {
			continue // lost
		}
		w := contract.StoredWrite{Key: key, Tenant: "t1", BodyHash: at[i].BodyHash, AppliedBy: "eu-west", Epoch: 1,
			AppliedAt: t0.Add(time.Duration(i) * time.Millisecond)}
		eu.Writes = append(eu.Writes, w)
		w.Replica = true
		us.Writes = append(us.Writes, w)
	}
	return at, []contract.Writes{eu, us}
}

// synthRecords builds n request records at 1000 req/s over two regions, one
// in ten a write, with a 1% error rate and latencies up to 400 ms.
func synthRecords(n int) []load.Record {
	r := rand.New(rand.NewPCG(7, 11))
	recs := make([]load.Record, n)
	for i := range recs {
		sched := int64(i) * int64(time.Millisecond)
		rec := load.Record{Seq: uint64(i), Kind: load.KindAsk, Sched: sched, Start: sched + 20_000,
			End: sched + r.Int64N(int64(400*time.Millisecond)) + 1, Session: uint32(i % 64),
			Status: 200, Region: uint8(1 + i%2)}
		if i%10 == 0 {
			rec.Kind, rec.WriteID = load.KindWrite, uint64(i/10+1)
		}
		if r.IntN(100) == 0 {
			rec.Status, rec.Err = 503, load.ErrStatus5xx
		}
		recs[i] = rec
	}
	return recs
}

// BenchmarkClassify100k classifies 100,000 acknowledged writes against two
// regions' stores (200,000 stored records, half of them replicas).
func BenchmarkClassify100k(b *testing.B) {
	at, stores := synthWrites(100_000)
	b.ReportAllocs()
	for b.Loop() {
		l := ledger.Classify(at, stores)
		if l.Attempted != 100_000 || l.Lost != 100 {
			b.Fatalf("attempted %d lost %d", l.Attempted, l.Lost)
		}
	}
}

// BenchmarkJournal1e6 is the checker's work on a 1,000,000-request journal:
// the per-second series and latency percentiles over all records, the ledger
// over its 100,000 writes, and the JSON of the series and ledger (what
// report.json carries). Building the synthetic input is not timed.
func BenchmarkJournal1e6(b *testing.B) {
	recs := synthRecords(1_000_000)
	at, stores := synthWrites(100_000)
	regions := []string{"", "us-east", "eu-west"}
	b.ReportAllocs()
	for b.Loop() {
		s := measure.PerSecond(recs, regions)
		p := measure.Latency(recs, 0, math.MaxInt64, measure.AllRegions)
		l := ledger.Classify(at, stores)
		if len(s.Overall) != 1000 || p.Count != 1_000_000 || l.Lost != 100 {
			b.Fatalf("series %d, latency count %d, lost %d", len(s.Overall), p.Count, l.Lost)
		}
		if err := json.NewEncoder(io.Discard).Encode(struct {
			S *measure.Series
			L *ledger.Ledger
		}{s, l}); err != nil {
			b.Fatal(err)
		}
	}
}
