package embed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// LSA is latent semantic analysis learned from a fixed set of texts: each
// text is a vector of TF-IDF weights over its Tokens, and a text embeds as
// the projection of that vector onto the Dim strongest directions of the
// training matrix (its truncated SVD). Words that occur in the same texts
// land near each other, so "price" and "cost" can agree where the lexical
// Hash only counts shared stems. It is deterministic and needs no model: the
// probes use it, built from the lab corpus, as a ruler independent of the
// embedder the regions rank with.
type LSA struct {
	name  string
	vocab map[string]int
	idf   []float64
	basis *mat.Dense // terms × dim: the top right singular vectors
	dim   int
}

// NewLSA learns an LSA embedder of at most dim dimensions from texts.
func NewLSA(texts []string, dim int) (*LSA, error) {
	if len(texts) < 2 || dim < 1 {
		return nil, errors.New("embed: lsa needs at least 2 texts and 1 dimension")
	}
	docs := make([]map[string]int, len(texts))
	df := map[string]int{}
	sum := sha256.New()
	for i, t := range texts {
		docs[i] = map[string]int{}
		for _, w := range Tokens(t) {
			if docs[i][w] == 0 {
				df[w]++
			}
			docs[i][w]++
		}
		fmt.Fprintf(sum, "%d:%s\n", len(t), t)
	}
	terms := make([]string, 0, len(df))
	for w := range df {
		terms = append(terms, w)
	}
	sort.Strings(terms)
	l := &LSA{vocab: make(map[string]int, len(terms)), idf: make([]float64, len(terms))}
	for i, w := range terms {
		l.vocab[w] = i
		l.idf[i] = math.Log(float64(len(texts)) / float64(df[w]))
	}
	a := mat.NewDense(len(texts), len(terms), nil)
	for i, d := range docs {
		a.SetRow(i, l.weights(d))
	}
	var svd mat.SVD
	if !svd.Factorize(a, mat.SVDThin) {
		return nil, errors.New("embed: lsa: the SVD did not converge")
	}
	var v mat.Dense
	svd.VTo(&v)
	l.dim = min(dim, v.RawMatrix().Cols)
	l.basis = mat.DenseCopyOf(v.Slice(0, len(terms), 0, l.dim))
	l.name = fmt.Sprintf("lsa%d-%s", l.dim, hex.EncodeToString(sum.Sum(nil))[:12])
	return l, nil
}

// weights is the unit TF-IDF vector of a bag of tokens: (1 + ln tf) · idf.
func (l *LSA) weights(bag map[string]int) []float64 {
	out := make([]float64, len(l.idf))
	norm := 0.0
	for w, tf := range bag {
		if i, ok := l.vocab[w]; ok {
			out[i] = (1 + math.Log(float64(tf))) * l.idf[i]
			norm += out[i] * out[i]
		}
	}
	if norm > 0 {
		norm = math.Sqrt(norm)
		for i := range out {
			out[i] /= norm
		}
	}
	return out
}

// Name identifies the embedder: its dimensions and a digest of its texts.
func (l *LSA) Name() string { return l.name }

// Dim is the number of latent dimensions.
func (l *LSA) Dim() int { return l.dim }

// Embed projects each text onto the latent space; a text with no known
// token is the zero vector.
func (l *LSA) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		bag := map[string]int{}
		for _, w := range Tokens(t) {
			bag[w]++
		}
		x := mat.NewVecDense(len(l.idf), l.weights(bag))
		var z mat.VecDense
		z.MulVec(l.basis.T(), x)
		v := make([]float32, l.dim)
		for j := range v {
			v[j] = float32(z.AtVec(j))
		}
		out[i] = v
	}
	return out, nil
}

var _ Embedder = (*LSA)(nil)
