package agent

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/regiondrill/regiondrill/internal/load"
)

// The streamer takes what ended by swapping two arrays and encodes every
// batch into one reused buffer: each stored message must still hold its
// own records, every record once, in order, in batches of at most batchMax.
func TestStreamerPublishesEveryRecordOnceInOrder(t *testing.T) {
	js := jetStream(t, natsServer(t, nil).ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.data"}}); err != nil {
		t.Fatal(err)
	}

	st := newStreamer(js, "t.data", "run-v")
	st.started(1)
	st.RegionSeen(1, "a")
	// Three flushes: more than two batches, then less than one, then
	// exactly one, so the arrays swap with records of every size.
	want := 0
	for _, n := range []int{2*batchMax + 7, 5, batchMax} {
		for range n {
			want++
			st.Finished(load.Record{Seq: uint64(want), Start: int64(want), End: int64(want) + 1, Status: 200, Kind: load.KindAsk, Region: 1})
		}
		if err := st.flushRecords(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st.records != uint64(want) || st.batches != 5 {
		t.Fatalf("streamer counted %d records in %d batches, want %d in 5", st.records, st.batches, want)
	}

	cons, err := js.OrderedConsumer(ctx, "T", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	next := uint64(1)
	for {
		m, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			break // nothing more within a second
		}
		if m.Headers().Get(KindHeader) != KindRecords {
			continue
		}
		if got := m.Headers().Get(RegionsHdr); got != `["","a"]` {
			t.Errorf("region table %q", got)
		}
		var b load.Batch
		if err := b.UnmarshalJSON(m.Data()); err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || len(b) > batchMax {
			t.Errorf("a batch of %d records", len(b))
		}
		for _, r := range b {
			if r.Seq != next || r.Start != int64(next) || r.Region != 1 {
				t.Fatalf("record %+v where Seq %d was due: a reused buffer or array overwrote a stored batch", r, next)
			}
			next++
		}
	}
	if next-1 != uint64(want) {
		t.Errorf("the stream holds %d records, want %d", next-1, want)
	}
}
