// Package probe holds the RAG instruments of a drill: semantic stress ΔS
// and its zones, answer coverage, the λ_observe state over probe rounds and
// dual-home overlap. Everything here is pure: the engine asks the regions.
package probe

import (
	"context"
	"fmt"

	"github.com/regiondrill/regiondrill/internal/embed"
)

// Thresholds of the drill page.
const (
	StableBelow = 0.40 // ΔS below this is stable
	RiskFrom    = 0.60 // ΔS at or above this is high risk (the plan's delta_s_risk)
	AcceptMax   = 0.45 // acceptance: ΔS(question, retrieved) ≤ this
	CoverageMin = 0.70 // acceptance: coverage of the gold answer
)

// DeltaS is 1 − cos(unit(E(question)), unit(E(retrieved))). retrieved is what
// the region claims answers the question: its extracted answer sentence, not
// the concatenated chunks (see Evaluate).
func DeltaS(ctx context.Context, e embed.Embedder, question, retrieved string) (float64, error) {
	v, err := e.Embed(ctx, []string{question, retrieved})
	if err != nil {
		return 0, fmt.Errorf("probe: ΔS: %w", err)
	}
	if len(v) != 2 {
		return 0, fmt.Errorf("probe: ΔS: embedder returned %d vectors for 2 texts", len(v))
	}
	return embed.DeltaS(v[0], v[1]), nil
}

// Zone is the band a ΔS value falls in.
type Zone int

const (
	ZoneStable       Zone = iota + 1 // ΔS < 0.40
	ZoneTransitional                 // 0.40 ≤ ΔS < 0.60
	ZoneRisk                         // ΔS ≥ 0.60
)

// ZoneOf classifies ds.
func ZoneOf(ds float64) Zone {
	switch {
	case ds < StableBelow:
		return ZoneStable
	case ds < RiskFrom:
		return ZoneTransitional
	default:
		return ZoneRisk
	}
}

func (z Zone) String() string {
	switch z {
	case ZoneStable:
		return "stable"
	case ZoneTransitional:
		return "transitional"
	case ZoneRisk:
		return "risk"
	}
	return "unknown"
}

// MarshalText writes the zone's name.
func (z Zone) MarshalText() ([]byte, error) { return []byte(z.String()), nil }

// Coverage is the share of the gold answer's distinct content tokens
// (embed.Tokens: lowercased, stop words dropped, stemmed) that occur in
// retrieved. A gold answer without content tokens is covered (1).
func Coverage(goldAnswer, retrievedText string) float64 {
	gold := map[string]struct{}{}
	for _, t := range embed.Tokens(goldAnswer) {
		gold[t] = struct{}{}
	}
	if len(gold) == 0 {
		return 1
	}
	have := map[string]struct{}{}
	for _, t := range embed.Tokens(retrievedText) {
		have[t] = struct{}{}
	}
	n := 0
	for t := range gold {
		if _, ok := have[t]; ok {
			n++
		}
	}
	return float64(n) / float64(len(gold))
}
