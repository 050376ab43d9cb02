package rag

import (
	"context"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/embed"
)

// Answer searches the top k chunks and extracts the span that best answers
// the question: candidate spans are the sentences and clauses (split at ';',
// ':' and ", and|but|while|so|which|whereas") of the chunks; a span scores
// the share of the question's content tokens (embed.Tokens) it holds, +0.2
// when the question asks for a quantity or time and the span has a digit,
// +0.1 times its chunk's fused score relative to the best, −0.005 per
// content token. Ties go to the higher-ranked chunk, then the earlier span.
// The citation names that span's chunk. No chunk or no overlapping span
// gives an empty answer and no citation.
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

// quantityCues mark questions whose answer is a number, date or duration.
var quantityCues = []string{"how many", "how much", "how long", "how often", "how quickly", "how old", "when ", "what year",
	"maximum", "minimum", "limit", "longest", "shortest", "largest", "smallest", "version", "price", "cost"}

func extract(question string, chunks []contract.Chunk) (string, *contract.Citation) {
	q := set(embed.Tokens(question))
	if len(q) == 0 || len(chunks) == 0 {
		return "", nil
	}
	lq := strings.ToLower(question)
	quantity := slices.ContainsFunc(quantityCues, func(c string) bool { return strings.Contains(lq, c) })
	var (
		best      string
		bestScore = math.Inf(-1)
		cite      *contract.Citation
	)
	top := chunks[0].Score
	for _, ch := range chunks {
		for _, span := range spans(ch.Text) {
			toks := embed.Tokens(span)
			shared := 0
			for t := range set(toks) {
				if _, ok := q[t]; ok {
					shared++
				}
			}
			if shared == 0 {
				continue
			}
			score := float64(shared)/float64(len(q)) - 0.005*float64(len(toks))
			if quantity && strings.ContainsFunc(span, unicode.IsDigit) {
				score += 0.2
			}
			if top > 0 {
				score += 0.1 * ch.Score / top
			}
			if score > bestScore {
				best, bestScore = span, score
				cite = &contract.Citation{DocID: ch.DocID, ChunkID: ch.ChunkID}
			}
		}
	}
	return best, cite
}

// spans are the sentences of text, each followed by its clauses when it
// has more than one.
func spans(text string) []string {
	var out []string
	for _, s := range Sentences(text) {
		out = append(out, s)
		if cl := Clauses(s); len(cl) > 1 {
			out = append(out, cl...)
		}
	}
	return out
}

// clauseBreak matches where a sentence splits into clauses.
var clauseBreak = regexp.MustCompile(`\s*[;:]\s+|,\s+(?:and|but|while|so|which|whereas)\s+`)

// Clauses splits a sentence at ';', ':' and at a comma followed by and, but,
// while, so, which or whereas. Clauses of fewer than three words are
// merged into the one before.
func Clauses(sentence string) []string {
	var out []string
	for _, c := range clauseBreak.Split(sentence, -1) {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if len(out) > 0 && len(strings.Fields(c)) < 3 {
			out[len(out)-1] += " " + c
			continue
		}
		out = append(out, c)
	}
	return out
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
