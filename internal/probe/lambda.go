package probe

import "fmt"

// Lambda is the λ_observe state of one question over successive probe rounds.
// The zero value is not a state; Observe never returns it.
type Lambda int

const (
	Convergent Lambda = iota + 1 // →
	Divergent                    // ←
	Recursive                    // <>
	Chaotic                      // ×
)

var lambdaNames = map[Lambda][2]string{
	Convergent: {"convergent", "→"},
	Divergent:  {"divergent", "←"},
	Recursive:  {"recursive", "<>"},
	Chaotic:    {"chaotic", "×"},
}

// String is the state's name, e.g. "convergent".
func (l Lambda) String() string {
	if n, ok := lambdaNames[l]; ok {
		return n[0]
	}
	return fmt.Sprintf("lambda(%d)", int(l))
}

// Symbol is the page's glyph: →, ←, <> or ×.
func (l Lambda) Symbol() string { return lambdaNames[l][1] }

// MarshalText writes the name; the zero value is an error.
func (l Lambda) MarshalText() ([]byte, error) {
	if _, ok := lambdaNames[l]; !ok {
		return nil, fmt.Errorf("probe: invalid lambda %d", int(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText accepts a name or a symbol.
func (l *Lambda) UnmarshalText(b []byte) error {
	for k, n := range lambdaNames {
		if string(b) == n[0] || string(b) == n[1] {
			*l = k
			return nil
		}
	}
	return fmt.Errorf("probe: unknown lambda %q", b)
}

// Round is one probe of a question: its ΔS, the ranked distinct doc ids it
// retrieved and the answer text.
type Round struct {
	DeltaS  float64
	TopDocs []string
	Answer  string
}

// Parameters of Observe.
const (
	SameStateJaccard = 0.8  // top-doc Jaccard at or above which two rounds are one state
	DriftPerRound    = 0.02 // ΔS change per round treated as noise
)

// Observe gives the λ_observe state of rounds of one question, in order.
// Two rounds are in the same state when their answers are equal and their
// top-doc sets have Jaccard ≥ 0.8. Checked in this order:
//
//   - convergent: every round is in the state of the first and of the one
//     before it, ΔS never rises by more than 0.02 in a step, and every ΔS
//     is below risk.
//   - divergent: ΔS never falls and rises by more than 0.02 per step
//     overall; or the top-doc overlap with the first round never rises
//     while the rounds leave the first round's state and never return to
//     it (the retrieval drifts away and stays away).
//   - chaotic: ΔS ≥ risk on more than half the rounds.
//   - recursive: a round returns to the state of an earlier round after a
//     round in another state (A, B, A: oscillation or a loop).
//   - chaotic: anything else, changes without a pattern.
//
// One round is convergent when its ΔS is below risk and chaotic otherwise;
// no rounds are chaotic: no evidence is not convergence.
func Observe(rounds []Round, risk float64) Lambda {
	n := len(rounds)
	if n == 0 {
		return Chaotic
	}
	atRisk := 0
	for _, r := range rounds {
		if r.DeltaS >= risk {
			atRisk++
		}
	}
	if n == 1 {
		if atRisk == 0 {
			return Convergent
		}
		return Chaotic
	}
	same := func(i, j int) bool {
		return rounds[i].Answer == rounds[j].Answer && jaccard(rounds[i].TopDocs, rounds[j].TopDocs) >= SameStateJaccard
	}
	convergent := atRisk == 0
	for i := 1; i < n && convergent; i++ {
		convergent = same(0, i) && same(i-1, i) && rounds[i].DeltaS-rounds[i-1].DeltaS <= DriftPerRound
	}
	if convergent {
		return Convergent
	}
	if risingDeltaS(rounds) || drifting(rounds, same) {
		return Divergent
	}
	if 2*atRisk > n {
		return Chaotic
	}
	for j := 2; j < n; j++ {
		for i := 0; i < j-1; i++ {
			if !same(i, j) {
				continue
			}
			for m := i + 1; m < j; m++ {
				if !same(i, m) {
					return Recursive
				}
			}
		}
	}
	return Chaotic
}

func risingDeltaS(rounds []Round) bool {
	for i := 1; i < len(rounds); i++ {
		if rounds[i].DeltaS < rounds[i-1].DeltaS {
			return false
		}
	}
	n := len(rounds)
	return rounds[n-1].DeltaS-rounds[0].DeltaS > DriftPerRound*float64(n-1)
}

// drifting: the top-doc overlap with the first round never rises, and the
// rounds leave the first round's state and never come back to it.
func drifting(rounds []Round, same func(i, j int) bool) bool {
	prev := 1.0
	left := false
	for i, r := range rounds[1:] {
		j := jaccard(rounds[0].TopDocs, r.TopDocs)
		if j > prev {
			return false
		}
		prev = j
		if !same(0, i+1) {
			left = true
		} else if left {
			return false
		}
	}
	return left
}

// jaccard is |a∩b| / |a∪b| of two id sets; two empty sets are equal (1).
func jaccard(a, b []string) float64 {
	union := map[string]int{}
	for _, x := range a {
		union[x] |= 1
	}
	for _, x := range b {
		union[x] |= 2
	}
	if len(union) == 0 {
		return 1
	}
	both := 0
	for _, v := range union {
		if v == 3 {
			both++
		}
	}
	return float64(both) / float64(len(union))
}
