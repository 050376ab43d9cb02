package embed_test

import (
	"context"
	"testing"

	"github.com/regiondrill/regiondrill/internal/embed"
)

// LSA puts words that share contexts near each other, which a lexical
// embedder cannot: "price" and "cost" never meet in one text here, yet both
// occur with "monthly" and "tier".
func TestLSALearnsCooccurrence(t *testing.T) {
	texts := []string{
		"the monthly price of the tide tier is 399 dollars",
		"the monthly cost of the pond tier is 49 dollars",
		"the tide tier price includes private endpoints",
		"the pond tier cost includes support",
		"replication copies topics to a replica region",
		"the replica region holds a read-only copy of topics",
		"failover promotes the replica region",
		"consumers resume after failover near their offsets",
	}
	l, err := embed.NewLSA(texts, 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, err := l.Embed(ctx, []string{"price", "cost", "replica", "zzz-unknown"})
	if err != nil {
		t.Fatal(err)
	}
	same, other := embed.DeltaS(v[0], v[1]), embed.DeltaS(v[0], v[2])
	if !(same < 0.3 && other > 0.7) {
		t.Errorf("ΔS(price, cost) = %.2f, want < 0.3; ΔS(price, replica) = %.2f, want > 0.7", same, other)
	}
	if embed.Norm(v[3]) != 0 {
		t.Errorf("an unknown word embeds to %v, want the zero vector", v[3])
	}
	h, _ := embed.NewHash(embed.DefaultHashOptions).Embed(ctx, []string{"price", "cost"})
	if d := embed.DeltaS(h[0], h[1]); d < 0.9 {
		t.Errorf("the hash embedder puts price and cost at %.2f; the test assumes it cannot relate them", d)
	}
	again, _ := embed.NewLSA(texts, 3)
	w, _ := again.Embed(ctx, []string{"price"})
	if again.Name() != l.Name() || embed.DeltaS(v[0], w[0]) > 1e-6 || l.Dim() != 3 {
		t.Errorf("not deterministic: %s vs %s, ΔS %.6f", again.Name(), l.Name(), embed.DeltaS(v[0], w[0]))
	}
	if _, err := embed.NewLSA(texts[:1], 3); err == nil {
		t.Error("one text: want an error")
	}
}
