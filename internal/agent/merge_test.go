package agent

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/event"
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

// benchCoordinator is a coordinator that journals to a new file in dir,
// as Run sets it up, with vantages a1..a4 started, without NATS.
func benchCoordinator(tb testing.TB, dir string) (*Coordinator, *journal.Writer, []string) {
	j, err := journal.Create(filepath.Join(dir, "journal.jsonl"), time.Now(), time.Now)
	if err != nil {
		tb.Fatal(err)
	}
	names := []string{"a1", "a2", "a3", "a4"}
	c := &Coordinator{ag: &plan.Agents{}, j: j, regions: newRegionIndex(), byName: map[string]*vantage{},
		appendCh: make(chan struct{}, runtime.GOMAXPROCS(0))}
	for i, n := range names {
		c.byName[n] = &vantage{index: i + 1, vp: plan.VantagePoint{Name: n}}
	}
	return c, j, names
}

// The records journaled are the merged ones, on the coordinator's timeline.
func TestMergeJournalsTheMergedRecords(t *testing.T) {
	dir := t.TempDir()
	c, j, names := benchCoordinator(t, dir)
	for i, n := range names {
		c.byName[n].shift = int64(i-2) * 1e8 // one moves back past 0
	}
	msgs := agentBatches(4 * (batchMax + 10))
	per := len(msgs) / 4
	for i, m := range msgs {
		if err := c.onRecords(c.byName[names[i/per]], `["","us-east","eu-west"]`, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(c.settle(), j.Close()); err != nil {
		t.Fatal(err)
	}
	evs, err := journal.ReadFile(filepath.Join(dir, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var got []load.Record
	for _, ev := range evs {
		if ev.Type == journal.Records {
			var b load.Batch
			if err := ev.Decode(&b); err != nil {
				t.Fatal(err)
			}
			if want, _ := json.Marshal(b); !bytes.Equal(ev.Data, want) {
				t.Fatalf("a batch is journaled otherwise than Append would write it")
			}
			got = append(got, b...)
		}
	}
	want := c.Records()
	bySeq := func(a, b load.Record) int { return cmp.Compare(a.Seq, b.Seq) }
	slices.SortFunc(got, bySeq)
	slices.SortFunc(want, bySeq)
	if len(want) != 4*(batchMax+10) || !slices.Equal(got, want) {
		t.Fatalf("journaled %d records, merged %d, or they differ", len(got), len(want))
	}
	if r := want[len(want)-1]; event.VantageOf(r.Seq) != 4 || r.Sched != 1e8+int64(batchMax+9)*int64(time.Millisecond)/50 {
		t.Fatalf("last record not on the timeline: %+v", r)
	}
}

// BenchmarkMerge1e6 is the coordinator's own work on 1,000,000 records from
// four agents, without NATS: decode each batch, move it onto the timeline,
// keep it, and journal it.
func BenchmarkMerge1e6(b *testing.B) {
	msgs := agentBatches(1_000_000)
	b.ReportAllocs()
	for b.Loop() {
		dir := b.TempDir()
		c, j, names := benchCoordinator(b, dir)
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
