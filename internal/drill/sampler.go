package drill

import (
	"context"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
)

// sampleTimeout bounds one health sample and one lock renewal. Health
// answers of a busy 2-core machine take up to 0.7 s; a sample that takes
// longer than the 1 s tick only delays the next one.
const sampleTimeout = 2 * time.Second

func (e *Engine) startSampler(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		over := map[int]time.Time{}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			hctx, cancel := context.WithTimeout(ctx, sampleTimeout)
			hs, errs := e.healthQuick(hctx)
			cancel()
			e.seen.put(hs, errs, e.now())
			smp := event.Health{Regions: hs, Errors: errs, Rotation: e.rotation(ctx)}
			if e.pulse != nil {
				ps := e.pulse.Take()
				smp.Load = &ps
			}
			e.record(journal.Health, "", smp)
			lctx, lcancel := context.WithTimeout(ctx, sampleTimeout)
			e.renewLock(lctx)
			lcancel()
			e.checkStops(hs, over)
		}
	}()
	return done
}

// healthQuick reads every region's health concurrently.
func (e *Engine) healthQuick(ctx context.Context) (map[string]contract.Health, map[string]string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	hs, errs := map[string]contract.Health{}, map[string]string{}
	for _, r := range e.p.Regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := e.t.Health(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[r] = err.Error()
				return
			}
			hs[r] = h
		}()
	}
	wg.Wait()
	return hs, errs
}

// allInRotation says whether the router holds every region in rotation;
// a router without status has nothing to wait for.
func (e *Engine) allInRotation(ctx context.Context) bool {
	in, err := e.t.Rotation(ctx)
	if err != nil {
		return true
	}
	for _, ok := range in {
		if !ok {
			return false
		}
	}
	return true
}

// backlog is the total write and webhook backlog of every region, or -1
// when a region cannot be read. Regions are read one after the other, so a
// message moving between two regions can hide: callers need a stable zero.
func (e *Engine) backlog(ctx context.Context) int {
	hs, errs := e.healthQuick(ctx)
	if len(errs) > 0 {
		return -1
	}
	total := 0
	for _, h := range hs {
		total += h.Queue.Backlog + h.Queue.WebhookBacklog
	}
	return total
}
