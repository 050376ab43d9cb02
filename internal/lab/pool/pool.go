// Package pool models a region's serverless instances: requests take a slot
// on a warm instance or wait in line; an autoscaler boots new instances, each
// paying a cold start, and retires idle ones down to a minimum (pre-warm).
package pool

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// ErrClosed is returned by Acquire once the pool is closed.
var ErrClosed = errors.New("pool closed")

// Config sets how instances scale. Zero values take the defaults.
type Config struct {
	ColdStart    time.Duration // boot time of a new instance; default 1.2s
	Concurrency  int           // requests one instance serves at once; default 2
	MinInstances int           // instances kept warm whatever the load; default 1
	MaxInstances int           // ceiling; default 64
	TargetUtil   float64       // share of slots the autoscaler aims to fill; default 0.7
	IdleWindow   time.Duration // demand is remembered this long before scaling in; default 5s
	Tick         time.Duration // autoscaler period; default 100ms
	// IgnoreMin makes MinInstances no floor (the lab's cold_start
	// misconfiguration: the pre-warm setting is ignored). The pool still
	// starts with MinInstances, as deployed, and scales in from there.
	IgnoreMin bool
}

func (c *Config) defaults() {
	if c.ColdStart <= 0 {
		c.ColdStart = 1200 * time.Millisecond
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	if c.MinInstances <= 0 {
		c.MinInstances = 1
	}
	if c.MaxInstances <= 0 {
		c.MaxInstances = 64
	}
	if c.TargetUtil <= 0 || c.TargetUtil > 1 {
		c.TargetUtil = 0.7
	}
	if c.IdleWindow <= 0 {
		c.IdleWindow = 5 * time.Second
	}
	if c.Tick <= 0 {
		c.Tick = 100 * time.Millisecond
	}
}

// Stats is the pool's state.
type Stats struct {
	Ready, Booting, Inflight, Queued int
	ColdStarts                       int64 // instances booted since start
	ColdServed                       int64 // requests that waited on a booting instance
	MinInstances, Concurrency        int
}

type waiter struct {
	ch   chan bool // receives cold
	done bool
}

// Pool is safe for concurrent use.
type Pool struct {
	mu         sync.Mutex
	cfg        Config
	ready      int
	booting    int
	inflight   int
	queue      []*waiter
	samples    []int // demand (in flight + queued) at each tick over IdleWindow
	coldStarts int64
	coldServed int64
	closed     bool
	stop       chan struct{}
	wg         sync.WaitGroup
}

// New starts a pool with its minimum instances already warm.
func New(cfg Config) *Pool {
	cfg.defaults()
	p := &Pool{cfg: cfg, stop: make(chan struct{})}
	// Deployed with MinInstances ready. Under IgnoreMin that is not a
	// floor: idle instances are retired down to one, and a later pre-warm
	// (SetMinInstances) does nothing.
	p.ready = cfg.MinInstances
	p.wg.Add(1)
	go p.loop()
	return p
}

func (p *Pool) minLocked() int {
	if p.cfg.IgnoreMin {
		return 1
	}
	return p.cfg.MinInstances
}

// Acquire takes a slot and returns its release func and whether the request
// waited on a cold start.
func (p *Pool) Acquire(ctx context.Context) (release func(), cold bool, err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, ErrClosed
	}
	if len(p.queue) == 0 && p.inflight < p.ready*p.cfg.Concurrency {
		p.inflight++
		p.mu.Unlock()
		return p.release, false, nil
	}
	w := &waiter{ch: make(chan bool, 1)}
	p.queue = append(p.queue, w)
	p.mu.Unlock()
	select {
	case cold := <-w.ch:
		return p.release, cold, nil
	case <-ctx.Done():
		p.mu.Lock()
		if w.done { // a slot was handed over while we gave up: give it back
			p.mu.Unlock()
			<-w.ch
			p.release()
			return nil, false, ctx.Err()
		}
		w.done = true
		for i, q := range p.queue {
			if q == w {
				p.queue = append(p.queue[:i], p.queue[i+1:]...)
				break
			}
		}
		p.mu.Unlock()
		return nil, false, ctx.Err()
	}
}

func (p *Pool) release() {
	p.mu.Lock()
	p.inflight--
	p.handOutLocked(false)
	p.mu.Unlock()
}

// handOutLocked gives free slots to waiters in arrival order.
func (p *Pool) handOutLocked(cold bool) {
	for len(p.queue) > 0 && p.inflight < p.ready*p.cfg.Concurrency {
		w := p.queue[0]
		p.queue = p.queue[1:]
		if w.done {
			continue
		}
		w.done = true
		p.inflight++
		if cold {
			p.coldServed++
		}
		w.ch <- cold
	}
}

// desiredLocked is how many instances a mean demand asks for.
func (p *Pool) desiredLocked(demand float64) int {
	n := int(math.Ceil(demand / (float64(p.cfg.Concurrency) * p.cfg.TargetUtil)))
	n = max(n, p.minLocked())
	return min(n, p.cfg.MaxInstances)
}

func (p *Pool) bootLocked() {
	p.booting++
	p.coldStarts++
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTimer(p.cfg.ColdStart)
		defer t.Stop()
		select {
		case <-t.C:
		case <-p.stop:
			return
		}
		p.mu.Lock()
		p.booting--
		p.ready++
		p.handOutLocked(true)
		p.mu.Unlock()
	}()
}

func (p *Pool) loop() {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.Tick)
	defer t.Stop()
	window := max(1, int(p.cfg.IdleWindow/p.cfg.Tick))
	second := max(1, int(time.Second/p.cfg.Tick))
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		p.samples = append(p.samples, p.inflight+len(p.queue))
		if len(p.samples) > window {
			p.samples = p.samples[len(p.samples)-window:]
		}
		// Like a serverless platform's autoscaler: scale out on the mean
		// demand of the last second (new instances pay a cold start, and the
		// requests queued meanwhile wait for them); scale in to the mean
		// demand of the idle window, keeping TargetUtil's headroom only.
		want := p.desiredLocked(p.meanLocked(0, len(p.samples)))
		for p.ready+p.booting < p.desiredLocked(p.meanLocked(len(p.samples)-second, len(p.samples))) {
			p.bootLocked()
		}
		// Scale in only on a full idle window of demand: a pool that has
		// just started knows nothing yet of the load it is about to take.
		if len(p.samples) == window && p.ready+p.booting > want && p.ready > 0 && p.inflight <= (p.ready-1)*p.cfg.Concurrency {
			p.ready--
		}
		p.mu.Unlock()
	}
}

func (p *Pool) meanLocked(from, to int) float64 {
	from = max(from, 0)
	if to <= from {
		return 0
	}
	sum := 0
	for _, v := range p.samples[from:to] {
		sum += v
	}
	return float64(sum) / float64(to-from)
}

// SetMinInstances changes the pre-warm floor; new instances boot at once.
func (p *Pool) SetMinInstances(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n < 1 {
		n = 1
	}
	p.cfg.MinInstances = n
	for p.ready+p.booting < p.desiredLocked(0) {
		p.bootLocked()
	}
}

// SetConcurrency changes the slots per instance.
func (p *Pool) SetConcurrency(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n < 1 {
		n = 1
	}
	p.cfg.Concurrency = n
	p.handOutLocked(false)
}

// Stats returns the current state.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Ready: p.ready, Booting: p.booting, Inflight: p.inflight, Queued: len(p.queue),
		ColdStarts: p.coldStarts, ColdServed: p.coldServed,
		MinInstances: p.cfg.MinInstances, Concurrency: p.cfg.Concurrency,
	}
}

// Close stops the autoscaler and refuses new requests; waiters are released
// with ErrClosed through their contexts' owners.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.stop)
	p.mu.Unlock()
	p.wg.Wait()
}
