package pool_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/lab/pool"
)

// burst sends n concurrent requests that each hold their slot for hold and
// returns how many waited on a cold start.
func burst(t *testing.T, p *pool.Pool, n int, hold time.Duration) int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	cold := 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel, c, err := p.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(hold)
			rel()
			if c {
				mu.Lock()
				cold++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return cold
}

func TestBurstBeyondWarmCapacityPaysColdStarts(t *testing.T) {
	p := pool.New(pool.Config{ColdStart: 60 * time.Millisecond, Concurrency: 1, MinInstances: 1})
	defer p.Close()
	start := time.Now()
	cold := burst(t, p, 6, 50*time.Millisecond)
	if cold == 0 {
		t.Fatal("a burst of 6 on one warm instance paid no cold start")
	}
	if time.Since(start) < 60*time.Millisecond {
		t.Fatal("burst finished faster than a cold start")
	}
	if s := p.Stats(); s.ColdStarts == 0 || s.Ready < 2 {
		t.Fatalf("pool did not scale out: %+v", s)
	}
}

func TestPrewarmAvoidsColdStarts(t *testing.T) {
	p := pool.New(pool.Config{ColdStart: 60 * time.Millisecond, Concurrency: 1, MinInstances: 1})
	defer p.Close()
	p.SetMinInstances(8)
	time.Sleep(150 * time.Millisecond) // let the pre-warmed instances boot
	if cold := burst(t, p, 6, 50*time.Millisecond); cold != 0 {
		t.Fatalf("%d requests paid a cold start after pre-warm", cold)
	}
}

func TestIgnoreMinMisconfiguration(t *testing.T) {
	p := pool.New(pool.Config{ColdStart: 60 * time.Millisecond, Concurrency: 1, IgnoreMin: true})
	defer p.Close()
	p.SetMinInstances(8)
	time.Sleep(150 * time.Millisecond)
	if cold := burst(t, p, 6, 50*time.Millisecond); cold == 0 {
		t.Fatal("pre-warm took effect although the pool ignores it")
	}
}

func TestScalesInWhenIdle(t *testing.T) {
	p := pool.New(pool.Config{ColdStart: 10 * time.Millisecond, Concurrency: 1, IdleWindow: 100 * time.Millisecond, Tick: 10 * time.Millisecond})
	defer p.Close()
	burst(t, p, 8, 20*time.Millisecond)
	deadline := time.Now().Add(2 * time.Second)
	for p.Stats().Ready > 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s := p.Stats(); s.Ready != 1 {
		t.Fatalf("idle pool kept %d instances", s.Ready)
	}
}

func TestCanceledWaiterLeavesNoSlotBehind(t *testing.T) {
	p := pool.New(pool.Config{ColdStart: time.Hour, Concurrency: 1})
	defer p.Close()
	rel, _, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := p.Acquire(ctx); err == nil {
		t.Fatal("acquire on a full pool did not time out")
	}
	rel()
	if s := p.Stats(); s.Inflight != 0 || s.Queued != 0 {
		t.Fatalf("slots leaked: %+v", s)
	}
}
