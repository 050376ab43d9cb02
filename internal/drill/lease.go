package drill

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
)

// lockName names the drill lock's lease; faults' leases are named after
// their region.
const lockName = "drill lock"

// Fault leases are renewed every faultRenewEvery; a failed renewal is tried
// again after faultRetry, until the lease is lost. (Variables for tests.)
var (
	faultRenewEvery = 2 * time.Second
	faultRetry      = 500 * time.Millisecond
)

// leaseLost reports whether a lease of ttl last renewed at lastOK counts as
// lost at now. It is counted lost a margin before it runs out, so the drill
// stops while what the lease protects is still its own.
func leaseLost(lastOK, now time.Time, ttl time.Duration) bool {
	return now.Sub(lastOK) >= ttl-min(ttl/5, 2*time.Second)
}

// leases keeps the time of each lease's last good renewal and the fault
// watchers that renew them.
type leases struct {
	mu      sync.Mutex
	lastOK  map[string]time.Time
	cancels []context.CancelFunc
	wg      sync.WaitGroup
}

func (l *leases) renewed(name string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastOK == nil {
		l.lastOK = map[string]time.Time{}
	}
	l.lastOK[name] = at
}

func (l *leases) last(name string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastOK[name]
}

// leaseLost stops the drill: no further change, every undo runs, exit 1.
func (e *Engine) leaseLost(why string) {
	if !e.tripped.CompareAndSwap(false, true) {
		return // already stopping
	}
	e.record(journal.Stop, "", event.Stop{Condition: event.StopLeaseLost, Detail: why})
	select {
	case e.stop <- event.StopLeaseLost + ": " + why:
	default:
	}
}

// renewLock renews the drill lock (the sampler calls it every second). A
// failed renewal is tried again on the next call while the lease lasts;
// the lock taken by someone else, or the lease run out, stops the drill.
func (e *Engine) renewLock(ctx context.Context) {
	err := e.t.Lock(ctx, e.o.Owner, lockLease)
	now := e.now()
	switch {
	case err == nil:
		e.leases.renewed(lockName, now)
	case errors.Is(err, adapter.ErrLocked):
		e.leaseLost("the drill lock is held by another: " + err.Error())
	case leaseLost(e.leases.last(lockName), now, lockLease):
		e.leaseLost(fmt.Sprintf("the drill lock was not renewed for %s (lease %s): %v",
			now.Sub(e.leases.last(lockName)).Round(time.Second), lockLease, err))
	}
}

// errFaultGone means a fault the drill holds no longer exists.
var errFaultGone = errors.New("the fault is gone")

// watchFaults keeps the leases of the faults on region alive until restore
// stops it. Failed renewals are retried; a lease run out, or the fault
// gone, stops the drill: the outage it judges is over.
func (e *Engine) watchFaults(ctx context.Context, region string) {
	ctx, cancel := context.WithCancel(ctx)
	e.leases.mu.Lock()
	e.leases.cancels = append(e.leases.cancels, cancel)
	e.leases.wg.Add(1)
	e.leases.mu.Unlock()
	name := "faults on " + region
	e.leases.renewed(name, e.now())
	ttl := time.Duration(e.leaseMS()) * time.Millisecond
	go func() {
		defer e.leases.wg.Done()
		wait := faultRenewEvery
		for {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			err := e.renewFaults(rctx, region)
			rcancel()
			if ctx.Err() != nil {
				return
			}
			now := e.now()
			switch {
			case err == nil:
				e.leases.renewed(name, now)
				wait = faultRenewEvery
			case errors.Is(err, errFaultGone):
				e.leaseLost(fmt.Sprintf("the fault lease on %s: %v", region, err))
				return
			case leaseLost(e.leases.last(name), now, ttl):
				e.leaseLost(fmt.Sprintf("the fault lease on %s was not renewed for %s (lease %s): %v",
					region, now.Sub(e.leases.last(name)).Round(time.Second), ttl, err))
				return
			default:
				wait = faultRetry
			}
		}
	}()
}

// stopFaultWatch stops every fault watcher and waits for them.
func (e *Engine) stopFaultWatch() {
	e.leases.mu.Lock()
	cancels := e.leases.cancels
	e.leases.cancels = nil
	e.leases.mu.Unlock()
	for _, c := range cancels {
		c()
	}
	e.leases.wg.Wait()
}

// renewFaults renews the leases of the faults on a region; errFaultGone
// when there are none or one expired under it.
func (e *Engine) renewFaults(ctx context.Context, region string) error {
	fs, err := e.t.ActiveFaults(ctx)
	if err != nil {
		return err
	}
	proxies := e.t.Endpoints().Proxies[region]
	n := 0
	for _, f := range fs {
		if !slices.ContainsFunc(f.Targets, func(t string) bool { return slices.Contains(proxies, t) }) {
			continue
		}
		n++
		err := e.t.RenewFault(ctx, f.ID, time.Duration(e.leaseMS())*time.Millisecond)
		var he *adapter.Error
		if errors.As(err, &he) && he.Status == http.StatusNotFound {
			return fmt.Errorf("%w: %s expired", errFaultGone, f.ID)
		}
		if err != nil {
			return err
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: no fault on %s", errFaultGone, region)
	}
	return nil
}
