package corpus_test

import (
	"testing"

	"github.com/regiondrill/regiondrill/internal/corpus"
)

func TestLoad(t *testing.T) {
	c, err := corpus.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Docs) == 0 || len(c.Probes) == 0 || len(c.Chunks()) == 0 {
		t.Fatalf("empty corpus: %d docs %d probes", len(c.Docs), len(c.Probes))
	}
}
