package probe_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/embed"
	"github.com/regiondrill/regiondrill/internal/lab/rag"
	"github.com/regiondrill/regiondrill/internal/probe"
)

// dist summarises ΔS values.
type dist []float64

func (d dist) String() string {
	s := slices.Sorted(slices.Values(d))
	q := func(p float64) float64 { return s[int(p*float64(len(s)-1)+0.5)] }
	return fmt.Sprintf("n=%d min %.2f p10 %.2f median %.2f p90 %.2f max %.2f; ≤0.45: %.0f%%, ≥0.60: %.0f%%",
		len(s), s[0], q(0.1), q(0.5), q(0.9), s[len(s)-1], 100*d.share(func(x float64) bool { return x <= probe.AcceptMax }),
		100*d.share(func(x float64) bool { return x >= probe.RiskFrom }))
}

func (d dist) share(f func(float64) bool) float64 {
	n := 0
	for _, x := range d {
		if f(x) {
			n++
		}
	}
	return float64(n) / float64(len(d))
}

func (d dist) median() float64 {
	s := slices.Sorted(slices.Values(d))
	return s[len(s)/2]
}

// askAll asks every gold probe of an index built with s (ranked by the
// lab's hash embedder) and evaluates it with the ruler.
func askAll(t *testing.T, c *corpus.Corpus, ruler embed.Embedder, s rag.Settings) (dist, []probe.Result) {
	t.Helper()
	ctx := context.Background()
	ix, err := rag.Build(ctx, c, s, embed.NewHash(embed.DefaultHashOptions), time.Unix(0, 0).UTC())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	var d dist
	var results []probe.Result
	for _, p := range c.Probes {
		ans, cites, chunks, err := ix.Answer(ctx, p.Question, 10)
		if err != nil {
			t.Fatal(err)
		}
		resp := contract.AskResponse{Answer: ans, Citations: cites, Chunks: chunks, IndexHash: ix.Meta().IndexHash}
		r, err := probe.Evaluate(ctx, ruler, p, resp, nil, probe.RiskFrom)
		if err != nil {
			t.Fatal(err)
		}
		d = append(d, r.DeltaS)
		results = append(results, r)
	}
	return d, results
}

// TestMeasuredDistributions is the source of the figures in docs/RAG.md:
//
//	go test -v -run TestMeasuredDistributions ./internal/probe/
//
// ΔS is measured with the LSA ruler over top-10 retrieved context; the
// indexes rank with the lab's hash embedder, as the regions do.
func TestMeasuredDistributions(t *testing.T) {
	c, err := corpus.Load()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ruler, err := probe.Ruler(c)
	if err != nil {
		t.Fatal(err)
	}
	healthy, results := askAll(t, c, ruler, rag.Settings{})
	var grounded, echo dist
	citesGold := 0
	for i, r := range results {
		if r.CitesGold {
			citesGold++
		}
		grounded = append(grounded, r.Grounded)
		echo = append(echo, probe.Coverage(c.Probes[i].Answer, c.Probes[i].Question))
	}
	t.Logf("healthy (en, cosine) ΔS: %v; cites gold %d/%d", healthy, citesGold, len(results))
	t.Logf("grounded: healthy median %.2f, an answer echoing the question median %.2f", grounded.median(), echo.median())
	// Floors set just under the measured figures (docs/RAG.md).
	if healthy.median() > 0.30 || healthy.share(func(x float64) bool { return x <= probe.AcceptMax }) < 0.95 {
		t.Errorf("healthy ΔS %v: want median ≤ 0.30, ≥ 95%% at most 0.45", healthy)
	}
	if grounded.median() < probe.CoverageMin || echo.median() >= probe.CoverageMin {
		t.Errorf("grounded: healthy %.2f, echo %.2f: an echo must score under %.2f and a healthy answer above", grounded.median(), echo.median(), probe.CoverageMin)
	}
	for _, s := range []struct {
		rag.Settings
		caught bool // by ΔS drift > 0.03 or dual-home overlap < 0.8
	}{{rag.Settings{Analyzer: "keyword"}, true}, {rag.Settings{Analyzer: "whitespace"}, true}, {rag.Settings{Analyzer: "simple"}, true},
		{rag.Settings{Metric: rag.MetricL2}, true}, {rag.Settings{Metric: rag.MetricDot}, false}} {
		d, rs := askAll(t, c, ruler, s.Settings)
		drift, overlap := 0.0, 0.0
		for i := range rs {
			drift += math.Abs(rs[i].DeltaS - results[i].DeltaS)
			overlap += probe.Overlap(results[i].TopChunks, rs[i].TopChunks, 5)
		}
		drift, overlap = drift/float64(len(rs)), overlap/float64(len(rs))
		t.Logf("analyzer=%s metric=%s ΔS: %v; drift from healthy %.3f, dual-home top-5 overlap %.2f",
			s.WithDefaults().Analyzer, s.WithDefaults().Metric, d, drift, overlap)
		if caught := drift > 0.03 || overlap < 0.8; caught != s.caught {
			t.Errorf("analyzer=%s metric=%s: caught %v, want %v", s.WithDefaults().Analyzer, s.WithDefaults().Metric, caught, s.caught)
		}
	}
	// Unrelated: each question against a chunk of a doc that is not gold.
	var unrelated dist
	for i, p := range c.Probes {
		for j := range c.Docs {
			d := c.Docs[(i*7+j+1)%len(c.Docs)]
			if !slices.Contains(p.DocIDs, d.ID) {
				ds, err := probe.DeltaS(ctx, ruler, p.Question, d.Chunks[0])
				if err != nil {
					t.Fatal(err)
				}
				unrelated = append(unrelated, ds)
				break
			}
		}
	}
	t.Logf("unrelated chunk ΔS: %v", unrelated)
	if unrelated.share(func(x float64) bool { return x >= probe.RiskFrom }) < 0.95 {
		t.Errorf("unrelated chunks: %v; want ΔS ≥ 0.60 for ≥ 95%%", unrelated)
	}
}
