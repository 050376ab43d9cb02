package rag

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/mapping"

	// Analyzers and tokenizers the mapping names.
	_ "github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	_ "github.com/blevesearch/bleve/v2/analysis/analyzer/simple"
	_ "github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/whitespace"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/embed"
)

// Meta is the stamp an index carries and a region's health exposes.
type Meta struct {
	IndexHash    string
	Metric       string
	Analyzer     string
	Embedder     string
	BuildTS      time.Time
	Chunks       int
	CorpusDigest string
}

// Index answers questions over one corpus. It is safe for concurrent use.
type Index struct {
	meta     Meta
	settings Settings
	embedder embed.Embedder
	text     bleve.Index
	chunks   []chunk
	byID     map[string]int
}

type chunk struct {
	docID, chunkID, title, text string
	vec                         []float32
	norm                        float64
}

// indexed is the bleve document of one chunk.
type indexed struct {
	Text string `json:"text"`
}

// candidates is how many hits each retriever contributes to the fusion.
const candidates = 40

// rrfK is the reciprocal-rank-fusion constant.
const rrfK = 60

// Build indexes c under s with e. now is the BUILD_TS stamp.
func Build(ctx context.Context, c *corpus.Corpus, s Settings, e embed.Embedder, now time.Time) (*Index, error) {
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	chunks := cut(c, s.Chunking)
	if len(chunks) == 0 {
		return nil, fmt.Errorf("rag: build: corpus %q has no chunks", c.Name)
	}
	texts := make([]string, len(chunks))
	for i, ch := range chunks {
		texts[i] = ch.title + ". " + ch.text
	}
	vecs, err := e.Embed(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("rag: build: embed chunks: %w", err)
	}
	if len(vecs) != len(chunks) {
		return nil, fmt.Errorf("rag: build: embedder returned %d vectors for %d chunks", len(vecs), len(chunks))
	}
	m, err := newMapping(s.Analyzer)
	if err != nil {
		return nil, fmt.Errorf("rag: build: mapping: %w", err)
	}
	text, err := bleve.NewMemOnly(m)
	if err != nil {
		return nil, fmt.Errorf("rag: build: open index: %w", err)
	}
	batch := text.NewBatch()
	byID := make(map[string]int, len(chunks))
	for i := range chunks {
		chunks[i].vec = vecs[i]
		chunks[i].norm = embed.Norm(vecs[i])
		byID[chunks[i].chunkID] = i
		if err := batch.Index(chunks[i].chunkID, indexed{Text: texts[i]}); err != nil {
			text.Close()
			return nil, fmt.Errorf("rag: build: index %s: %w", chunks[i].chunkID, err)
		}
	}
	if err := text.Batch(batch); err != nil {
		text.Close()
		return nil, fmt.Errorf("rag: build: index batch: %w", err)
	}
	digest := c.Digest()
	return &Index{
		meta: Meta{
			IndexHash:    Hash(digest, s, e.Name()),
			Metric:       string(s.Metric),
			Analyzer:     s.Analyzer,
			Embedder:     e.Name(),
			BuildTS:      now,
			Chunks:       len(chunks),
			CorpusDigest: digest,
		},
		settings: s,
		embedder: e,
		text:     text,
		chunks:   chunks,
		byID:     byID,
	}, nil
}

func cut(c *corpus.Corpus, chunking string) []chunk {
	var out []chunk
	if chunking == "doc" {
		for _, d := range c.Docs {
			out = append(out, chunk{docID: d.ID, chunkID: d.ID + "#all", title: d.Title, text: strings.Join(d.Chunks, " ")})
		}
		return out
	}
	for _, r := range c.Chunks() {
		out = append(out, chunk{docID: r.DocID, chunkID: r.ChunkID, title: r.Title, text: r.Text})
	}
	return out
}

func newMapping(analyzer string) (mapping.IndexMapping, error) {
	m := bleve.NewIndexMapping()
	if analyzer == "whitespace" {
		err := m.AddCustomAnalyzer("whitespace", map[string]any{
			"type":          custom.Name,
			"tokenizer":     whitespace.Name,
			"token_filters": []any{},
		})
		if err != nil {
			return nil, err
		}
	}
	field := bleve.NewTextFieldMapping()
	field.Analyzer = analyzer
	field.Store = false
	field.IncludeTermVectors = false
	doc := bleve.NewDocumentStaticMapping()
	doc.AddFieldMappingsAt("text", field)
	m.DefaultMapping = doc
	m.DefaultAnalyzer = analyzer
	return m, nil
}

// Meta returns the index stamp.
func (ix *Index) Meta() Meta { return ix.meta }

// Settings returns the settings the index was built with, defaults applied.
func (ix *Index) Settings() Settings { return ix.settings }

// Close releases the full-text index.
func (ix *Index) Close() error { return ix.text.Close() }

// Search returns the top k chunks (k ≤ 0: the default K) by reciprocal-rank
// fusion of the bleve match query and the dense ranking under the metric.
// Ties break on chunk id, so the order is deterministic.
func (ix *Index) Search(ctx context.Context, question string, k int) ([]contract.Chunk, error) {
	if k <= 0 {
		k = ix.settings.K
	}
	lexical, err := ix.lexical(ctx, question)
	if err != nil {
		return nil, err
	}
	dense, err := ix.dense(ctx, question)
	if err != nil {
		return nil, err
	}
	fused := map[int]float64{}
	for _, ranking := range [][]int{lexical, dense} {
		for rank, i := range ranking {
			fused[i] += 1 / float64(rrfK+rank+1)
		}
	}
	order := make([]int, 0, len(fused))
	for i := range fused {
		order = append(order, i)
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(fused[b], fused[a]); c != 0 {
			return c
		}
		return strings.Compare(ix.chunks[a].chunkID, ix.chunks[b].chunkID)
	})
	out := make([]contract.Chunk, 0, min(k, len(order)))
	for _, i := range order[:min(k, len(order))] {
		ch := ix.chunks[i]
		out = append(out, contract.Chunk{DocID: ch.docID, ChunkID: ch.chunkID, Score: fused[i], Text: ch.text})
	}
	return out, nil
}

// lexical ranks chunks by bleve score, ties by chunk id.
func (ix *Index) lexical(ctx context.Context, question string) ([]int, error) {
	q := bleve.NewMatchQuery(question)
	q.SetField("text")
	req := bleve.NewSearchRequestOptions(q, len(ix.chunks), 0, false)
	res, err := ix.text.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("rag: search text: %w", err)
	}
	type hit struct {
		i     int
		score float64
	}
	hits := make([]hit, 0, len(res.Hits))
	for _, h := range res.Hits {
		if i, ok := ix.byID[h.ID]; ok {
			hits = append(hits, hit{i, h.Score})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return strings.Compare(ix.chunks[a.i].chunkID, ix.chunks[b.i].chunkID)
	})
	out := make([]int, 0, candidates)
	for _, h := range hits[:min(candidates, len(hits))] {
		out = append(out, h.i)
	}
	return out, nil
}

// dense ranks chunks by the metric on raw vectors, ties by chunk id. A
// question with no content tokens (zero vector) ranks nothing.
func (ix *Index) dense(ctx context.Context, question string) ([]int, error) {
	vecs, err := ix.embedder.Embed(ctx, []string{question})
	if err != nil {
		return nil, fmt.Errorf("rag: embed question: %w", err)
	}
	if len(vecs) != 1 {
		return nil, fmt.Errorf("rag: embed question: %d vectors", len(vecs))
	}
	q := vecs[0]
	qn := embed.Norm(q)
	if qn == 0 {
		return nil, nil
	}
	scores := make([]float64, len(ix.chunks))
	order := make([]int, len(ix.chunks))
	for i, ch := range ix.chunks {
		order[i] = i
		switch ix.settings.Metric {
		case MetricDot:
			scores[i] = embed.Dot(q, ch.vec)
		case MetricL2:
			scores[i] = -l2(q, ch.vec)
		default:
			if ch.norm > 0 {
				scores[i] = embed.Dot(q, ch.vec) / (qn * ch.norm)
			}
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(scores[b], scores[a]); c != 0 {
			return c
		}
		return strings.Compare(ix.chunks[a].chunkID, ix.chunks[b].chunkID)
	})
	return order[:min(candidates, len(order))], nil
}

func l2(a, b []float32) float64 {
	var s float64
	for i := range min(len(a), len(b)) {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}
