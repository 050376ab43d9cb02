package load

import (
	"math"
	"time"
)

// pacer is a constant-rate schedule that can be re-based when the rate
// changes: hit n (n >= n0) is due at t0 + (n-n0)/rate. It is a pure value,
// so pacing is a function of the hit number and elapsed time only.
type pacer struct {
	t0   time.Duration // time of hit n0
	n0   uint64
	rate float64 // hits per second; <= 0 means paused
}

// due returns when hit n is due, or -1 if the pacer is paused.
func (p pacer) due(n uint64) time.Duration {
	if p.rate <= 0 {
		return -1
	}
	if n < p.n0 {
		n = p.n0
	}
	return p.t0 + time.Duration(math.Round(float64(n-p.n0)*float64(time.Second)/p.rate))
}

// hits returns how many hits are due at or before elapsed (hits 0..k-1 with
// due <= elapsed).
func (p pacer) hits(elapsed time.Duration) uint64 {
	if p.rate <= 0 || elapsed < p.t0 {
		return p.n0
	}
	k := uint64(float64(elapsed-p.t0)*p.rate/float64(time.Second)) + 1
	// correct float rounding at exact boundaries
	for k > 0 && p.due(p.n0+k-1) > elapsed {
		k--
	}
	for p.due(p.n0+k) <= elapsed {
		k++
	}
	return p.n0 + k
}

// rebase returns a pacer with the new rate whose next hit n is due at the
// later of now and the old schedule's due time for n.
func (p pacer) rebase(n uint64, now time.Duration, rate float64) pacer {
	t := now
	if d := p.due(n); d > now {
		t = d
	}
	return pacer{t0: t, n0: n, rate: rate}
}
