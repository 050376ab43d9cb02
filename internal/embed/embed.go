// Package embed turns text into dense vectors for retrieval and for the ΔS
// probe. Hash is a deterministic lexical embedder that needs no model;
// OpenAI calls any OpenAI-compatible embeddings endpoint.
package embed

import (
	"context"
	"math"
)

// Embedder maps texts to vectors of Dim() floats. Vectors may be
// un-normalised: normalisation is the metric's job.
type Embedder interface {
	// Name identifies the embedder, its version and the settings that change
	// its output; it is part of INDEX_HASH.
	Name() string
	Dim() int
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Norm is the Euclidean length of v.
func Norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// Normalize returns a unit-length copy of v; a zero vector stays zero.
func Normalize(v []float32) []float32 {
	out := make([]float32, len(v))
	n := Norm(v)
	if n == 0 {
		return out
	}
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out
}

// Dot is the inner product of a and b over their common length.
func Dot(a, b []float32) float64 {
	n := min(len(a), len(b))
	var s float64
	for i := range n {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// Cosine is the cosine similarity of a and b; 0 when either is zero.
func Cosine(a, b []float32) float64 {
	na, nb := Norm(a), Norm(b)
	if na == 0 || nb == 0 {
		return 0
	}
	c := Dot(a, b) / (na * nb)
	return math.Max(-1, math.Min(1, c))
}

// DeltaS is the semantic stress 1 − cos(unit(a), unit(b)), in [0, 2]. A zero
// vector on either side gives 1: nothing in common is known.
func DeltaS(a, b []float32) float64 {
	return 1 - Cosine(Normalize(a), Normalize(b))
}
