package load

import (
	"testing"
	"time"
)

func TestPacerDue(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		p    pacer
		n    uint64
		want time.Duration
	}{
		{"first hit at start", pacer{rate: 100}, 0, 0},
		{"100/s tenth hit", pacer{rate: 100}, 10, 100 * ms},
		{"2000/s", pacer{rate: 2000}, 3999, 1999500 * time.Microsecond},
		{"fractional rate", pacer{rate: 3}, 1, 333333333},
		{"rebased", pacer{t0: time.Second, n0: 50, rate: 10}, 55, 1500 * ms},
		{"before base clamps", pacer{t0: time.Second, n0: 50, rate: 10}, 10, time.Second},
		{"paused", pacer{rate: 0}, 5, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.due(tt.n); got != tt.want {
				t.Fatalf("due(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

func TestPacerHits(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		p       pacer
		elapsed time.Duration
		want    uint64
	}{
		{"at start one hit is due", pacer{rate: 100}, 0, 1},
		{"just before second", pacer{rate: 100}, 10*ms - 1, 1},
		{"exactly second", pacer{rate: 100}, 10 * ms, 2},
		{"200/s over 2s", pacer{rate: 200}, 2*time.Second - 1, 400},
		{"rebased not yet", pacer{t0: time.Second, n0: 50, rate: 10}, 500 * ms, 50},
		{"rebased", pacer{t0: time.Second, n0: 50, rate: 10}, 1250 * ms, 53},
		{"paused", pacer{n0: 7, rate: 0}, time.Hour, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.hits(tt.elapsed); got != tt.want {
				t.Fatalf("hits(%v) = %d, want %d", tt.elapsed, got, tt.want)
			}
		})
	}
}

func TestPacerRebase(t *testing.T) {
	p := pacer{rate: 10} // hit 10 due at 1s
	// Raising the rate at 0.5s: hit 10 stays at its old due time (1s), then 100/s.
	q := p.rebase(10, 500*time.Millisecond, 100)
	if got := q.due(10); got != time.Second {
		t.Fatalf("due(10) after rebase = %v, want 1s", got)
	}
	if got := q.due(20); got != 1100*time.Millisecond {
		t.Fatalf("due(20) after rebase = %v, want 1.1s", got)
	}
	// Resuming from pause starts at now.
	r := pacer{rate: 0}.rebase(3, 2*time.Second, 1)
	if got := r.due(4); got != 3*time.Second {
		t.Fatalf("due(4) after resume = %v, want 3s", got)
	}
}
