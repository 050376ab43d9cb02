package writepath_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/regiondrill/regiondrill/internal/lab/writepath"
)

// A claim left "claimed" by a primary of an older epoch (it was fenced off
// before it committed) is taken over; a committed one is a dedupe hit.
func TestLedgerClaimTakeOver(t *testing.T) {
	l := newLab(t, writepath.Faults{}, "eu", "us")
	nc, err := nats.Connect("nats://"+l.ledger.addr(), ledgerAuth.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), writepath.LedgerBucket)
	if err != nil {
		t.Fatal(err)
	}
	put := func(key, state string) {
		v := `{"key":"` + key + `","region":"eu","epoch":1,"state":"` + state + `"}`
		if _, err := kv.Create(context.Background(), writepath.LedgerKey(key), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	put("orphan", "claimed")
	put("done", "committed")

	us := l.start("us", func(c *writepath.Config) { c.Primary, c.Epoch = "us", 2 })
	mustAccept(t, us.url, "orphan", writeBody("o", 1, "x"))
	mustAccept(t, us.url, "done", writeBody("d", 1, "x"))
	l.settled()
	if got := l.stored("orphan"); len(got) != 1 || got[0].AppliedBy != "us" {
		t.Fatalf("orphaned claim: stored %+v, want taken over by us", got)
	}
	if got := l.stored("done"); len(got) != 0 {
		t.Fatalf("applied claim: stored %+v, want a dedupe hit", got)
	}
	if s := us.path.Stats(); s.DedupeHits != 1 {
		t.Fatalf("stats = %+v, want 1 dedupe hit", s)
	}
}
