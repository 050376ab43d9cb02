package writepath_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/writepath"
)

// A write accepted by a follower is forwarded to the primary, which is
// frozen before it applies it; the follower is then promoted and the old
// primary forwards its queue back. The write comes home to the region that
// first accepted it, within JetStream's duplicate window: it must be applied
// there, not taken for a duplicate of its own first publish and dropped.
// (The lost write of issue 11: w-1-1074 in drill E of the page plan.)
func TestForwardRoundTripIsApplied(t *testing.T) {
	l := newLab(t, writepath.Faults{}, "us", "eu")
	l.startAll()
	us, eu := l.r("us"), l.r("eu")

	us.path.SetFrozen(true)
	body := writeBody("rt", 1, "x")
	mustAccept(t, eu.url, "rt-1", body)
	waitFor(t, "forwarded to the frozen primary", func() bool {
		return eu.path.Stats().Backlog == 0 && us.path.Stats().Backlog == 1
	})

	l.promote("eu", 2)
	eu.path.SetFrozen(false)
	us.path.SetFrozen(false) // the old primary, now a follower, forwards its queue
	waitFor(t, "rt-1 applied", func() bool { return len(l.stored("rt-1")) == 1 })
	l.settled()
	if got := l.stored("rt-1"); len(got) != 1 || got[0].AppliedBy != "eu" || got[0].Epoch != 2 {
		t.Fatalf("rt-1 stored = %+v, want one record applied by eu at epoch 2", got)
	}
	waitFor(t, "one delivery", func() bool { return len(l.deliveriesOf(writepath.EventID("rt", 1))) == 1 })
}

// A primary loses its link to the ledger in the middle of an apply (it holds
// the claim and has not stored yet), is replaced by a promotion it never
// hears of, and the client's retry of the same key is applied by the new
// primary. When the link heals, the old primary must learn the new epoch
// before it applies anything: the write is stored once, the write it queued
// during the outage is forwarded and applied by the new primary, and its
// queue is not blocked by the claim it lost. (The split-brain of issue 11,
// drill D of the A–E suite.)
func TestStalePrimaryIsFencedAfterHeal(t *testing.T) {
	l := newLab(t, writepath.Faults{}, "us", "eu")
	usLedger := newToggle(t, l.ledger.addr())
	us := l.start("us", func(c *writepath.Config) { c.LedgerURL = "nats://" + usLedger.addr() })
	eu := l.start("eu", nil)

	// warm both regions' ledger connections
	mustAccept(t, us.url, "warm", writeBody("w", 1, "x"))
	waitFor(t, "warm-up applied", func() bool { return len(l.stored("warm")) == 1 })
	l.settled()

	var cut atomic.Bool
	writepath.SetApplyHook(us.path, func(key, stage string) {
		if key == "sb-1" && stage == "claimed" && !cut.Swap(true) {
			usLedger.setDown(true)
		}
	})
	body := writeBody("sb", 1, "x")
	mustAccept(t, us.url, "sb-1", body)
	waitFor(t, "us cut off mid-apply", cut.Load)

	// eu is promoted; us never hears of it
	if err := eu.path.Promote("eu", 2); err != nil {
		t.Fatal(err)
	}
	mustAccept(t, eu.url, "sb-1", body) // the client's retry through the survivor
	waitFor(t, "sb-1 applied by eu", func() bool {
		for _, w := range l.stored("sb-1") {
			if w.AppliedBy == "eu" {
				return true
			}
		}
		return false
	})
	mustAccept(t, us.url, "sb-2", writeBody("sb", 2, "y")) // queued at the stale primary

	usLedger.setDown(false)
	waitFor(t, "sb-2 applied", func() bool { return len(l.stored("sb-2")) == 1 })
	l.settled()
	if got := l.stored("sb-1"); len(got) != 1 || got[0].AppliedBy != "eu" || got[0].Epoch != 2 {
		t.Fatalf("sb-1 stored = %+v, want one record applied by eu at epoch 2", got)
	}
	if got := l.stored("sb-2"); got[0].AppliedBy != "eu" || got[0].Epoch != 2 {
		t.Fatalf("sb-2 stored = %+v, want applied by eu at epoch 2 (forwarded by the fenced us)", got)
	}
	if st := us.path.State(); st.Primary != "eu" || st.Epoch != 2 {
		t.Fatalf("us state after heal = %+v, want follower of eu at epoch 2", st)
	}
	for _, ev := range []string{writepath.EventID("sb", 1), writepath.EventID("sb", 2)} {
		waitFor(t, "one delivery of "+ev, func() bool { return len(l.deliveriesOf(ev)) == 1 })
	}
	l.settled()
	for _, ev := range []string{writepath.EventID("sb", 1), writepath.EventID("sb", 2)} {
		if n := len(l.deliveriesOf(ev)); n != 1 {
			t.Fatalf("deliveries of %s = %d, want 1", ev, n)
		}
	}
}

// One hostile or broken message cannot stop a queue: an over-long key is
// refused at the door (it used to become a broker subject over the server's
// limit and was retried forever), and a write that can never be applied goes
// to the dead-letter stream, counted in health, while later writes apply.
func TestNoMessageBlocksTheQueue(t *testing.T) {
	l := newLab(t, writepath.Faults{}, "us")
	us := l.start("us", nil)
	for _, n := range []int{writepath.MaxKeyLen + 1, 3200, 40 << 10} {
		key := strings.Repeat("k", n)
		if code, b := postWrite(t, us.url, key, writeBody("long", n, "x")); code != http.StatusBadRequest {
			t.Fatalf("%d-byte key: status %d (%s), want 400", n, code, b)
		}
	}
	if code, _ := postWrite(t, us.url, "tab\there", writeBody("t", 1, "x")); code != http.StatusBadRequest {
		t.Fatalf("key with a control character: status %d, want 400", code)
	}

	// an undecodable body handed over through the inbox
	req, _ := http.NewRequest(http.MethodPost, us.url+"/internal/inbox", strings.NewReader("{not json"))
	req.Header.Set(contract.HeaderIdempotencyKey, "poison")
	req.Header.Set("Authorization", "Bearer internal-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("inbox: %v %v, want 202", resp, err)
	}
	_ = resp.Body.Close()
	for i := range 3 {
		key := "after-" + strconv.Itoa(i)
		mustAccept(t, us.url, key, writeBody("after", i, "x"))
		waitFor(t, key+" applied", func() bool { return len(l.stored(key)) == 1 })
	}
	l.settled()
	if s := us.path.Stats(); s.DeadLetters != 1 || s.Backlog != 0 {
		t.Fatalf("stats = %+v, want 1 dead letter and an empty queue", s)
	}
}
