package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/regiondrill/regiondrill/internal/schema"
)

// MaxSize is the largest plan document Decode reads (1 MiB).
const MaxSize = 1 << 20

const (
	maxDepth     = 32     // nesting of objects and arrays
	maxYAMLNodes = 100000 // YAML nodes after expanding aliases
	// maxBlockColumn bounds YAML block nesting, which the parser handles
	// in worse than linear time.
	maxBlockColumn = 256
)

// Decode reads a JSON or YAML plan (by name's extension, else by sniffing),
// checks it through the plan's JSON Schema (Schema) and decodes it onto the
// defaults. Every problem the schema finds is reported with its JSON path:
// unknown fields, wrong types, and single fields out of their bounds,
// enums or patterns. Errors are of type Errors. Decode does not call
// Validate, which holds the rules across fields.
func Decode(data []byte, name string) (*Plan, error) {
	p, errs := decode(data, name)
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// Parse is Decode followed by Validate. A document whose only problems are
// values out of their bounds still decodes, so Validate runs on it too:
// every problem of both is reported at once, and where both find one at
// the same path Validate's words are kept (they name the registry and the
// fields it depends on).
func Parse(data []byte, name string) (*Plan, error) {
	p, errs := decode(data, name)
	if p == nil {
		return nil, errs
	}
	var verrs Errors
	if err := p.Validate(); err != nil {
		verrs = err.(Errors)
	}
	for _, e := range errs {
		if !slices.ContainsFunc(verrs, func(v *FieldError) bool { return v.Path == e.Path }) {
			verrs = append(verrs, e)
		}
	}
	if len(verrs) > 0 {
		return nil, verrs
	}
	return p, nil
}

// decode parses, checks and decodes a document. p is nil when it cannot be
// decoded (syntax, unknown fields, wrong types); otherwise errs holds the
// values the schema refuses, if any.
func decode(data []byte, name string) (p *Plan, errs Errors) {
	if len(data) > MaxSize {
		return nil, Errors{{Path: "$", Msg: fmt.Sprintf("plan is %d bytes; the limit is %d bytes (1 MiB)", len(data), MaxSize)}}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, Errors{{Path: "$", Msg: "plan is empty"}}
	}
	d := &doc{pos: map[string]int{}}
	var err *FieldError
	if isJSON(data, name) {
		err = d.parseJSON(data)
	} else {
		err = d.parseYAML(data)
	}
	if err != nil {
		return nil, Errors{err}
	}
	v, cerr := compiled()
	if cerr != nil {
		return nil, Errors{{Path: "$", Msg: cerr.Error()}}
	}
	decodable := true
	for _, pr := range v.Validate(d.root) {
		errs = append(errs, d.fieldError(pr))
		decodable = decodable && (pr.Kind == schema.Missing || pr.Kind == schema.Value)
	}
	d.sort(errs)
	if !decodable {
		return nil, errs
	}
	b, e := json.Marshal(d.root)
	p = Default()
	if e == nil {
		e = json.Unmarshal(b, p)
	}
	if e != nil && len(errs) > 0 {
		return nil, errs // a value out of its bounds is out of its Go type's too
	}
	if e != nil {
		return nil, Errors{{Path: "$", Msg: "cannot decode: " + e.Error()}}
	}
	p.fillDerived()
	return p, errs
}

func isJSON(data []byte, name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return true
	case ".yaml", ".yml":
		return false
	}
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// doc is a parsed document as JSON values (objects map[string]any, arrays
// []any, numbers json.Number), with the position of each value's path in
// document order so problems are reported in that order.
type doc struct {
	root any
	pos  map[string]int
}

func (d *doc) at(path string) { d.pos[path] = len(d.pos) }

// fieldError words a schema problem at its JSON path.
func (d *doc) fieldError(pr schema.Problem) *FieldError {
	path := "$"
	var v any = d.root
	for _, tok := range pr.Loc {
		if arr, ok := v.([]any); ok {
			i, _ := strconv.Atoi(tok)
			path = index(path, i)
			if i >= 0 && i < len(arr) {
				v = arr[i]
			}
			continue
		}
		path = child(path, tok)
		m, _ := v.(map[string]any)
		v = m[tok]
	}
	msg := pr.Msg
	switch {
	case pr.Kind == schema.Unknown:
		msg = fmt.Sprintf("unknown field %q%s", pr.Loc[len(pr.Loc)-1], didYouMean(pr.Loc[len(pr.Loc)-1], pr.Known()))
	case pr.Kind == schema.Type && pr.Got == nil:
		msg = "null is not allowed; omit the field to use its default"
	}
	return &FieldError{Path: path, Msg: msg}
}

// sort orders errors as their paths occur in the document; a missing
// field's error comes right after its object's.
func (d *doc) sort(es Errors) {
	rank := func(path string) int {
		for {
			if p, ok := d.pos[path]; ok {
				return p
			}
			i := strings.LastIndexAny(path, ".[")
			if i <= 0 {
				return 0
			}
			path = path[:i]
		}
	}
	slices.SortStableFunc(es, func(a, b *FieldError) int { return rank(a.Path) - rank(b.Path) })
}

// number checks a number's text and writes an integral value as an
// integer ("10.0" → "10"), so that an integer field decodes it as JSON
// Schema reads it.
func number(path, text string) (json.Number, *FieldError) {
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return "", &FieldError{Path: path, Msg: fmt.Sprintf("number %s is out of range", text)}
	}
	if strings.ContainsAny(text, ".eE") {
		if r, ok := new(big.Rat).SetString(text); ok && r.IsInt() && r.Num().IsInt64() {
			return json.Number(r.Num().String()), nil
		}
	}
	return json.Number(text), nil
}

func (d *doc) parseJSON(data []byte) *FieldError {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	root, err := d.jsonValue(dec, "$", 0)
	if err != nil {
		return err
	}
	if _, e := dec.Token(); e != io.EOF {
		return &FieldError{Path: "$", Msg: fmt.Sprintf("invalid JSON: unexpected data after the plan at byte %d", dec.InputOffset())}
	}
	d.root = root
	return nil
}

func jsonSyntax(dec *json.Decoder, e error) *FieldError {
	if errors.Is(e, io.EOF) {
		e = io.ErrUnexpectedEOF
	}
	return &FieldError{Path: "$", Msg: fmt.Sprintf("invalid JSON near byte %d: %v", dec.InputOffset(), e)}
}

func (d *doc) jsonValue(dec *json.Decoder, path string, depth int) (any, *FieldError) {
	d.at(path)
	tok, e := dec.Token()
	if e != nil {
		return nil, jsonSyntax(dec, e)
	}
	switch t := tok.(type) {
	case nil, bool, string:
		return t, nil
	case json.Number:
		return number(path, t.String())
	case json.Delim:
		if depth >= maxDepth {
			return nil, &FieldError{Path: path, Msg: fmt.Sprintf("nested deeper than %d levels", maxDepth)}
		}
		if t == '[' {
			arr := []any{}
			for dec.More() {
				it, err := d.jsonValue(dec, index(path, len(arr)), depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, it)
			}
			if _, e := dec.Token(); e != nil {
				return nil, jsonSyntax(dec, e)
			}
			return arr, nil
		}
		obj := map[string]any{}
		for dec.More() {
			kt, e := dec.Token()
			if e != nil {
				return nil, jsonSyntax(dec, e)
			}
			k, _ := kt.(string) // the decoder only yields string keys
			if _, dup := obj[k]; dup {
				return nil, &FieldError{Path: child(path, k), Msg: "duplicate key"}
			}
			v, err := d.jsonValue(dec, child(path, k), depth+1)
			if err != nil {
				return nil, err
			}
			obj[k] = v
		}
		if _, e := dec.Token(); e != nil {
			return nil, jsonSyntax(dec, e)
		}
		return obj, nil
	}
	return nil, &FieldError{Path: path, Msg: fmt.Sprintf("unexpected JSON token %v", tok)}
}

func (d *doc) parseYAML(data []byte) *FieldError {
	if yamlTooDeep(data) {
		return &FieldError{Path: "$", Msg: fmt.Sprintf("YAML is nested deeper than %d levels or indented past column %d", maxDepth, maxBlockColumn)}
	}
	f, e := parser.ParseBytes(data, 0)
	if e != nil {
		return &FieldError{Path: "$", Msg: "invalid YAML: " + firstLine(e.Error())}
	}
	if len(f.Docs) != 1 {
		return &FieldError{Path: "$", Msg: fmt.Sprintf("a plan is one YAML document; found %d", len(f.Docs))}
	}
	// Count nodes with aliases expanded before decoding, so a "billion
	// laughs" document is refused without building it.
	g := &aliasGuard{anchors: map[string]int{}}
	if g.size(f.Docs[0].Body, 0) > maxYAMLNodes {
		msg := fmt.Sprintf("YAML has more than %d nodes; refusing it", maxYAMLNodes)
		if g.aliases > 0 {
			msg = fmt.Sprintf("YAML expands to more than %d nodes through anchors and aliases; refusing it", maxYAMLNodes)
		}
		return &FieldError{Path: "$", Msg: msg}
	}
	if g.tooDeep {
		return &FieldError{Path: "$", Msg: fmt.Sprintf("nested deeper than %d levels", maxDepth)}
	}
	var v any
	if e := yaml.UnmarshalWithOptions(data, &v, yaml.UseOrderedMap()); e != nil {
		return &FieldError{Path: "$", Msg: "invalid YAML: " + firstLine(e.Error())}
	}
	root, err := d.fromYAML(v, "$", 0)
	d.root = root
	return err
}

// yamlTooDeep scans tokens (linear time) for nesting that would make the
// parser slow: flow collections deeper than maxDepth, or block indicators
// past maxBlockColumn (deep indentation, "- - - - ..." chains).
func yamlTooDeep(data []byte) bool {
	depth := 0
	for _, tk := range lexer.Tokenize(string(data)) {
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			if depth++; depth > maxDepth {
				return true
			}
		case token.SequenceEndType, token.MappingEndType:
			depth = max(depth-1, 0)
		case token.SequenceEntryType, token.MappingKeyType, token.MappingValueType:
			if depth == 0 && tk.Position != nil && tk.Position.Column > maxBlockColumn {
				return true
			}
		}
	}
	return false
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

type aliasGuard struct {
	anchors map[string]int
	aliases int
	tooDeep bool
}

// size counts n's nodes with aliases expanded, saturating above maxYAMLNodes.
func (g *aliasGuard) size(n ast.Node, depth int) int {
	if n == nil {
		return 0
	}
	if depth > 4*maxDepth {
		g.tooDeep = true
		return 1
	}
	sum := func(parts ...int) int {
		t := 1
		for _, p := range parts {
			t += p
			if t > maxYAMLNodes {
				return maxYAMLNodes + 1
			}
		}
		return t
	}
	switch x := n.(type) {
	case *ast.DocumentNode:
		return g.size(x.Body, depth)
	case *ast.MappingNode:
		t := 1
		for _, v := range x.Values {
			t = sum(t-1, g.size(v, depth+1))
		}
		return t
	case *ast.MappingValueNode:
		return sum(g.size(x.Key, depth+1), g.size(x.Value, depth+1))
	case *ast.MappingKeyNode:
		return sum(g.size(x.Value, depth+1))
	case *ast.SequenceNode:
		t := 1
		for _, v := range x.Values {
			t = sum(t-1, g.size(v, depth+1))
		}
		return t
	case *ast.TagNode:
		return sum(g.size(x.Value, depth+1))
	case *ast.AnchorNode:
		s := g.size(x.Value, depth+1)
		if x.Name != nil && x.Name.GetToken() != nil {
			g.anchors[x.Name.GetToken().Value] = s
		}
		return s
	case *ast.AliasNode:
		g.aliases++
		if x.Value != nil && x.Value.GetToken() != nil {
			return sum(g.anchors[x.Value.GetToken().Value])
		}
		return 1
	}
	return 1
}

func (d *doc) fromYAML(v any, path string, depth int) (any, *FieldError) {
	d.at(path)
	if depth > maxDepth {
		return nil, &FieldError{Path: path, Msg: fmt.Sprintf("nested deeper than %d levels", maxDepth)}
	}
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case int:
		return json.Number(strconv.Itoa(x)), nil
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), nil
	case uint64:
		return json.Number(strconv.FormatUint(x, 10)), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, &FieldError{Path: path, Msg: "must be a finite number"}
		}
		return number(path, strconv.FormatFloat(x, 'g', -1, 64))
	case []any:
		arr := make([]any, 0, len(x))
		for i, it := range x {
			c, err := d.fromYAML(it, index(path, i), depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, c)
		}
		return arr, nil
	case yaml.MapSlice:
		obj := make(map[string]any, len(x))
		for _, it := range x {
			k, ok := it.Key.(string)
			if !ok {
				return nil, &FieldError{Path: path, Msg: fmt.Sprintf("key %v is not a string", it.Key)}
			}
			if _, dup := obj[k]; dup {
				return nil, &FieldError{Path: child(path, k), Msg: "duplicate key"}
			}
			c, err := d.fromYAML(it.Value, child(path, k), depth+1)
			if err != nil {
				return nil, err
			}
			obj[k] = c
		}
		return obj, nil
	}
	return nil, &FieldError{Path: path, Msg: fmt.Sprintf("unsupported YAML value of type %T", v)}
}
