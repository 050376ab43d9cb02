package agent

import (
	"testing"
	"time"
)

// The dead man's switch is a pure function of the agent's monotonic time:
// a table, no sleeps.
func TestLeaseLapses(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	cases := []struct {
		name    string
		renews  []int // ms after t0
		now     int
		lapsed  bool
		comment string
	}{
		{"fresh", nil, 500, false, "within the ttl of the assignment"},
		{"exactly ttl", nil, 1000, false, "lapses only past the ttl"},
		{"no renewal", nil, 1001, true, "the coordinator never renewed"},
		{"renewed", []int{800}, 1700, false, "a renewal restarts the ttl"},
		{"renewals stopped", []int{200, 400, 600}, 1601, true, "the coordinator died after 600 ms"},
		{"late renewal ignored order", []int{900, 300}, 1800, false, "an older renewal heard late does not shorten the lease"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLease(time.Second, t0)
			for _, r := range c.renews {
				l.renew(at(r))
			}
			if got := l.lapsed(at(c.now)); got != c.lapsed {
				t.Fatalf("lapsed at %d ms = %v, want %v (%s)", c.now, got, c.lapsed, c.comment)
			}
		})
	}
	if e := renewEvery(5 * time.Second); e != time.Second {
		t.Fatalf("renewEvery(5s) = %v, want five renewals per lease", e)
	}
}

// The estimate keeps the least-delayed sample and drops impossible ones.
func TestEstimatePicksMinimumDelay(t *testing.T) {
	const skew = 250_000_000 // the agent runs 250 ms ahead
	sample := func(t0, up, agent, down int64) Sample {
		return Sample{T0: t0, T1: t0 + up + skew, T2: t0 + up + agent + skew, T3: t0 + up + agent + down}
	}
	cases := []struct {
		name            string
		samples         []Sample
		offset, delay   int64
		samplesKept     int
		wantErrNoSample bool
	}{
		{"symmetric", []Sample{sample(0, 100_000, 10_000, 100_000)}, skew, 200_000, 1, false},
		{"queueing on one leg skews", []Sample{sample(0, 5_000_000, 0, 100_000), sample(10, 100_000, 0, 120_000)}, skew - 10_000, 220_000, 2, false},
		{"stepped clock dropped", []Sample{{T0: 0, T1: 5, T2: 100, T3: 50}, sample(0, 50_000, 0, 50_000)}, skew, 100_000, 1, false},
		{"nothing usable", []Sample{{T0: 0, T1: 5, T2: 100, T3: 50}}, 0, 0, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := Estimate(c.samples)
			if c.wantErrNoSample {
				if err != ErrNoSamples {
					t.Fatalf("want ErrNoSamples, got %v", err)
				}
				return
			}
			if err != nil || o.OffsetNS != c.offset || o.DelayNS != c.delay || o.Samples != c.samplesKept {
				t.Fatalf("got %+v %v, want offset %d delay %d from %d samples", o, err, c.offset, c.delay, c.samplesKept)
			}
		})
	}
}
