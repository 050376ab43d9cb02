package measure

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveTail sums the binomial terms one by one.
func naiveTail(n, k int, p float64) float64 {
	sum := 0.0
	for i := k; i <= n; i++ {
		sum += math.Exp(logBinomPMF(n, i, p))
	}
	return sum
}

func TestBinomialTail(t *testing.T) {
	tests := []struct {
		n, k int
		p    float64
		want float64
	}{
		{80, 0, 0.01, 1},
		{80, 81, 0.01, 0},
		{80, 1, 0, 0},
		{80, 80, 1, 1},
		{80, 1, 0.01, 1 - math.Pow(0.99, 80)},
		{80, 4, 0.01, naiveTail(80, 4, 0.01)},
		{80, 40, 0.5, naiveTail(80, 40, 0.5)}, // at the mode
		{80, 20, 0.5, naiveTail(80, 20, 0.5)}, // far below it
		{2000, 45, 0.01, naiveTail(2000, 45, 0.01)},
		{200_000, 2_100, 0.01, naiveTail(200_000, 2_100, 0.01)},
	}
	for _, tt := range tests {
		got := BinomialTail(tt.n, tt.k, tt.p)
		if math.Abs(got-tt.want) > 1e-9*math.Max(1, tt.want) && math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("BinomialTail(%d, %d, %v) = %v, want %v", tt.n, tt.k, tt.p, got, tt.want)
		}
	}
}

func TestFisherGreater(t *testing.T) {
	tests := []struct {
		name               string
		hitA, nA, hitB, nB int
		want               float64
	}{
		// The lady tasting tea: 3 of her 4 "milk first" cups right.
		{"tea", 3, 4, 1, 4, 17.0 / 70},
		{"nothing after", 0, 800, 0, 240, 1},
		// One hit in 800 after none in 240: it lands in the larger group
		// 800/1040 of the time.
		{"one hit", 1, 800, 0, 240, 800.0 / 1040},
		{"all hits after", 10, 800, 0, 240, math.Exp(logChoose(800, 10) - logChoose(1040, 10))},
	}
	for _, tt := range tests {
		got := FisherGreater(tt.hitA, tt.nA, tt.hitB, tt.nB)
		if math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestQuantileRanks(t *testing.T) {
	// Ranks checked against exact sums of the binomial terms.
	tests := []struct {
		n      int
		lo, hi int
	}{
		{240, 220, 236},
		{89, 79, 90}, // too few for an upper bound: 0.95^89 > 0.01
		{90, 80, 90},
		{1, 0, 2},
	}
	for _, tt := range tests {
		lo, hi := quantileRanks(tt.n, 0.95, 0.01)
		if lo != tt.lo || hi != tt.hi {
			t.Errorf("n=%d: ranks %d, %d; want %d, %d", tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
	if got := MinSamplesForUpper(0.95, 0.01); got != 90 {
		t.Errorf("MinSamplesForUpper = %d, want 90", got)
	}
}

// The bounds hold as often as they promise: over many samples of a known
// distribution, each misses the true 95th percentile at most alpha of the time.
func TestQuantileBoundsCoverage(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, trials, alpha = 150, 4000, 0.05
	lo, hi := quantileRanks(n, 0.95, alpha)
	missLo, missHi := 0, 0
	s := make([]float64, n)
	for range trials {
		for i := range s {
			s[i] = r.Float64() // the true 95th percentile is 0.95
		}
		slices.Sort(s)
		if s[lo-1] > 0.95 {
			missLo++
		}
		if s[hi-1] < 0.95 {
			missHi++
		}
	}
	if float64(missLo)/trials > alpha*1.2 || float64(missHi)/trials > alpha*1.2 {
		t.Fatalf("misses: lower %d, upper %d of %d; promised ≤ %.0f%%", missLo, missHi, trials, alpha*100)
	}
}
