// Package corpus is the artifact the lab's regions index: a knowledge base and its gold probe set.
package corpus

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

//go:embed data/docs.json data/probes.json
var data embed.FS

// Doc is one knowledge-base article, already split into chunks.
type Doc struct {
	ID     string   `json:"id"`
	Title  string   `json:"title"`
	Chunks []string `json:"chunks"`
}

// Probe is one gold question of the probe set.
type Probe struct {
	ID       string   `json:"id"`
	Question string   `json:"question"`
	DocIDs   []string `json:"doc_ids"`
	// Answer is the gold answer snippet: a sentence or clause that appears
	// in (or is closely drawn from) one chunk of one of DocIDs.
	Answer string `json:"answer"`
}

// Corpus is a knowledge base plus the probe set that is asked against it.
type Corpus struct {
	Name    string
	Version string
	Docs    []Doc
	Probes  []Probe
}

// ChunkRef is one chunk flattened out of its doc, ready to be indexed.
type ChunkRef struct {
	DocID   string
	ChunkID string
	Title   string
	Text    string
}

// Errors returned (wrapped, naming the item) by Parse.
var (
	ErrSyntax      = errors.New("corpus: malformed json")
	ErrMissing     = errors.New("corpus: required field empty")
	ErrDuplicateID = errors.New("corpus: duplicate id")
	ErrDanglingRef = errors.New("corpus: probe references unknown doc")
)

type docsFile struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Docs    []Doc  `json:"docs"`
}

// Load returns the built-in corpus embedded from data/docs.json and data/probes.json.
func Load() (*Corpus, error) {
	docs, err := data.ReadFile("data/docs.json")
	if err != nil {
		return nil, fmt.Errorf("corpus: read docs: %w", err)
	}
	probes, err := data.ReadFile("data/probes.json")
	if err != nil {
		return nil, fmt.Errorf("corpus: read probes: %w", err)
	}
	return Parse(docs, probes)
}

// Parse decodes a docs file ({"name","version","docs":[...]}) and a probes
// file ([...]) strictly, then validates them. It returns every problem found,
// joined; each wraps one of the Err* sentinels and names the item.
func Parse(docs, probes []byte) (*Corpus, error) {
	var df docsFile
	if err := decodeStrict(docs, &df); err != nil {
		return nil, fmt.Errorf("%w: docs: %w", ErrSyntax, err)
	}
	var ps []Probe
	if err := decodeStrict(probes, &ps); err != nil {
		return nil, fmt.Errorf("%w: probes: %w", ErrSyntax, err)
	}
	c := &Corpus{Name: df.Name, Version: df.Version, Docs: df.Docs, Probes: ps}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after json value")
	}
	return nil
}

// Validate checks ids are present and unique, docs have non-empty chunks and
// probes have a question, an answer and only references to existing docs.
func (c *Corpus) Validate() error {
	var errs []error
	if len(c.Docs) == 0 {
		errs = append(errs, fmt.Errorf("%w: docs: no docs", ErrMissing))
	}
	docIDs := make(map[string]int, len(c.Docs))
	for i, d := range c.Docs {
		path := fmt.Sprintf("docs[%d]", i)
		if d.ID == "" {
			errs = append(errs, fmt.Errorf("%w: %s.id", ErrMissing, path))
		} else if j, dup := docIDs[d.ID]; dup {
			errs = append(errs, fmt.Errorf("%w: %s.id %q already used by docs[%d]", ErrDuplicateID, path, d.ID, j))
		} else {
			docIDs[d.ID] = i
		}
		if strings.TrimSpace(d.Title) == "" {
			errs = append(errs, fmt.Errorf("%w: %s (%s).title", ErrMissing, path, d.ID))
		}
		if len(d.Chunks) == 0 {
			errs = append(errs, fmt.Errorf("%w: %s (%s).chunks: no chunks", ErrMissing, path, d.ID))
		}
		for k, ch := range d.Chunks {
			if strings.TrimSpace(ch) == "" {
				errs = append(errs, fmt.Errorf("%w: %s (%s).chunks[%d]", ErrMissing, path, d.ID, k))
			}
		}
	}
	probeIDs := make(map[string]int, len(c.Probes))
	for i, p := range c.Probes {
		path := fmt.Sprintf("probes[%d]", i)
		if p.ID == "" {
			errs = append(errs, fmt.Errorf("%w: %s.id", ErrMissing, path))
		} else if j, dup := probeIDs[p.ID]; dup {
			errs = append(errs, fmt.Errorf("%w: %s.id %q already used by probes[%d]", ErrDuplicateID, path, p.ID, j))
		} else {
			probeIDs[p.ID] = i
		}
		if strings.TrimSpace(p.Question) == "" {
			errs = append(errs, fmt.Errorf("%w: %s (%s).question", ErrMissing, path, p.ID))
		}
		if strings.TrimSpace(p.Answer) == "" {
			errs = append(errs, fmt.Errorf("%w: %s (%s).answer", ErrMissing, path, p.ID))
		}
		if len(p.DocIDs) == 0 {
			errs = append(errs, fmt.Errorf("%w: %s (%s).doc_ids", ErrMissing, path, p.ID))
		}
		for k, id := range p.DocIDs {
			if _, ok := docIDs[id]; !ok {
				errs = append(errs, fmt.Errorf("%w: %s (%s).doc_ids[%d] %q", ErrDanglingRef, path, p.ID, k, id))
			}
		}
	}
	return errors.Join(errs...)
}

// Digest is the hex sha256 of a canonical, length-prefixed encoding of every
// doc and probe in order. Name and Version are not part of it.
func (c *Corpus) Digest() string {
	h := sha256.New()
	var n [8]byte
	put := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	putList := func(tag string, l []string) {
		put(tag)
		binary.BigEndian.PutUint64(n[:], uint64(len(l)))
		h.Write(n[:])
		for _, s := range l {
			put(s)
		}
	}
	put("corpus/v1")
	put("docs")
	binary.BigEndian.PutUint64(n[:], uint64(len(c.Docs)))
	h.Write(n[:])
	for _, d := range c.Docs {
		put(d.ID)
		put(d.Title)
		putList("chunks", d.Chunks)
	}
	put("probes")
	binary.BigEndian.PutUint64(n[:], uint64(len(c.Probes)))
	h.Write(n[:])
	for _, p := range c.Probes {
		put(p.ID)
		put(p.Question)
		putList("doc_ids", p.DocIDs)
		put(p.Answer)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ChunkID names chunk chunkIdx (zero-based) of doc docIdx, e.g. "doc-017#3".
// It panics if docIdx is out of range.
func (c *Corpus) ChunkID(docIdx, chunkIdx int) string {
	return c.Docs[docIdx].ID + "#" + strconv.Itoa(chunkIdx)
}

// Chunks flattens all docs into one list of chunks, in doc then chunk order.
func (c *Corpus) Chunks() []ChunkRef {
	var out []ChunkRef
	for i, d := range c.Docs {
		for k, text := range d.Chunks {
			out = append(out, ChunkRef{DocID: d.ID, ChunkID: c.ChunkID(i, k), Title: d.Title, Text: text})
		}
	}
	return out
}

// Doc returns the doc with the given id.
func (c *Corpus) Doc(id string) (Doc, bool) {
	for _, d := range c.Docs {
		if d.ID == id {
			return d, true
		}
	}
	return Doc{}, false
}

// GoldChunks returns the ids of the chunks of p's docs whose text contains
// p's answer (case-insensitive, whitespace-normalised). Empty means the
// answer is only paraphrased, not quoted.
func (c *Corpus) GoldChunks(p Probe) []string {
	want := Normalize(p.Answer)
	var out []string
	for i, d := range c.Docs {
		if !slices.Contains(p.DocIDs, d.ID) {
			continue
		}
		for k, text := range d.Chunks {
			if strings.Contains(Normalize(text), want) {
				out = append(out, c.ChunkID(i, k))
			}
		}
	}
	return out
}

// Normalize lower-cases s and collapses every run of white space to one space.
func Normalize(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), unicode.IsSpace), " ")
}
