package load

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// askParts holds each tenant and question JSON-encoded once, so an ask body
// is a concatenation rather than a json.Marshal.
type askParts struct {
	tenants, questions [][]byte
}

func newAskParts(tenants, questions []string) askParts {
	enc := func(ss []string) [][]byte {
		out := make([][]byte, len(ss))
		for i, s := range ss {
			out[i], _ = json.Marshal(s) // a string always encodes
		}
		return out
	}
	return askParts{tenants: enc(tenants), questions: enc(questions)}
}

// body is the encoding of contract.AskRequest{Tenant: tenants[t], Question:
// questions[q]}, byte for byte what json.Marshal gives.
func (p askParts) body(t, q int) []byte {
	const a, b, c = `{"tenant":`, `,"question":`, `}`
	tn, qn := p.tenants[t], p.questions[q]
	out := make([]byte, 0, len(a)+len(tn)+len(b)+len(qn)+len(c))
	out = append(out, a...)
	out = append(out, tn...)
	out = append(out, b...)
	out = append(out, qn...)
	return append(out, c...)
}

// askBody returns the request body for tenant t and question q. Shared
// bodies are never modified.
func (g *Generator) askBody(t, q int) []byte {
	if g.askBodies != nil {
		return g.askBodies[t*len(g.cfg.Questions)+q]
	}
	return g.askParts.body(t, q)
}

// askFields is what the recorder needs from an AskResponse.
type askFields struct {
	region       []byte // may alias the body
	cached, cold bool
}

// scanAsk reads region, cached and cold from an AskResponse body without
// decoding the rest (chunks, citations, the answer). A body it does not
// handle (escapes in a key or in region, a value of an unexpected type)
// goes through encoding/json instead; ok is false if that fails. It is
// lenient about the contents of the fields it skips.
func scanAsk(data []byte) (a askFields, ok bool) {
	if a, ok := scanAskFast(data); ok {
		return a, true
	}
	var r contract.AskResponse
	if json.Unmarshal(data, &r) != nil {
		return askFields{}, false
	}
	return askFields{region: []byte(r.Region), cached: r.Cached, cold: r.Cold}, true
}

var (
	keyCached, keyCold, keyRegion = []byte("cached"), []byte("cold"), []byte("region")
	litTrue, litFalse             = []byte("true"), []byte("false")
)

// scanAskFast walks the top-level object. Like encoding/json it matches keys
// without regard to case and lets the last duplicate win.
func scanAskFast(d []byte) (a askFields, ok bool) {
	i := skipWS(d, 0)
	if i >= len(d) || d[i] != '{' {
		return a, false
	}
	i = skipWS(d, i+1)
	if i < len(d) && d[i] == '}' {
		return a, skipWS(d, i+1) == len(d)
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return a, false
		}
		key, next, plain := str(d, i)
		if !plain {
			return a, false
		}
		i = skipWS(d, next)
		if i >= len(d) || d[i] != ':' {
			return a, false
		}
		i = skipWS(d, i+1)
		if i >= len(d) {
			return a, false
		}
		switch {
		case bytes.EqualFold(key, keyCached), bytes.EqualFold(key, keyCold):
			var v bool
			switch {
			case bytes.HasPrefix(d[i:], litTrue):
				v, i = true, i+len(litTrue)
			case bytes.HasPrefix(d[i:], litFalse):
				i += len(litFalse)
			default:
				return a, false
			}
			if len(key) == len(keyCached) {
				a.cached = v
			} else {
				a.cold = v
			}
		case bytes.EqualFold(key, keyRegion):
			if d[i] != '"' {
				return a, false
			}
			if a.region, i, ok = str(d, i); !ok || !utf8.Valid(a.region) {
				return a, false // escapes or bytes encoding/json would replace
			}
		default:
			if i, ok = skipValue(d, i); !ok {
				return a, false
			}
		}
		i = skipWS(d, i)
		if i >= len(d) {
			return a, false
		}
		switch d[i] {
		case ',':
			i = skipWS(d, i+1)
		case '}':
			return a, skipWS(d, i+1) == len(d)
		default:
			return a, false
		}
	}
}

// str reads the string whose opening quote is at d[i]: its raw contents,
// the index after the closing quote, and whether it is complete and holds no
// escapes.
func str(d []byte, i int) ([]byte, int, bool) {
	e := bytes.IndexByte(d[i+1:], '"')
	if e < 0 {
		return nil, len(d), false
	}
	s := d[i+1 : i+1+e]
	return s, i + 2 + e, bytes.IndexByte(s, '\\') < 0
}

// skipString returns the index after the string starting at d[i], escapes
// included.
func skipString(d []byte, i int) (int, bool) {
	for j := i + 1; ; {
		e := bytes.IndexByte(d[j:], '"')
		if e < 0 {
			return len(d), false
		}
		j += e
		bs := 0
		for k := j - 1; k > i && d[k] == '\\'; k-- {
			bs++
		}
		j++
		if bs%2 == 0 {
			return j, true
		}
	}
}

// skipValue returns the index after the value starting at d[i].
func skipValue(d []byte, i int) (int, bool) {
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(d); j++ {
			switch d[j] {
			case '"':
				k, ok := skipString(d, j)
				if !ok {
					return len(d), false
				}
				j = k - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return len(d), false
	}
	j := i
	for j < len(d) && bytes.IndexByte([]byte(",}] \t\r\n"), d[j]) < 0 {
		j++
	}
	if j == i || bytes.IndexByte([]byte("-0123456789tfn"), d[i]) < 0 {
		return j, false
	}
	return j, true
}

func skipWS(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}
