package agent

import (
	"sync"
	"time"
)

// lease is the agent's side of the dead man's switch: the coordinator
// renews it while the drill lives, and an agent whose lease lapsed stops
// sending load. Times are monotonic readings of the agent's own clock, so
// a clock offset or a step cannot stretch or shrink it.
type lease struct {
	mu   sync.Mutex
	ttl  time.Duration
	last time.Time
}

func newLease(ttl time.Duration, now time.Time) *lease { return &lease{ttl: ttl, last: now} }

// renew records a renewal heard at now.
func (l *lease) renew(now time.Time) {
	l.mu.Lock()
	if now.After(l.last) {
		l.last = now
	}
	l.mu.Unlock()
}

// lapsed reports whether nothing renewed the lease for longer than its ttl
// before now.
func (l *lease) lapsed(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return now.Sub(l.last) > l.ttl
}

// renewEvery is how often a coordinator renews a lease of ttl: five times
// per ttl, so two lost renewals in a row do not stop an agent.
func renewEvery(ttl time.Duration) time.Duration { return max(ttl/5, 50*time.Millisecond) }
