package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Validator is a compiled schema together with the document it came from,
// so that a problem can say what the schema wants where it occurred.
type Validator struct {
	compiled *jsonschema.Schema
	doc      map[string]any
}

// Compile compiles doc (a schema as Generate returns it) under the id url.
// Formats are asserted: a "date-time" must be RFC 3339.
func Compile(id string, doc map[string]any) (*Validator, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(id, v); err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	s, err := c.Compile(id)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	// The document again, as JSON values, for Node.
	var plain map[string]any
	if err := json.Unmarshal(b, &plain); err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	return &Validator{compiled: s, doc: plain}, nil
}

// Kind sorts a Problem.
type Kind uint8

const (
	Unknown Kind = iota // a property the object does not declare
	Missing             // a required property is absent
	Type                // the value is of another JSON type (null included)
	Value               // the value is outside a bound, an enum, a pattern or a format
)

// Problem is one place where an instance breaks the schema.
type Problem struct {
	Kind Kind
	// Loc is the value's location: object keys and array indices; for
	// Unknown and Missing it ends with the property's name.
	Loc []string
	// Got is the value at Loc (nil when Missing, or null).
	Got any
	// Node is the schema at Loc (for Unknown, the object's).
	Node map[string]any
	// Msg says what is wrong in words ("must be an integer, got string
	// \"ten\"", "minimum: got -3, want 1").
	Msg string
}

// Want names the JSON types the schema at the problem's location admits
// apart from null ("integer", "string", ...).
func (p Problem) Want() []string { return types(p.Node) }

// Known lists the properties an object declares, for an Unknown problem.
func (p Problem) Known() []string {
	props, _ := p.Node["properties"].(map[string]any)
	out := make([]string, 0, len(props))
	for k := range props {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var english = message.NewPrinter(language.English)

// Validate checks inst, a JSON value as encoding/json decodes it into any
// (numbers may be json.Number), and returns every problem found; none
// when it conforms.
func (v *Validator) Validate(inst any) []Problem {
	err := v.compiled.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Problem{{Kind: Type, Msg: err.Error()}}
	}
	var out []Problem
	v.collect(inst, ve, &out)
	return out
}

// collect turns the leaves of an error tree into problems.
func (v *Validator) collect(inst any, e *jsonschema.ValidationError, out *[]Problem) {
	loc := e.InstanceLocation
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		obj := v.Node(loc)
		for _, name := range k.Properties {
			p := Problem{Kind: Unknown, Loc: with(loc, name), Got: at(inst, with(loc, name)), Node: obj,
				Msg: fmt.Sprintf("unknown field %q", name)}
			if keys, ok := obj["patternProperties"].(map[string]any); ok {
				for pattern := range keys { // a map whose keys are names
					p.Kind, p.Msg = Value, fmt.Sprintf("key %q does not match %s", name, pattern)
				}
			}
			*out = append(*out, p)
		}
		return
	case *kind.Required:
		for _, name := range k.Missing {
			*out = append(*out, Problem{Kind: Missing, Loc: with(loc, name), Node: v.Node(with(loc, name)),
				Msg: fmt.Sprintf("required field %q is missing", name)})
		}
		return
	case *kind.Contains: // its causes are every item that is not it
		list := v.Node(loc)
		want, _ := list["contains"].(map[string]any)
		*out = append(*out, Problem{Kind: Value, Loc: loc, Got: at(inst, loc), Node: list,
			Msg: fmt.Sprintf("holds no item that is %v", want["const"])})
		return
	case *kind.Type:
		got := at(inst, loc)
		*out = append(*out, Problem{Kind: Type, Loc: loc, Got: got, Node: v.Node(loc),
			Msg: fmt.Sprintf("must be %s, got %s", Article(types(v.Node(loc))), Describe(got))})
		return
	}
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			v.collect(inst, c, out)
		}
		return
	}
	got := at(inst, loc)
	*out = append(*out, Problem{Kind: Value, Loc: loc, Got: got, Node: v.Node(loc), Msg: valueMsg(e.ErrorKind, got)})
}

// valueMsg words a bound, enum, pattern or format the value breaks.
func valueMsg(k jsonschema.ErrorKind, got any) string {
	rat := func(r *big.Rat) string {
		if r.IsInt() {
			return r.Num().String()
		}
		f, _ := r.Float64()
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	switch k := k.(type) {
	case *kind.Minimum:
		return fmt.Sprintf("must be at least %s, got %s", rat(k.Want), rat(k.Got))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("must be above %s, got %s", rat(k.Want), rat(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("must be at most %s, got %s", rat(k.Want), rat(k.Got))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("must be below %s, got %s", rat(k.Want), rat(k.Got))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprintf("%q", w)
		}
		return fmt.Sprintf("%s is not one of %s", Describe(got), strings.Join(want, ", "))
	case *kind.Pattern:
		return fmt.Sprintf("%q does not match %s", k.Got, k.Want)
	case *kind.Not:
		return fmt.Sprintf("%s is refused", Describe(got))
	case *kind.MinItems:
		return fmt.Sprintf("needs at least %d items, got %d", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("takes at most %d items, got %d", k.Want, k.Got)
	case *kind.MinProperties:
		return fmt.Sprintf("needs at least %d entries, got %d", k.Want, k.Got)
	case *kind.UniqueItems:
		return fmt.Sprintf("items %d and %d are equal", k.Duplicates[0], k.Duplicates[1])
	}
	return k.LocalizedString(english)
}

func with(loc []string, name string) []string { return append(slices.Clip(loc), name) }

// at is the instance's value at loc, or nil.
func at(v any, loc []string) any {
	for _, tok := range loc {
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// Node is the generated schema that applies at loc, or nil.
func (v *Validator) Node(loc []string) map[string]any {
	n := v.doc
	for _, tok := range loc {
		if props, ok := n["properties"].(map[string]any); ok {
			if p, ok := props[tok].(map[string]any); ok {
				n = p
				continue
			}
		}
		if items, ok := n["items"].(map[string]any); ok {
			n = items
			continue
		}
		if vals, ok := n["additionalProperties"].(map[string]any); ok {
			n = vals
			continue
		}
		if keys, ok := n["patternProperties"].(map[string]any); ok && len(keys) == 1 {
			for _, vals := range keys {
				n, _ = vals.(map[string]any)
			}
			continue
		}
		return nil
	}
	return n
}

// types are the JSON types a schema node admits, null left out.
func types(n map[string]any) []string {
	switch t := n["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, _ := x.(string); s != "" && s != "null" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Article names JSON types for "must be ..." ("an integer", "true or false").
func Article(types []string) string {
	words := make([]string, len(types))
	for i, t := range types {
		switch t {
		case "integer", "object", "array":
			words[i] = "an " + t
		case "boolean":
			words[i] = "true or false"
		default:
			words[i] = "a " + t
		}
	}
	return strings.Join(words, " or ")
}

// Describe names a JSON value briefly: its type, and its text if it is a
// scalar ("string \"ten\"", "number 3", "boolean true", "null", "object").
func Describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return "string " + strconv.Quote(x)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case json.Number:
		return "number " + x.String()
	case float64:
		return "number " + strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
