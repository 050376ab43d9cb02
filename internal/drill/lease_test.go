package drill

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
)

func TestLeaseLostOnlyWhenItRunsOut(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, c := range []struct {
		after time.Duration
		ttl   time.Duration
		lost  bool
	}{
		{time.Second, 15 * time.Second, false},
		{12 * time.Second, 15 * time.Second, false},
		{13 * time.Second, 15 * time.Second, true}, // 2 s before it runs out
		{7 * time.Second, 10 * time.Second, false},
		{8 * time.Second, 10 * time.Second, true},
		{400 * time.Millisecond, time.Second, false},
		{800 * time.Millisecond, time.Second, true},
	} {
		if got := leaseLost(t0, t0.Add(c.after), c.ttl); got != c.lost {
			t.Errorf("lease %s renewed %s ago: lost=%v, want %v", c.ttl, c.after, got, c.lost)
		}
	}
}

// Issue 14, finding 7: lock renewal errors were ignored. Now a failed
// renewal is retried while the lease lasts, and a lock lost stops the drill
// with lease_lost.
func TestLockRenewalFailureIsRetriedThenStopsTheDrill(t *testing.T) {
	f := newFake(t)
	e, path := f.engine("")
	now := time.Unix(1000, 0)
	e.o.Clock = func() time.Time { return now }
	e.leases.renewed(lockName, now)
	f.lockFails = true
	ctx := context.Background()
	for _, after := range []time.Duration{time.Second, 5 * time.Second, 12 * time.Second} {
		now = time.Unix(1000, 0).Add(after)
		e.renewLock(ctx)
		if e.tripped.Load() {
			t.Fatalf("stopped %s after the last renewal, within the 15 s lease", after)
		}
	}
	f.lockFails = false
	e.renewLock(ctx) // a renewal that works resets the lease
	now = now.Add(12 * time.Second)
	f.lockFails = true
	e.renewLock(ctx)
	if e.tripped.Load() {
		t.Fatal("stopped although the lease was renewed 12 s ago")
	}
	now = now.Add(2 * time.Second)
	e.renewLock(ctx)
	if !e.tripped.Load() {
		t.Fatal("the drill went on after its lock lease ran out")
	}
	select {
	case why := <-e.stop:
		if !strings.HasPrefix(why, event.StopLeaseLost) {
			t.Fatalf("stop reason %q", why)
		}
	default:
		t.Fatal("no stop signalled")
	}
	_ = e.j.Flush()
	if !journalHas(t, path, "stop", `"condition":"lease_lost"`) {
		t.Fatal("lease_lost not journaled")
	}
}

func TestLockTakenByAnotherStopsTheDrillAtOnce(t *testing.T) {
	f := newFake(t)
	e, _ := f.engine("")
	e.leases.renewed(lockName, time.Now())
	f.lockHolder = "the other drill"
	e.renewLock(context.Background())
	why := ""
	select {
	case why = <-e.stop:
	default:
	}
	if !strings.Contains(why, "the other drill") {
		t.Fatalf("stop: %q", why)
	}
}

// One failed GET /faults stopped fault renewal for good. Now it is retried
// and renewal goes on; a fault that disappears stops the drill.
func TestFaultRenewalSurvivesAFailedRead(t *testing.T) {
	defer func(e, r time.Duration) { faultRenewEvery, faultRetry = e, r }(faultRenewEvery, faultRetry)
	faultRenewEvery, faultRetry = 100*time.Millisecond, 20*time.Millisecond
	f := newFake(t)
	e, _ := f.engine("")
	f.faults = []contract.Fault{{ID: "f1", Kind: "blackhole", Targets: []string{"us-east"}}}
	f.faultsGETFails = 2
	e.watchFaults(context.Background(), "us-east")
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		n := f.renewals
		f.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) || e.tripped.Load() {
			t.Fatalf("renewals after a failed read: %d, tripped %v", n, e.tripped.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.mu.Lock()
	f.faults = nil // the fault expired under the drill
	f.mu.Unlock()
	for !e.tripped.Load() {
		if time.Now().After(deadline) {
			t.Fatal("a vanished fault did not stop the drill")
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.stopFaultWatch()
}
