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
	if k <= 0 {
		k = len(a)
	}
	a, b = a[:min(k, len(a))], b[:min(k, len(b))]
	if len(a) == 0 {
		return 0
	}
	inB := map[contract.Citation]bool{}
	for _, c := range b {
		inB[contract.Citation{DocID: c.DocID, ChunkID: c.ChunkID}] = true
	}
	n := 0
	for _, c := range a {
		if inB[contract.Citation{DocID: c.DocID, ChunkID: c.ChunkID}] {
			n++
		}
	}
	return float64(n) / float64(len(a))
}

// Result is one gold probe asked of one region.
type Result struct {
	ProbeID   string   `json:"probe_id"`
	Question  string   `json:"question"`
	DeltaS    float64  `json:"delta_s"`
	Coverage  float64  `json:"coverage"`
	Lambda    Lambda   `json:"lambda"`
	TopDocs   []string `json:"top_docs"`
	Answer    string   `json:"answer"`
	CitesGold bool     `json:"cites_gold"` // a citation names one of the probe's gold docs
	IndexHash string   `json:"index_hash"`
}

// Zone is the zone of the result's ΔS.
func (r Result) Zone() Zone { return ZoneOf(r.DeltaS) }

// Round is the result as one round for Observe.
func (r Result) Round() Round {
	return Round{DeltaS: r.DeltaS, TopDocs: r.TopDocs, Answer: r.Answer}
}

// Evaluate scores a region's answer to gold probe p. ΔS is taken between
// the question and the answer text (the top chunk's text when the answer is
// empty; 1 when nothing was retrieved). Coverage is of the gold answer in the
// answer plus all retrieved chunk texts. λ is observed over prev (earlier
// rounds of the same question, oldest first) and this round, with risk as
// the ΔS risk threshold.
func Evaluate(ctx context.Context, e embed.Embedder, p corpus.Probe, resp contract.AskResponse, prev []Round, risk float64) (Result, error) {
	r := Result{
		ProbeID:   p.ID,
		Question:  p.Question,
		Answer:    resp.Answer,
		TopDocs:   TopDocs(resp.Chunks),
		IndexHash: resp.IndexHash,
		DeltaS:    1,
	}
	retrieved := resp.Answer
	if retrieved == "" && len(resp.Chunks) > 0 {
		retrieved = resp.Chunks[0].Text
	}
	if retrieved != "" {
		ds, err := DeltaS(ctx, e, p.Question, retrieved)
		if err != nil {
			return Result{}, err
		}
		r.DeltaS = ds
	}
	texts := []string{resp.Answer}
	for _, c := range resp.Chunks {
		texts = append(texts, c.Text)
	}
	r.Coverage = Coverage(p.Answer, strings.Join(texts, "\n"))
	for _, c := range resp.Citations {
		if slices.Contains(p.DocIDs, c.DocID) {
			r.CitesGold = true
			break
		}
	}
	r.Lambda = Observe(append(slices.Clone(prev), r.Round()), risk)
	return r, nil
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
