package probe

import (
	"sync"

	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/embed"
)

// RulerDim is the number of latent dimensions of the built-in ΔS ruler.
const RulerDim = 100

var rulers sync.Map // *corpus.Corpus → *embed.LSA

// Ruler is the built-in embedder ΔS is measured with: LSA learned from the
// corpus's chunks (title and text), so it is independent of the embedder a
// region ranks with and needs no model. It is built once per corpus.
func Ruler(c *corpus.Corpus) (embed.Embedder, error) {
	if r, ok := rulers.Load(c); ok {
		return r.(*embed.LSA), nil
	}
	var texts []string
	for _, ch := range c.Chunks() {
		texts = append(texts, ch.Title+"\n"+ch.Text)
	}
	l, err := embed.NewLSA(texts, RulerDim)
	if err != nil {
		return nil, err
	}
	r, _ := rulers.LoadOrStore(c, l)
	return r.(*embed.LSA), nil
}
