package measure

import "math"

// The tests the judge decides with. Each returns a p-value or a rank; the
// significance is the caller's, stated where it is used.

// negligible is the relative size below which a further term of a tail sum
// cannot change it.
const negligible = 1e-17

// BinomialTail is P(X ≥ k) for X ~ Binomial(n, p): the p-value of seeing k
// or more failures in n requests when each fails with probability p.
func BinomialTail(n, k int, p float64) float64 {
	switch {
	case k <= 0:
		return 1
	case k > n || p <= 0:
		return 0
	case p >= 1:
		return 1
	}
	mode := int(float64(n+1) * p)
	if k > mode {
		// Terms fall from k upwards: sum them until they stop counting.
		t := math.Exp(logBinomPMF(n, k, p))
		sum := t
		for i := k; i < n && t > sum*negligible; i++ {
			t *= float64(n-i) / float64(i+1) * p / (1 - p)
			sum += t
		}
		return min(sum, 1)
	}
	// k is at or below the mode: 1 − P(X ≤ k−1), whose terms fall from k−1
	// downwards.
	t := math.Exp(logBinomPMF(n, k-1, p))
	sum := t
	for i := k - 1; i > 0 && t > sum*negligible; i-- {
		t *= float64(i) / float64(n-i+1) * (1 - p) / p
		sum += t
	}
	return max(1-sum, 0)
}

func logBinomPMF(n, k int, p float64) float64 {
	return logChoose(n, k) + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p)
}

func logChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// FisherGreater is the one-sided p-value of Fisher's exact test that the
// share hitA/nA is larger than hitB/nB: the chance, if both groups shared
// one rate, that group A would hold hitA or more of the hitA+hitB hits. It
// allows for the size of both samples, so a share of 0 in a short baseline
// does not make one hit afterwards stand out.
func FisherGreater(hitA, nA, hitB, nB int) float64 {
	if hitA <= 0 {
		return 1
	}
	total, hits := nA+nB, hitA+hitB
	top := min(nA, hits)
	if hitA > top {
		return 0
	}
	logP := func(x int) float64 {
		return logChoose(hits, x) + logChoose(total-hits, nA-x) - logChoose(total, nA)
	}
	// The hypergeometric terms rise to the mode and fall after it: once past
	// the mean, stop when they no longer count.
	mean := float64(nA) * float64(hits) / float64(total)
	sum := 0.0
	for x := hitA; x <= top; x++ {
		t := math.Exp(logP(x))
		sum += t
		if float64(x) > mean && t < sum*negligible {
			break
		}
	}
	return min(sum, 1)
}

// quantileRanks gives the 1-based ranks of the order statistics that bound
// the q-quantile of n samples from below and from above, each with
// confidence 1−alpha whatever the distribution: x(lo) ≤ quantile with
// probability ≥ 1−alpha, and x(hi) ≥ quantile likewise. lo is 0 when n is too
// small for a lower bound, hi is n+1 when it is too small for an upper one.
//
// The count B of samples below the true quantile is Binomial(n, q):
// x(l) ≤ quantile exactly when B ≥ l, and x(u) ≥ quantile when B < u.
func quantileRanks(n int, q, alpha float64) (lo, hi int) {
	// lo: the largest l with P(B ≥ l) ≥ 1−alpha (P falls as l grows).
	a, b := 0, n
	for a < b {
		m := (a + b + 1) / 2
		if BinomialTail(n, m, q) >= 1-alpha {
			a = m
		} else {
			b = m - 1
		}
	}
	lo = a
	// hi: the smallest u with P(B ≥ u) ≤ alpha, or n+1.
	a, b = 1, n+1
	for a < b {
		m := (a + b) / 2
		if BinomialTail(n, m, q) <= alpha {
			b = m
		} else {
			a = m + 1
		}
	}
	return lo, a
}

// MinSamplesForUpper is the smallest sample that gives an upper confidence
// bound (confidence 1−alpha) on the q-quantile: with fewer, even the largest
// sample may lie below the quantile too often.
func MinSamplesForUpper(q, alpha float64) int {
	// P(all n below the quantile) = q^n must be ≤ alpha.
	return int(math.Ceil(math.Log(alpha) / math.Log(q)))
}
