package probe

import (
	"context"
	"slices"
	"strings"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/embed"
)

// Dualhome is the share of region A's top-k chunks (by doc and chunk id)
// that are also in region B's top-k. k ≤ 0 takes all of a. It is 0 when A
// returned nothing: no evidence of agreement.
func Dualhome(a, b []contract.Chunk, k int) float64 {
	return Overlap(TopChunks(a), TopChunks(b), k)
}

// Result is one gold probe asked of one region.
type Result struct {
	ProbeID  string   `json:"probe_id"`
	Question string   `json:"question"`
	DeltaS   float64  `json:"delta_s"`
	Coverage float64  `json:"coverage"`
	Lambda   Lambda   `json:"lambda"`
	TopDocs  []string `json:"top_docs"`
	// TopChunks are the retrieved chunks' "doc/chunk" ids in rank order, for
	// the dual-home overlap between regions.
	TopChunks []string `json:"top_chunks,omitempty"`
	Answer    string   `json:"answer"`
	// Grounded is the share of the gold answer's tokens in the answer
	// itself: an answer that only echoes the question scores low.
	Grounded  float64 `json:"grounded"`
	CitesGold bool    `json:"cites_gold"` // a citation names one of the probe's gold docs
	IndexHash string  `json:"index_hash"`
}

// Zone is the zone of the result's ΔS.
func (r Result) Zone() Zone { return ZoneOf(r.DeltaS) }

// Round is the result as one round for Observe.
func (r Result) Round() Round {
	return Round{DeltaS: r.DeltaS, TopDocs: r.TopDocs, Answer: r.Answer}
}

// Evaluate scores a region's answer to gold probe p with ruler, the
// embedder ΔS is measured with (Ruler: not the one the region ranks with).
// ΔS is taken between the question and the retrieved context, every chunk
// the region returned (1 when nothing was retrieved), as the seed defines
// it. Coverage is the share of the gold answer's tokens in that context;
// Grounded the share in the answer. λ is observed over prev (earlier rounds
// of the same question, oldest first) and this round, with risk as the ΔS
// risk threshold.
func Evaluate(ctx context.Context, ruler embed.Embedder, p corpus.Probe, resp contract.AskResponse, prev []Round, risk float64) (Result, error) {
	r := Result{
		ProbeID:   p.ID,
		Question:  p.Question,
		Answer:    resp.Answer,
		TopDocs:   TopDocs(resp.Chunks),
		TopChunks: TopChunks(resp.Chunks),
		IndexHash: resp.IndexHash,
		DeltaS:    1,
	}
	texts := make([]string, 0, len(resp.Chunks))
	for _, c := range resp.Chunks {
		texts = append(texts, c.Text)
	}
	retrieved := strings.Join(texts, "\n")
	if retrieved != "" {
		ds, err := DeltaS(ctx, ruler, p.Question, retrieved)
		if err != nil {
			return Result{}, err
		}
		r.DeltaS = ds
	}
	r.Coverage = Coverage(p.Answer, retrieved)
	r.Grounded = Coverage(p.Answer, resp.Answer)
	for _, c := range resp.Citations {
		if slices.Contains(p.DocIDs, c.DocID) {
			r.CitesGold = true
			break
		}
	}
	r.Lambda = Observe(append(slices.Clone(prev), r.Round()), risk)
	return r, nil
}

// TopChunks lists the chunks' "doc/chunk" ids in rank order.
func TopChunks(chunks []contract.Chunk) []string {
	out := make([]string, len(chunks))
	for i, c := range chunks {
		out[i] = c.DocID + "/" + c.ChunkID
	}
	return out
}

// Overlap is Dualhome over chunk ids: the share of a's first k ids that are
// among b's first k; 0 when a is empty.
func Overlap(a, b []string, k int) float64 {
	if k <= 0 {
		k = len(a)
	}
	a, b = a[:min(k, len(a))], b[:min(k, len(b))]
	if len(a) == 0 {
		return 0
	}
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return float64(n) / float64(len(a))
}

// TopDocs lists the distinct doc ids of chunks in rank order.
func TopDocs(chunks []contract.Chunk) []string {
	var out []string
	for _, c := range chunks {
		if !slices.Contains(out, c.DocID) {
			out = append(out, c.DocID)
		}
	}
	return out
}
