package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
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
// applies defaults, then decodes strictly: every unknown field and type
// error is reported with its JSON path. Errors are of type Errors. Decode
// does not call Validate.
func Decode(data []byte, name string) (*Plan, error) {
	if len(data) > MaxSize {
		return nil, Errors{{Path: "$", Msg: fmt.Sprintf("plan is %d bytes; the limit is %d bytes (1 MiB)", len(data), MaxSize)}}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, Errors{{Path: "$", Msg: "plan is empty"}}
	}
	var (
		root *node
		err  *FieldError
	)
	if isJSON(data, name) {
		root, err = parseJSON(data)
	} else {
		root, err = parseYAML(data)
	}
	if err != nil {
		return nil, Errors{err}
	}
	var errs Errors
	checkNode(&errs, "$", root, reflect.TypeFor[Plan](), 0)
	if len(errs) > 0 {
		return nil, errs
	}
	var buf bytes.Buffer
	root.writeJSON(&buf)
	p := Default()
	if e := json.Unmarshal(buf.Bytes(), p); e != nil {
		return nil, Errors{{Path: "$", Msg: "cannot decode: " + e.Error()}}
	}
	p.fillDerived()
	return p, nil
}

// Parse is Decode followed by Validate.
func Parse(data []byte, name string) (*Plan, error) {
	p, err := Decode(data, name)
	if err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
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

type kind int

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kArray
	kObject
)

func (k kind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// node is a parsed document, format-independent, keys in document order.
type node struct {
	kind  kind
	b     bool
	s     string // string value, or number text
	items []*node
	keys  []string
	vals  []*node
}

func (n *node) writeJSON(w *bytes.Buffer) {
	switch n.kind {
	case kNull:
		w.WriteString("null")
	case kBool:
		w.WriteString(strconv.FormatBool(n.b))
	case kNumber:
		w.WriteString(n.s)
	case kString:
		b, _ := json.Marshal(n.s) // a string always marshals
		w.Write(b)
	case kArray:
		w.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				w.WriteByte(',')
			}
			it.writeJSON(w)
		}
		w.WriteByte(']')
	case kObject:
		w.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				w.WriteByte(',')
			}
			b, _ := json.Marshal(k)
			w.Write(b)
			w.WriteByte(':')
			n.vals[i].writeJSON(w)
		}
		w.WriteByte('}')
	}
}

func parseJSON(data []byte) (*node, *FieldError) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := jsonValue(dec, "$", 0)
	if err != nil {
		return nil, err
	}
	if _, e := dec.Token(); e != io.EOF {
		return nil, &FieldError{Path: "$", Msg: fmt.Sprintf("invalid JSON: unexpected data after the plan at byte %d", dec.InputOffset())}
	}
	return n, nil
}

func jsonSyntax(dec *json.Decoder, e error) *FieldError {
	if errors.Is(e, io.EOF) {
		e = io.ErrUnexpectedEOF
	}
	return &FieldError{Path: "$", Msg: fmt.Sprintf("invalid JSON near byte %d: %v", dec.InputOffset(), e)}
}

func jsonValue(dec *json.Decoder, path string, depth int) (*node, *FieldError) {
	tok, e := dec.Token()
	if e != nil {
		return nil, jsonSyntax(dec, e)
	}
	switch t := tok.(type) {
	case nil:
		return &node{kind: kNull}, nil
	case bool:
		return &node{kind: kBool, b: t}, nil
	case json.Number:
		return &node{kind: kNumber, s: t.String()}, nil
	case string:
		return &node{kind: kString, s: t}, nil
	case json.Delim:
		if depth >= maxDepth {
			return nil, &FieldError{Path: path, Msg: fmt.Sprintf("nested deeper than %d levels", maxDepth)}
		}
		if t == '[' {
			n := &node{kind: kArray}
			for dec.More() {
				it, err := jsonValue(dec, index(path, len(n.items)), depth+1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, it)
			}
			if _, e := dec.Token(); e != nil {
				return nil, jsonSyntax(dec, e)
			}
			return n, nil
		}
		n := &node{kind: kObject}
		for dec.More() {
			kt, e := dec.Token()
			if e != nil {
				return nil, jsonSyntax(dec, e)
			}
			k, _ := kt.(string) // the decoder only yields string keys
			if n.has(k) {
				return nil, &FieldError{Path: child(path, k), Msg: "duplicate key"}
			}
			v, err := jsonValue(dec, child(path, k), depth+1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k)
			n.vals = append(n.vals, v)
		}
		if _, e := dec.Token(); e != nil {
			return nil, jsonSyntax(dec, e)
		}
		return n, nil
	}
	return nil, &FieldError{Path: path, Msg: fmt.Sprintf("unexpected JSON token %v", tok)}
}

func (n *node) has(k string) bool {
	for _, x := range n.keys {
		if x == k {
			return true
		}
	}
	return false
}

func parseYAML(data []byte) (*node, *FieldError) {
	if yamlTooDeep(data) {
		return nil, &FieldError{Path: "$", Msg: fmt.Sprintf("YAML is nested deeper than %d levels or indented past column %d", maxDepth, maxBlockColumn)}
	}
	f, e := parser.ParseBytes(data, 0)
	if e != nil {
		return nil, &FieldError{Path: "$", Msg: "invalid YAML: " + firstLine(e.Error())}
	}
	if len(f.Docs) != 1 {
		return nil, &FieldError{Path: "$", Msg: fmt.Sprintf("a plan is one YAML document; found %d", len(f.Docs))}
	}
	// Count nodes with aliases expanded before decoding, so a "billion
	// laughs" document is refused without building it.
	g := &aliasGuard{anchors: map[string]int{}}
	if g.size(f.Docs[0].Body, 0) > maxYAMLNodes {
		msg := fmt.Sprintf("YAML has more than %d nodes; refusing it", maxYAMLNodes)
		if g.aliases > 0 {
			msg = fmt.Sprintf("YAML expands to more than %d nodes through anchors and aliases; refusing it", maxYAMLNodes)
		}
		return nil, &FieldError{Path: "$", Msg: msg}
	}
	if g.tooDeep {
		return nil, &FieldError{Path: "$", Msg: fmt.Sprintf("nested deeper than %d levels", maxDepth)}
	}
	var v any
	if e := yaml.UnmarshalWithOptions(data, &v, yaml.UseOrderedMap()); e != nil {
		return nil, &FieldError{Path: "$", Msg: "invalid YAML: " + firstLine(e.Error())}
	}
	return fromYAML(v, "$", 0)
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

func fromYAML(v any, path string, depth int) (*node, *FieldError) {
	if depth > maxDepth {
		return nil, &FieldError{Path: path, Msg: fmt.Sprintf("nested deeper than %d levels", maxDepth)}
	}
	switch x := v.(type) {
	case nil:
		return &node{kind: kNull}, nil
	case bool:
		return &node{kind: kBool, b: x}, nil
	case string:
		return &node{kind: kString, s: x}, nil
	case int:
		return &node{kind: kNumber, s: strconv.Itoa(x)}, nil
	case int64:
		return &node{kind: kNumber, s: strconv.FormatInt(x, 10)}, nil
	case uint64:
		return &node{kind: kNumber, s: strconv.FormatUint(x, 10)}, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, &FieldError{Path: path, Msg: "must be a finite number"}
		}
		return &node{kind: kNumber, s: strconv.FormatFloat(x, 'g', -1, 64)}, nil
	case []any:
		n := &node{kind: kArray}
		for i, it := range x {
			c, err := fromYAML(it, index(path, i), depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, c)
		}
		return n, nil
	case yaml.MapSlice:
		n := &node{kind: kObject}
		for _, it := range x {
			k, ok := it.Key.(string)
			if !ok {
				return nil, &FieldError{Path: path, Msg: fmt.Sprintf("key %v is not a string", it.Key)}
			}
			if n.has(k) {
				return nil, &FieldError{Path: child(path, k), Msg: "duplicate key"}
			}
			c, err := fromYAML(it.Value, child(path, k), depth+1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k)
			n.vals = append(n.vals, c)
		}
		return n, nil
	}
	return nil, &FieldError{Path: path, Msg: fmt.Sprintf("unsupported YAML value of type %T", v)}
}

// checkNode compares a document node with the Go type it decodes into and
// records every unknown field and type mismatch.
func checkNode(errs *Errors, path string, n *node, t reflect.Type, depth int) {
	if t.Kind() == reflect.Pointer {
		if n.kind == kNull {
			return
		}
		t = t.Elem()
	}
	if n.kind == kNull {
		switch t.Kind() {
		case reflect.Slice, reflect.Map:
			return
		}
		errs.add(path, "null is not allowed; omit the field to use its default")
		return
	}
	want := func(k kind, what string) bool {
		if n.kind != k {
			errs.add(path, "must be %s, got %s", what, describe(n))
			return false
		}
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		if !want(kObject, "an object") {
			return
		}
		fields := jsonFields(t)
		names := make([]string, 0, len(fields))
		for _, f := range fields {
			names = append(names, f.name)
		}
		for i, k := range n.keys {
			f, ok := findField(fields, k)
			if !ok {
				errs.add(child(path, k), "unknown field %q%s", k, didYouMean(k, names))
				continue
			}
			checkNode(errs, child(path, k), n.vals[i], f.typ, depth+1)
		}
	case reflect.Map:
		if !want(kObject, "an object") {
			return
		}
		for i, k := range n.keys {
			checkNode(errs, child(path, k), n.vals[i], t.Elem(), depth+1)
		}
	case reflect.Slice:
		if !want(kArray, "an array") {
			return
		}
		for i, it := range n.items {
			checkNode(errs, index(path, i), it, t.Elem(), depth+1)
		}
	case reflect.String:
		want(kString, "a string")
	case reflect.Bool:
		want(kBool, "true or false")
	case reflect.Int, reflect.Int64, reflect.Int32:
		if !want(kNumber, "an integer") {
			return
		}
		if _, e := strconv.ParseInt(n.s, 10, t.Bits()); e != nil {
			errs.add(path, "must be an integer that fits %d bits, got %s", t.Bits(), n.s)
		}
	case reflect.Float64:
		if !want(kNumber, "a number") {
			return
		}
		if _, e := strconv.ParseFloat(n.s, 64); e != nil {
			errs.add(path, "number %s is out of range", n.s)
		}
	default:
		errs.add(path, "cannot decode into %s", t)
	}
}

func describe(n *node) string {
	switch n.kind {
	case kString:
		s := n.s
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return "string " + strconv.Quote(s)
	case kNumber, kBool:
		return n.kind.String() + " " + n.toText()
	}
	return n.kind.String()
}

func (n *node) toText() string {
	if n.kind == kBool {
		return strconv.FormatBool(n.b)
	}
	return n.s
}

type jsonField struct {
	name  string
	index int
	typ   reflect.Type
}

func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, index: i, typ: f.Type})
	}
	return out
}

// findField matches exactly: encoding/json's case-insensitive matching
// would let "Regions" and "regions" both through.
func findField(fs []jsonField, k string) (jsonField, bool) {
	for _, f := range fs {
		if f.name == k {
			return f, true
		}
	}
	return jsonField{}, false
}
