package rag_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/embed"
	"github.com/regiondrill/regiondrill/internal/lab/rag"
)

var buildTS = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func load(t testing.TB) *corpus.Corpus {
	t.Helper()
	c, err := corpus.Load()
	if err != nil {
		t.Fatalf("load corpus: %v", err)
	}
	return c
}

func build(t testing.TB, c *corpus.Corpus, s rag.Settings) *rag.Index {
	t.Helper()
	ix, err := rag.Build(context.Background(), c, s, embed.NewHash(embed.HashOptions{}), buildTS)
	if err != nil {
		t.Fatalf("build %+v: %v", s, err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func TestHash(t *testing.T) {
	base := rag.Settings{}
	h := rag.Hash("digest", base, "hash512-v1")
	if len(h) != 19 || h[:3] != "ih-" {
		t.Fatalf("hash %q is not ih-<16 hex>", h)
	}
	if same := rag.Hash("digest", rag.Settings{Analyzer: "en", Metric: rag.MetricCosine, K: rag.DefaultK, Chunking: "artifact"}, "hash512-v1"); same != h {
		t.Errorf("explicit defaults hash %s, want %s", same, h)
	}
	changed := map[string]string{
		"corpus":   rag.Hash("digest2", base, "hash512-v1"),
		"analyzer": rag.Hash("digest", rag.Settings{Analyzer: "simple"}, "hash512-v1"),
		"metric":   rag.Hash("digest", rag.Settings{Metric: rag.MetricDot}, "hash512-v1"),
		"k":        rag.Hash("digest", rag.Settings{K: 3}, "hash512-v1"),
		"chunking": rag.Hash("digest", rag.Settings{Chunking: "doc"}, "hash512-v1"),
		"embedder": rag.Hash("digest", base, "hash256-v1"),
	}
	for what, got := range changed {
		if got == h {
			t.Errorf("changing the %s does not change the hash", what)
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	err := rag.Settings{Analyzer: "french", Metric: "manhattan", K: -1, Chunking: "pages"}.Validate()
	if !errors.Is(err, rag.ErrSettings) {
		t.Fatalf("err = %v", err)
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 4 {
		t.Errorf("%d problems reported, want 4: %v", n, err)
	}
	if _, err := rag.Build(context.Background(), load(t), rag.Settings{Metric: "manhattan"}, embed.NewHash(embed.HashOptions{}), buildTS); !errors.Is(err, rag.ErrSettings) {
		t.Errorf("Build with a bad metric: err = %v", err)
	}
}

func TestSentences(t *testing.T) {
	got := rag.Sentences("Relay 1.5 shipped in 2019. It uses e.g. queues! Why? 40 km apart.")
	want := []string{"Relay 1.5 shipped in 2019.", "It uses e.g. queues!", "Why?", "40 km apart."}
	if !slices.Equal(got, want) {
		t.Fatalf("Sentences = %q, want %q", got, want)
	}
}

func TestBuildsAreReproducible(t *testing.T) {
	c := load(t)
	a, b := build(t, c, rag.Settings{}), build(t, c, rag.Settings{})
	if a.Meta() != b.Meta() {
		t.Fatalf("meta differs: %+v vs %+v", a.Meta(), b.Meta())
	}
	if m := a.Meta(); !m.BuildTS.Equal(buildTS) || m.Chunks == 0 || m.Analyzer != "en" || m.Metric != "cosine" || m.Embedder != "hash512-v1" {
		t.Errorf("meta %+v", m)
	}
	ctx := context.Background()
	for _, p := range c.Probes {
		ansA, citeA, chA, errA := a.Answer(ctx, p.Question, 0)
		ansB, citeB, chB, errB := b.Answer(ctx, p.Question, 0)
		if errA != nil || errB != nil {
			t.Fatalf("%s: %v / %v", p.ID, errA, errB)
		}
		if ansA != ansB || !slices.Equal(citeA, citeB) || !slices.Equal(chA, chB) {
			t.Errorf("%s: two builds answer differently", p.ID)
		}
	}
}

// quality is how an index does on the gold probes.
type quality struct {
	top1, top5 int
	answers    map[string]string // probe id → answer
	tops       map[string]string // probe id → top chunk id
	lists      map[string]string // probe id → top-5 chunk ids in order
}

func measure(t testing.TB, ix *rag.Index, c *corpus.Corpus) quality {
	t.Helper()
	ctx := context.Background()
	q := quality{answers: map[string]string{}, tops: map[string]string{}, lists: map[string]string{}}
	for _, p := range c.Probes {
		ans, _, chunks, err := ix.Answer(ctx, p.Question, 5)
		if err != nil {
			t.Fatalf("%s: %v", p.ID, err)
		}
		q.answers[p.ID] = ans
		for i, ch := range chunks {
			if slices.Contains(p.DocIDs, ch.DocID) {
				if i == 0 {
					q.top1++
				}
				q.top5++
				break
			}
		}
		if len(chunks) > 0 {
			q.tops[p.ID] = chunks[0].ChunkID
		}
		for _, ch := range chunks {
			q.lists[p.ID] += ch.ChunkID + " "
		}
	}
	return q
}

func TestGoldProbeHitRates(t *testing.T) {
	c := load(t)
	q := measure(t, build(t, c, rag.Settings{}), c)
	n := len(c.Probes)
	t.Logf("healthy index: top-1 %d/%d (%.0f%%), top-5 %d/%d (%.0f%%)", q.top1, n, pct(q.top1, n), q.top5, n, pct(q.top5, n))
	if pct(q.top5, n) < 90 || pct(q.top1, n) < 75 {
		t.Errorf("top-1 %.0f%% (want ≥ 75), top-5 %.0f%% (want ≥ 90)", pct(q.top1, n), pct(q.top5, n))
	}
}

// A follower built with the wrong analyzer or metric must answer some gold
// probes differently, or the drill could not see the mistake.
func TestWrongSettingsChangeAnswers(t *testing.T) {
	if raceEnabled {
		t.Skip("eight index builds: too slow under -race; run without it")
	}
	c := load(t)
	healthy := measure(t, build(t, c, rag.Settings{}), c)
	n := len(c.Probes)
	for _, s := range []rag.Settings{
		{Analyzer: "standard"}, {Analyzer: "simple"}, {Analyzer: "whitespace"}, {Analyzer: "keyword"},
		{Metric: rag.MetricDot}, {Metric: rag.MetricL2}, {Chunking: "doc"},
	} {
		name := fmt.Sprintf("analyzer=%s metric=%s chunking=%s", s.WithDefaults().Analyzer, s.WithDefaults().Metric, s.WithDefaults().Chunking)
		t.Run(name, func(t *testing.T) {
			q := measure(t, build(t, c, s), c)
			answers, tops, lists := 0, 0, 0
			for id, a := range healthy.answers {
				if q.lists[id] != healthy.lists[id] {
					lists++
				}
				if q.answers[id] != a {
					answers++
				}
				if q.tops[id] != healthy.tops[id] {
					tops++
				}
			}
			t.Logf("%s: differ from healthy: %d/%d answers, %d/%d top-1 chunks, %d/%d top-5 lists; top-1 %.0f%%, top-5 %.0f%%",
				name, answers, n, tops, n, lists, n, pct(q.top1, n), pct(q.top5, n))
			if lists == 0 {
				t.Errorf("%s answers every probe like the healthy index", name)
			}
		})
	}
}

func TestDotFavoursLongChunks(t *testing.T) {
	c := load(t)
	ctx := context.Background()
	cos, dot := build(t, c, rag.Settings{}), build(t, c, rag.Settings{Metric: rag.MetricDot})
	var lenCos, lenDot int
	for _, p := range c.Probes {
		a, _ := cos.Search(ctx, p.Question, 5)
		b, _ := dot.Search(ctx, p.Question, 5)
		for i := range a {
			lenCos += len(a[i].Text)
		}
		for i := range b {
			lenDot += len(b[i].Text)
		}
	}
	t.Logf("retrieved text length: cosine %d, dot %d", lenCos, lenDot)
	if lenDot <= lenCos {
		t.Errorf("dot retrieves %d characters, cosine %d: dot should favour longer chunks", lenDot, lenCos)
	}
}

func TestSearchConcurrent(t *testing.T) {
	c := load(t)
	ix := build(t, c, rag.Settings{})
	ctx := context.Background()
	want := make([]string, len(c.Probes))
	for i, p := range c.Probes {
		ans, _, _, err := ix.Answer(ctx, p.Question, 3)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = ans
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(c.Probes))
	for range 8 {
		wg.Go(func() {
			for i, p := range c.Probes {
				ans, _, _, err := ix.Answer(ctx, p.Question, 3)
				if err != nil || ans != want[i] {
					errs <- fmt.Errorf("%s: %q, %v", p.ID, ans, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func pct(a, n int) float64 { return 100 * float64(a) / float64(max(n, 1)) }
