package agent

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// agentBatches is what four agents stream for n records in all: batches of
// batchMax in the array form, with each agent's region table.
func agentBatches(n int) [][]byte {
	var out [][]byte
	per := n / 4
	for a := range 4 {
		for i := 0; i < per; i += batchMax {
			b := make(load.Batch, min(batchMax, per-i))
			for k := range b {
				at := int64(i+k) * int64(time.Millisecond) / 50
				b[k] = load.Record{Seq: uint64(i + k), Sched: at, Start: at, End: at + 2e7, Kind: load.KindAsk, Status: 200, Region: uint8(1 + (k+a)%2)}
			}
			body, _ := b.MarshalJSON()
			out = append(out, body)
		}
	}
	return out
}

// BenchmarkMerge1e6 is the coordinator's own work on 1,000,000 records from
// four agents, without NATS: decode each batch, move it onto the timeline,
// keep it, and journal it.
func BenchmarkMerge1e6(b *testing.B) {
	msgs := agentBatches(1_000_000)
	names := []string{"a1", "a2", "a3", "a4"}
	b.ReportAllocs()
	for b.Loop() {
		dir := b.TempDir()
		j, err := journal.Create(filepath.Join(dir, "journal.jsonl"), time.Now(), time.Now)
		if err != nil {
			b.Fatal(err)
		}
		c := &Coordinator{ag: &plan.Agents{}, j: j, regions: newRegionIndex(), byName: map[string]*vantage{},
			appendCh: make(chan struct{}, runtime.GOMAXPROCS(0))}
		for i, n := range names {
			c.byName[n] = &vantage{index: i + 1, vp: plan.VantagePoint{Name: n}}
		}
		per := len(msgs) / 4
		for i, m := range msgs {
			if err := c.onRecords(c.byName[names[min(i/per, 3)]], `["","us-east","eu-west"]`, m); err != nil {
				b.Fatal(err)
			}
		}
		if err := c.settle(); err != nil {
			b.Fatal(err)
		}
		if err := j.Close(); err != nil {
			b.Fatal(err)
		}
		if len(c.Records()) != 1_000_000 {
			b.Fatalf("merged %d", len(c.Records()))
		}
		_ = os.RemoveAll(dir)
	}
}
