package measure

import (
	"slices"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/load"
)

func TestUnstalledLeavesOutRequestsAcrossAStall(t *testing.T) {
	ms := int64(time.Millisecond)
	recs := []load.Record{
		{Seq: 0, Sched: 0, Start: 0, End: 100 * ms, Kind: load.KindAsk},               // before the stall
		{Seq: 1, Sched: 150 * ms, Start: 150 * ms, End: 450 * ms, Kind: load.KindAsk}, // across it
		{Seq: 2, Sched: 250 * ms, Start: 400 * ms, End: 420 * ms, Kind: load.KindAsk}, // due inside it
		{Seq: 3, Sched: 500 * ms, Start: 500 * ms, End: 550 * ms, Kind: load.KindAsk}, // after it
		{Seq: 4, Sched: 300 * ms, Start: 300 * ms, Kind: load.KindAsk},                // in flight: kept
	}
	got := Unstalled(recs, []Span{{From: 200 * ms, To: 400 * ms}})
	var seqs []uint64
	for _, r := range got {
		seqs = append(seqs, r.Seq)
	}
	if !slices.Equal(seqs, []uint64{0, 3, 4}) {
		t.Fatalf("kept %v, want [0 3 4]", seqs)
	}
	if len(Unstalled(recs, nil)) != len(recs) {
		t.Fatal("no stall must keep every record")
	}
}
