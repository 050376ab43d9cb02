// Package rag is the retrieval index a lab region serves answers from: a
// bleve full-text index and dense vectors over one corpus artifact, fused by
// reciprocal rank, with a deterministic extractive answerer.
package rag

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Metric is how dense vectors are compared.
type Metric string

const (
	MetricCosine Metric = "cosine" // cosine of the raw vectors: length-blind
	MetricDot    Metric = "dot"    // inner product of the raw vectors: favours long chunks
	MetricL2     Metric = "l2"     // negative Euclidean distance of the raw vectors: favours short chunks
)

// Metrics lists the supported metrics.
var Metrics = []Metric{MetricCosine, MetricDot, MetricL2}

// Analyzers lists the supported bleve analyzers of the text field. "en" is
// unicode tokens, lowercase, English stop words and Porter stemming;
// "standard" drops the stemming; "simple" is letter runs lowercased;
// "whitespace" splits on spaces only and keeps case and punctuation;
// "keyword" keeps the whole text as one token.
var Analyzers = []string{"en", "standard", "simple", "keyword", "whitespace"}

// Chunkings lists how the artifact is cut: "artifact" indexes the chunks as
// the corpus ships them, "doc" indexes each document as one chunk.
var Chunkings = []string{"artifact", "doc"}

// Defaults of Settings.
const (
	DefaultAnalyzer = "en"
	DefaultMetric   = MetricCosine
	DefaultK        = 5
	DefaultChunking = "artifact"
)

// FusionVersion names the retrieval and answering algorithm; it is part of
// INDEX_HASH, so changing either must bump it.
const FusionVersion = "rrf60-n40-ans1"

// ErrSettings is returned, wrapped, for an unknown analyzer, metric or
// chunking or a negative K.
var ErrSettings = errors.New("rag: invalid settings")

// Settings are everything that changes what an index returns.
type Settings struct {
	Analyzer string // bleve analyzer of the text field; default "en"
	Metric   Metric // dense comparison; default cosine
	K        int    // chunks per answer when a request asks for 0; default 5
	Chunking string // default "artifact"
}

// WithDefaults fills empty fields with their defaults.
func (s Settings) WithDefaults() Settings {
	if s.Analyzer == "" {
		s.Analyzer = DefaultAnalyzer
	}
	if s.Metric == "" {
		s.Metric = DefaultMetric
	}
	if s.K == 0 {
		s.K = DefaultK
	}
	if s.Chunking == "" {
		s.Chunking = DefaultChunking
	}
	return s
}

// Validate returns every problem of s (after defaults), joined.
func (s Settings) Validate() error {
	s = s.WithDefaults()
	var errs []error
	if !slices.Contains(Analyzers, s.Analyzer) {
		errs = append(errs, fmt.Errorf("%w: analyzer %q not one of %s", ErrSettings, s.Analyzer, strings.Join(Analyzers, ", ")))
	}
	if !slices.Contains(Metrics, s.Metric) {
		errs = append(errs, fmt.Errorf("%w: metric %q not one of cosine, dot, l2", ErrSettings, s.Metric))
	}
	if s.K < 0 {
		errs = append(errs, fmt.Errorf("%w: k %d is negative", ErrSettings, s.K))
	}
	if !slices.Contains(Chunkings, s.Chunking) {
		errs = append(errs, fmt.Errorf("%w: chunking %q not one of %s", ErrSettings, s.Chunking, strings.Join(Chunkings, ", ")))
	}
	return errors.Join(errs...)
}

// Hash is the INDEX_HASH of an index: "ih-" and 16 hex digits of a SHA-256
// over the corpus digest, every setting (after defaults), the embedder name
// and FusionVersion. Equal hashes mean equal answers.
func Hash(corpusDigest string, s Settings, embedderName string) string {
	s = s.WithDefaults()
	h := sha256.New()
	for _, kv := range [][2]string{
		{"format", "regiondrill-index/1"},
		{"corpus", corpusDigest},
		{"analyzer", s.Analyzer},
		{"metric", string(s.Metric)},
		{"k", fmt.Sprint(s.K)},
		{"chunking", s.Chunking},
		{"embedder", embedderName},
		{"fusion", FusionVersion},
	} {
		fmt.Fprintf(h, "%s=%d:%s\n", kv[0], len(kv[1]), kv[1])
	}
	return "ih-" + hex.EncodeToString(h.Sum(nil))[:16]
}
