package judge

import (
	"testing"

	"github.com/regiondrill/regiondrill/internal/kind"
)

// Every target a drill kind lists is one the judge knows.
func TestEveryKindTargetIsJudged(t *testing.T) {
	for _, k := range kind.All() {
		for _, target := range k.Info().Targets {
			if _, ok := kindTargets[target]; !ok {
				t.Errorf("drill %s lists target %s, which the judge does not know", k.Info().Letter, target)
			}
		}
	}
}
