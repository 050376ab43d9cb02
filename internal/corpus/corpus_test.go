package corpus_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/corpus"
)

func load(t *testing.T) *corpus.Corpus {
	t.Helper()
	c, err := corpus.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestLoadSize(t *testing.T) {
	c := load(t)
	if c.Name == "" || c.Version == "" {
		t.Errorf("name %q version %q: want both set", c.Name, c.Version)
	}
	if n := len(c.Docs); n < 40 {
		t.Errorf("docs = %d, want >= 40", n)
	}
	if n := len(c.Chunks()); n < 300 {
		t.Errorf("chunks = %d, want >= 300", n)
	}
	if n := len(c.Probes); n < 60 {
		t.Errorf("probes = %d, want >= 60", n)
	}
	probed := map[string]bool{}
	for _, p := range c.Probes {
		for _, id := range p.DocIDs {
			probed[id] = true
		}
	}
	if len(probed) < 35 {
		t.Errorf("probes cover %d docs, want >= 35", len(probed))
	}
	for _, d := range c.Docs {
		if n := len(d.Chunks); n < 5 || n > 9 {
			t.Errorf("%s has %d chunks, want 5..9", d.ID, n)
		}
	}
}

func TestChunksDistinct(t *testing.T) {
	c := load(t)
	seen := map[string]string{}
	ids := map[string]bool{}
	for _, ch := range c.Chunks() {
		if ids[ch.ChunkID] {
			t.Errorf("chunk id %s repeated", ch.ChunkID)
		}
		ids[ch.ChunkID] = true
		k := corpus.Normalize(ch.Text)
		if prev, ok := seen[k]; ok {
			t.Errorf("chunk %s duplicates %s", ch.ChunkID, prev)
		}
		seen[k] = ch.ChunkID
		if w := len(strings.Fields(ch.Text)); w < 15 || w > 120 {
			t.Errorf("chunk %s has %d words, want 15..120", ch.ChunkID, w)
		}
	}
}

func TestProbesGrounded(t *testing.T) {
	c := load(t)
	for _, p := range c.Probes {
		if len(c.GoldChunks(p)) == 0 {
			t.Errorf("%s: answer %q is in no chunk of %v", p.ID, p.Answer, p.DocIDs)
		}
	}
}

func TestGoldChunksMissesUngroundedAnswer(t *testing.T) {
	c := load(t)
	p := c.Probes[0]
	p.Answer = "this sentence appears nowhere in the knowledge base"
	if got := c.GoldChunks(p); len(got) != 0 {
		t.Fatalf("GoldChunks = %v, want none", got)
	}
	// The right answer in the wrong doc is not gold either.
	p = c.Probes[0]
	p.DocIDs = []string{otherDoc(c, p.DocIDs)}
	if got := c.GoldChunks(p); len(got) != 0 {
		t.Fatalf("GoldChunks in wrong doc = %v, want none", got)
	}
}

func otherDoc(c *corpus.Corpus, not []string) string {
	for _, d := range c.Docs {
		if !strings.Contains(strings.Join(not, ","), d.ID) {
			return d.ID
		}
	}
	return ""
}

func TestChunkID(t *testing.T) {
	c := load(t)
	if got, want := c.ChunkID(16, 3), c.Docs[16].ID+"#3"; got != want {
		t.Errorf("ChunkID(16,3) = %q, want %q", got, want)
	}
	refs := c.Chunks()
	first := refs[0]
	if first.DocID != c.Docs[0].ID || first.ChunkID != c.Docs[0].ID+"#0" ||
		first.Title != c.Docs[0].Title || first.Text != c.Docs[0].Chunks[0] {
		t.Errorf("first chunk ref = %+v", first)
	}
	d, ok := c.Doc(c.Docs[5].ID)
	if !ok || d.Title != c.Docs[5].Title {
		t.Errorf("Doc(%s) = %v, %v", c.Docs[5].ID, d.Title, ok)
	}
	if _, ok := c.Doc("doc-none"); ok {
		t.Error("Doc(doc-none) found")
	}
}

func TestDigest(t *testing.T) {
	a, b := load(t), load(t)
	base := a.Digest()
	if len(base) != 64 {
		t.Fatalf("digest %q is not hex sha256", base)
	}
	if b.Digest() != base {
		t.Fatal("digest differs between two loads")
	}
	// Any single chunk edit changes the digest.
	for i := range b.Docs {
		for k := range b.Docs[i].Chunks {
			orig := b.Docs[i].Chunks[k]
			b.Docs[i].Chunks[k] = orig + " "
			if b.Digest() == base {
				t.Errorf("digest unchanged after editing %s", b.ChunkID(i, k))
			}
			b.Docs[i].Chunks[k] = orig
		}
	}
	if b.Digest() != base {
		t.Fatal("digest not restored after undoing edits")
	}
	mutations := map[string]func(c *corpus.Corpus){
		"probe answer":    func(c *corpus.Corpus) { c.Probes[3].Answer += "." },
		"probe doc ids":   func(c *corpus.Corpus) { c.Probes[3].DocIDs = append(c.Probes[3].DocIDs, "doc-001") },
		"doc title":       func(c *corpus.Corpus) { c.Docs[2].Title += "!" },
		"doc order":       func(c *corpus.Corpus) { c.Docs[0], c.Docs[1] = c.Docs[1], c.Docs[0] },
		"chunk boundary":  func(c *corpus.Corpus) { ch := c.Docs[0].Chunks; ch[1] = ch[0] + ch[1]; ch[0] = "" },
		"drop last probe": func(c *corpus.Corpus) { c.Probes = c.Probes[:len(c.Probes)-1] },
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			c := load(t)
			mutate(c)
			if c.Digest() == base {
				t.Error("digest unchanged")
			}
		})
	}
}

type docsFile struct {
	Name    string       `json:"name"`
	Version string       `json:"version"`
	Docs    []corpus.Doc `json:"docs"`
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	goodDocs := func() []corpus.Doc {
		return []corpus.Doc{
			{ID: "d1", Title: "One", Chunks: []string{"alpha chunk", "beta chunk"}},
			{ID: "d2", Title: "Two", Chunks: []string{"gamma chunk"}},
		}
	}
	goodProbes := func() []corpus.Probe {
		return []corpus.Probe{
			{ID: "p1", Question: "what is alpha?", DocIDs: []string{"d1"}, Answer: "alpha chunk"},
			{ID: "p2", Question: "what is gamma?", DocIDs: []string{"d2"}, Answer: "gamma chunk"},
		}
	}
	tests := []struct {
		name     string
		docs     func([]corpus.Doc) []corpus.Doc
		probes   func([]corpus.Probe) []corpus.Probe
		rawDocs  string
		wantErr  error
		wantText []string
	}{
		{name: "valid"},
		{
			name:     "duplicate doc id",
			docs:     func(d []corpus.Doc) []corpus.Doc { d[1].ID = "d1"; return d },
			wantErr:  corpus.ErrDuplicateID,
			wantText: []string{`docs[1].id "d1"`},
		},
		{
			name:     "duplicate probe id",
			probes:   func(p []corpus.Probe) []corpus.Probe { p[1].ID = "p1"; return p },
			wantErr:  corpus.ErrDuplicateID,
			wantText: []string{`probes[1].id "p1"`},
		},
		{
			name:     "dangling doc ref",
			probes:   func(p []corpus.Probe) []corpus.Probe { p[1].DocIDs = []string{"d2", "d9"}; return p },
			wantErr:  corpus.ErrDanglingRef,
			wantText: []string{"probes[1] (p2).doc_ids[1]", `"d9"`},
		},
		{
			name:     "no chunks",
			docs:     func(d []corpus.Doc) []corpus.Doc { d[1].Chunks = nil; return d },
			wantErr:  corpus.ErrMissing,
			wantText: []string{"docs[1] (d2).chunks"},
		},
		{
			name:     "blank chunk",
			docs:     func(d []corpus.Doc) []corpus.Doc { d[0].Chunks[1] = "  "; return d },
			wantErr:  corpus.ErrMissing,
			wantText: []string{"docs[0] (d1).chunks[1]"},
		},
		{
			name:     "empty answer",
			probes:   func(p []corpus.Probe) []corpus.Probe { p[0].Answer = ""; return p },
			wantErr:  corpus.ErrMissing,
			wantText: []string{"probes[0] (p1).answer"},
		},
		{
			name: "every problem reported",
			docs: func(d []corpus.Doc) []corpus.Doc { d[1].ID = "d1"; return d },
			probes: func(p []corpus.Probe) []corpus.Probe {
				p[0].Question = ""
				p[1].DocIDs = []string{"d2"}
				return p
			},
			wantErr:  corpus.ErrDanglingRef, // d2 no longer exists
			wantText: []string{"docs[1].id", "probes[0] (p1).question", `"d2"`},
		},
		{
			name:     "unknown field",
			rawDocs:  `{"name":"x","version":"1","docs":[{"id":"d1","title":"t","chunks":["c"],"body":"?"}]}`,
			wantErr:  corpus.ErrSyntax,
			wantText: []string{"body"},
		},
		{
			name:    "trailing data",
			rawDocs: `{"name":"x","version":"1","docs":[]} {}`,
			wantErr: corpus.ErrSyntax,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, probes := goodDocs(), goodProbes()
			if tt.docs != nil {
				docs = tt.docs(docs)
			}
			if tt.probes != nil {
				probes = tt.probes(probes)
			}
			raw := mustJSON(t, docsFile{Name: "test", Version: "1", Docs: docs})
			if tt.rawDocs != "" {
				raw = []byte(tt.rawDocs)
			}
			c, err := corpus.Parse(raw, mustJSON(t, probes))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if len(c.Chunks()) != 3 || c.Name != "test" {
					t.Fatalf("parsed %d chunks, name %q", len(c.Chunks()), c.Name)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err %q does not name %q", err, s)
				}
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Hello\tWorld \n", "hello world"},
		{"A  B\u00a0C", "a b c"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := corpus.Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
