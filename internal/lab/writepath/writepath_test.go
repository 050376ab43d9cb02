package writepath_test

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/writepath"
)

func TestIdempotencyKeyContract(t *testing.T) {
	l := newLab(t, writepath.Faults{}, "eu", "us")
	l.startAll()
	eu := l.r("eu")
	body := writeBody("order-1", 1, "hello")

	if code, _ := postWrite(t, eu.url, "", body); code != http.StatusBadRequest {
		t.Fatalf("missing key: status %d, want 400", code)
	}
	first := mustAccept(t, eu.url, "k-1", body)
	_, firstRaw := postWrite(t, eu.url, "k-1", body) // replay straight away
	if code, _ := postWrite(t, eu.url, "k-1", writeBody("order-1", 1, "other")); code != http.StatusUnprocessableEntity {
		t.Fatalf("same key, different body: status %d, want 422", code)
	}

	// five more replays, random delays, some concurrent, through both regions' owner
	rng := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	for i := range 5 {
		delay := time.Duration(rng.IntN(40)) * time.Millisecond
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(delay)
			code, raw := postWrite(t, eu.url, "k-1", body)
			if code != http.StatusAccepted || !bytes.Equal(raw, firstRaw) {
				t.Errorf("replay %d: status %d body %s, want 202 %s", i, code, raw, firstRaw)
			}
		}()
	}
	wg.Wait()
	if first.Region != "eu" || first.Sequence == 0 {
		t.Fatalf("first ack = %+v", first)
	}

	waitFor(t, "write applied", func() bool { return len(l.stored("k-1")) == 1 })
	l.settled()
	if got := l.stored("k-1"); len(got) != 1 || got[0].AppliedBy != "eu" || got[0].Epoch != 1 || got[0].Direct {
		t.Fatalf("stored = %+v, want one record applied by eu at epoch 1", got)
	}
	waitFor(t, "one delivery", func() bool { return len(l.deliveriesOf(writepath.EventID("order-1", 1))) == 1 })
	l.settled()
	if n := len(l.deliveriesOf(writepath.EventID("order-1", 1))); n != 1 {
		t.Fatalf("deliveries = %d, want 1", n)
	}
	if s := eu.path.Stats(); s.Applied != 1 {
		t.Fatalf("stats = %+v, want applied 1", s)
	}
}

func TestInFlightKeyIsConflict(t *testing.T) {
	l := newLab(t, writepath.Faults{}, "eu")
	eu := l.start("eu", nil)
	entered, release := make(chan struct{}), make(chan struct{})
	writepath.SetAcceptHook(eu.path, func(key string) {
		if key == "slow" {
			close(entered)
			<-release
		}
	})
	body := writeBody("e", 1, "p")
	done := make(chan int)
	go func() { code, _ := postWrite(t, eu.url, "slow", body); done <- code }()
	<-entered
	if code, _ := postWrite(t, eu.url, "slow", body); code != http.StatusConflict {
		t.Fatalf("key in flight: status %d, want 409", code)
	}
	close(release)
	if code := <-done; code != http.StatusAccepted {
		t.Fatalf("first request: status %d, want 202", code)
	}
}

func TestAcknowledgedWriteSurvivesRestart(t *testing.T) {
	l := newLab(t, writepath.Faults{}, "eu", "us")
	// us is primary but unreachable: eu keeps the write queued
	l.setPeer("us", closedURL(t))
	eu := l.start("eu", func(c *writepath.Config) { c.Primary = "us" })
	_, raw := postWrite(t, eu.url, "durable", writeBody("d", 1, "x"))
	waitFor(t, "backlog 1", func() bool { return eu.path.Stats().Backlog == 1 })
	eu.stop()

	eu = l.start("eu", func(c *writepath.Config) { c.Primary = "us" })
	if s := eu.path.Stats(); s.Backlog != 1 {
		t.Fatalf("after restart backlog = %d, want 1", s.Backlog)
	}
	if code, again := postWrite(t, eu.url, "durable", writeBody("d", 1, "x")); code != http.StatusAccepted || !bytes.Equal(again, raw) {
		t.Fatalf("replay after restart: %d %s, want 202 %s", code, again, raw)
	}
	if err := eu.path.Promote("eu", 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "applied after restart", func() bool { return len(l.stored("durable")) == 1 })
	l.settled()
	if got := l.stored("durable"); len(got) != 1 || got[0].Epoch != 2 {
		t.Fatalf("stored = %+v", got)
	}
	// the promotion is persisted: an older epoch cannot come back on reopen
	eu.stop()
	eu = l.start("eu", func(c *writepath.Config) { c.Primary = "us" })
	if st := eu.path.State(); st.Primary != "eu" || st.Epoch != 2 {
		t.Fatalf("state after reopen = %+v", st)
	}
}

func TestFollowerQueuesUntilPrimaryReachable(t *testing.T) {
	l := newLab(t, writepath.Faults{}, "eu", "us")
	l.startAll()
	eu, us := l.r("eu"), l.r("us")
	realEU := eu.url
	l.setPeer("eu", closedURL(t))

	mustAccept(t, us.url, "f-1", writeBody("f", 1, "x"))
	waitFor(t, "queued at follower", func() bool { return us.path.Stats().Backlog == 1 })
	before := us.path.Stats().OldestAgeSeconds
	l.clock.advance(90 * time.Second)
	if s := us.path.Stats(); s.Backlog != 1 || s.OldestAgeSeconds < before+90 {
		t.Fatalf("stats = %+v (before %.0f s), want backlog 1 and age grown by 90 s", s, before)
	}
	if got := l.stored("f-1"); len(got) != 0 {
		t.Fatalf("applied while primary unreachable: %+v", got)
	}

	l.setPeer("eu", realEU)
	waitFor(t, "drained", func() bool { return len(l.stored("f-1")) == 1 })
	l.settled()
	got := l.stored("f-1")
	if len(got) != 1 || got[0].AppliedBy != "eu" {
		t.Fatalf("stored = %+v, want exactly one, applied by eu", got)
	}
	if s := us.path.Stats(); s.Backlog != 0 || s.OldestAgeSeconds != 0 {
		t.Fatalf("follower stats after drain = %+v", s)
	}
	if n := len(l.deliveriesOf(writepath.EventID("f", 1))); n != 1 {
		t.Fatalf("deliveries = %d, want 1", n)
	}
}

func TestPromotionAndGlobalLedger(t *testing.T) {
	l := newLab(t, writepath.Faults{}, "eu", "us")
	l.startAll()
	eu, us := l.r("eu"), l.r("us")
	body := writeBody("g", 1, "x")
	mustAccept(t, eu.url, "g-1", body)
	waitFor(t, "applied by eu", func() bool { return len(l.stored("g-1")) == 1 })

	l.promote("us", 2)
	// a non-primary inbox refuses; the sender keeps the write
	req, _ := http.NewRequest(http.MethodPost, eu.url+"/internal/inbox", bytes.NewReader(body))
	req.Header.Set(contract.HeaderIdempotencyKey, "x")
	req.Header.Set("Authorization", "Bearer internal-secret")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("inbox on follower: %v %v, want 409", resp, err)
	}

	// the same key, accepted by the other region's queue, after promotion
	mustAccept(t, us.url, "g-1", body)
	// a new key through the old primary goes to the new one
	mustAccept(t, eu.url, "g-2", writeBody("g", 2, "y"))
	waitFor(t, "g-2 applied", func() bool { return len(l.stored("g-2")) == 1 })
	l.settled()
	if got := l.stored("g-1"); len(got) != 1 || got[0].AppliedBy != "eu" {
		t.Fatalf("g-1 stored = %+v, want one record (eu)", got)
	}
	if got := l.stored("g-2"); got[0].AppliedBy != "us" || got[0].Epoch != 2 {
		t.Fatalf("g-2 stored = %+v, want applied by us at epoch 2", got)
	}
	if s := us.path.Stats(); s.DedupeHits != 1 {
		t.Fatalf("us stats = %+v, want 1 dedupe hit", s)
	}
	if err := us.path.Promote("us", 1); err == nil {
		t.Fatal("promotion to an older epoch accepted")
	}
}

func TestLedgerUnreachableHoldsWrites(t *testing.T) {
	l := newLab(t, writepath.Faults{}, "eu")
	eu := l.start("eu", nil)
	mustAccept(t, eu.url, "warm", writeBody("w", 1, "x"))
	// applied and acked: stored, marked applied in the ledger, off the queue
	waitFor(t, "warm-up applied", func() bool { return len(l.stored("warm")) == 1 && eu.path.Stats().Backlog == 0 })

	l.ledger.setDown(true)
	mustAccept(t, eu.url, "l-1", writeBody("l", 1, "x"))
	// give the relay several attempts at the claim
	time.Sleep(time.Second)
	if got := l.stored("l-1"); len(got) != 0 {
		t.Fatalf("applied without a ledger claim: %+v", got)
	}
	if s := eu.path.Stats(); s.Backlog != 1 {
		t.Fatalf("backlog = %d, want 1", s.Backlog)
	}
	l.ledger.setDown(false)
	waitFor(t, "drained after ledger is back", func() bool { return len(l.stored("l-1")) == 1 })
	l.settled()
	if got := l.stored("l-1"); len(got) != 1 {
		t.Fatalf("stored = %+v, want 1", got)
	}
}

func TestEmitPolicyRoutesDeliveries(t *testing.T) {
	l := newLab(t, writepath.Faults{}, "eu", "us")
	l.startAll()
	l.setEmitFrom("us") // eu applies, only us may emit
	mustAccept(t, l.r("eu").url, "w-1", writeBody("w", 1, "x"))
	waitFor(t, "delivery", func() bool { return len(l.deliveriesOf(writepath.EventID("w", 1))) == 1 })
	l.settled()
	ds := l.deliveriesOf(writepath.EventID("w", 1))
	if len(ds) != 1 || ds[0].Region != "us" {
		t.Fatalf("deliveries = %+v, want one from us", ds)
	}
}
