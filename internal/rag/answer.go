package rag

import (
	"context"
	"math"
	"strings"
	"unicode"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/embed"
)

// Answer searches the top k chunks and extracts the sentence that best
// overlaps the question: set-cosine of content tokens (embed.Tokens), plus a
// small bonus for the chunk's fused rank; ties go to the higher-ranked chunk,
// then the earlier sentence. The citation names that sentence's chunk. No
// chunk or no overlapping sentence gives an empty answer and no citation.
func (ix *Index) Answer(ctx context.Context, question string, k int) (string, []contract.Citation, []contract.Chunk, error) {
	chunks, err := ix.Search(ctx, question, k)
	if err != nil {
		return "", nil, nil, err
	}
	answer, cite := extract(question, chunks)
	if cite == nil {
		return "", nil, chunks, nil
	}
	return answer, []contract.Citation{*cite}, chunks, nil
}

func extract(question string, chunks []contract.Chunk) (string, *contract.Citation) {
	q := set(embed.Tokens(question))
	if len(q) == 0 || len(chunks) == 0 {
		return "", nil
	}
	var (
		best      string
		bestScore float64
		cite      *contract.Citation
	)
	top := chunks[0].Score
	for _, ch := range chunks {
		for _, sent := range Sentences(ch.Text) {
			s := set(embed.Tokens(sent))
			shared := 0
			for t := range s {
				if _, ok := q[t]; ok {
					shared++
				}
			}
			if shared == 0 {
				continue
			}
			score := float64(shared) / math.Sqrt(float64(len(q)*len(s)))
			if top > 0 {
				score += 0.1 * ch.Score / top
			}
			if score > bestScore {
				best, bestScore = sent, score
				cite = &contract.Citation{DocID: ch.DocID, ChunkID: ch.ChunkID}
			}
		}
	}
	return best, cite
}

func set(tokens []string) map[string]struct{} {
	m := make(map[string]struct{}, len(tokens))
	for _, t := range tokens {
		m[t] = struct{}{}
	}
	return m
}

// Sentences splits text after '.', '!' or '?' followed by white space and an
// upper-case letter or digit, so "e.g. the" and "1.5" stay whole.
func Sentences(text string) []string {
	var out []string
	runes := []rune(text)
	start := 0
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		if r != '.' && r != '!' && r != '?' {
			continue
		}
		j := i + 1
		for j < len(runes) && unicode.IsSpace(runes[j]) {
			j++
		}
		if j == i+1 && j < len(runes) {
			continue // no space after the mark
		}
		if j < len(runes) && !unicode.IsUpper(runes[j]) && !unicode.IsDigit(runes[j]) {
			continue
		}
		if s := strings.TrimSpace(string(runes[start : i+1])); s != "" {
			out = append(out, s)
		}
		start = j
		i = j - 1
	}
	if s := strings.TrimSpace(string(runes[start:])); s != "" {
		out = append(out, s)
	}
	return out
}
