// Package schema generates JSON Schema (draft 2020-12) from Go types and
// validates decoded JSON through it with github.com/santhosh-tekuri/jsonschema,
// each problem located by its path in the instance. The plan's schema and
// conform's contract checks come from here.
package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Draft is the dialect of every generated schema.
const Draft = "https://json-schema.org/draft/2020-12/schema"

// Options says how Generate maps Go types.
//
// Besides `json`, Generate reads these struct tags:
//
//	doc:"..."          the field's description
//	range:"[1,100]"    numeric bounds: '(' or ')' for an open end, an end left empty for none
//	zero:"default"     0 is accepted too (it stands for the default) besides range
//	items:"[2,)"       bounds on the number of items of a list (of entries of a map)
//	unique:"true"      no two items of a list are equal
//	contains:"100"     some item of a list is this number
//	first:"name"       the first item of a list matches Patterns[name]
//	keys:"name"        each key of a map matches Patterns[name] (as patternProperties)
//	pattern:"name"     the string matches Patterns[name]
//	not:"a b"          string values refused although everything else admits them
//
// A list's or a map's tags reach its items too, so range, zero, pattern,
// not and whatever Enum reads apply to each item.
type Options struct {
	// Required reports whether a struct field must be present; nil
	// requires nothing.
	Required func(owner reflect.Type, f reflect.StructField) bool
	// Enum returns the values a type (seen through the field's tags)
	// accepts, and false when it is not an enum.
	Enum func(t reflect.Type, tag reflect.StructTag) ([]string, bool)
	// Patterns are the regular expressions the pattern, keys and first tags
	// name.
	Patterns map[string]string
	// Closed refuses the properties a struct does not declare.
	Closed bool
	// Default's non-zero fields that are neither structs nor pointers
	// become the schema's defaults (Default is a value of the generated type).
	Default any
}

// Generate returns the schema of t as a JSON value.
func Generate(t reflect.Type, o Options) (map[string]any, error) {
	g := generator{o: o}
	return g.of(t, reflect.ValueOf(o.Default), "", false)
}

type generator struct{ o Options }

var timeType = reflect.TypeFor[time.Time]()

// of is the schema of a value of type t; def holds its default (or is
// invalid), tag its field's tags, required whether the field must be there.
func (g generator) of(t reflect.Type, def reflect.Value, tag reflect.StructTag, required bool) (map[string]any, error) {
	nullable := false
	if t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
		if def.IsValid() && !def.IsNil() {
			def = def.Elem()
		} else {
			def = reflect.Value{}
		}
	}
	s, err := g.bare(t, def, tag)
	if err != nil {
		return nil, err
	}
	if t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		nullable = true // encoding/json writes an empty one as null
	}
	// A list, map or pointer may be null, unless the field asks for items
	// in it or is required to point somewhere.
	if nullable && s["minItems"] == nil && s["minProperties"] == nil && !(required && t.Kind() == reflect.Struct) {
		s["type"] = []string{s["type"].(string), "null"}
	}
	return s, nil
}

// bare is the schema of t without null.
func (g generator) bare(t reflect.Type, def reflect.Value, tag reflect.StructTag) (map[string]any, error) {
	if g.o.Enum != nil && t.Kind() == reflect.String {
		if values, ok := g.o.Enum(t, tag); ok {
			return g.refuse(map[string]any{"type": "string", "enum": values}, tag), nil
		}
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}, nil
	}
	switch t.Kind() {
	case reflect.Struct:
		return g.object(t, def)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map key %s is not a string", t.Key())
		}
		values, err := g.of(t.Elem(), reflect.Value{}, tag, false)
		if err != nil {
			return nil, err
		}
		s := map[string]any{"type": "object", "additionalProperties": values}
		if err := bounds(s, tag.Get("items"), "minProperties", "maxProperties"); err != nil {
			return nil, err
		}
		// Keys as patternProperties rather than propertyNames: the
		// validator locates a refused key exactly that way.
		if p, err := g.pattern(tag, "keys"); err != nil || p != "" {
			s["patternProperties"] = map[string]any{p: values}
			s["additionalProperties"] = false
			return s, err
		}
		return s, nil
	case reflect.Slice:
		return g.list(t, tag)
	case reflect.String:
		s := map[string]any{"type": "string"}
		p, err := g.pattern(tag, "pattern")
		if p != "" {
			s["pattern"] = p
		}
		return g.refuse(s, tag), err
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s := map[string]any{"type": "integer"}
		if err := numeric(s, tag); err != nil {
			return nil, err
		}
		fitType(s, t)
		return s, nil
	case reflect.Float32, reflect.Float64:
		s := map[string]any{"type": "number"}
		return s, numeric(s, tag)
	}
	return nil, fmt.Errorf("no schema for %s", t)
}

func (g generator) object(t reflect.Type, def reflect.Value) (map[string]any, error) {
	props := map[string]any{}
	var required []string
	for _, f := range Fields(t) {
		sf := t.Field(f.Index)
		var fdef reflect.Value
		if def.IsValid() {
			fdef = def.Field(f.Index)
		}
		req := g.o.Required != nil && g.o.Required(t, sf)
		ps, err := g.of(f.Type, fdef, sf.Tag, req)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.Name(), sf.Name, err)
		}
		if d := sf.Tag.Get("doc"); d != "" {
			ps["description"] = d
		}
		if fdef.IsValid() && !fdef.IsZero() && f.Type.Kind() != reflect.Struct && f.Type.Kind() != reflect.Pointer {
			ps["default"] = fdef.Interface()
		}
		if req {
			required = append(required, f.Name)
		}
		props[f.Name] = ps
	}
	s := map[string]any{"type": "object", "properties": props}
	if g.o.Closed {
		s["additionalProperties"] = false
	}
	if len(required) > 0 {
		s["required"] = required
	}
	return s, nil
}

func (g generator) list(t reflect.Type, tag reflect.StructTag) (map[string]any, error) {
	items, err := g.of(t.Elem(), reflect.Value{}, tag, false)
	if err != nil {
		return nil, err
	}
	s := map[string]any{"type": "array", "items": items}
	if err := bounds(s, tag.Get("items"), "minItems", "maxItems"); err != nil {
		return nil, err
	}
	if tag.Get("unique") == "true" {
		s["uniqueItems"] = true
	}
	if c := tag.Get("contains"); c != "" {
		if _, err := json.Number(c).Float64(); err != nil {
			return nil, fmt.Errorf("contains %q is not a number", c)
		}
		s["contains"] = map[string]any{"const": json.Number(c)}
	}
	if p, err := g.pattern(tag, "first"); err != nil || p != "" {
		s["prefixItems"] = []any{map[string]any{"pattern": p}}
		return s, err
	}
	return s, nil
}

func (g generator) pattern(tag reflect.StructTag, key string) (string, error) {
	name := tag.Get(key)
	if name == "" {
		return "", nil
	}
	p, ok := g.o.Patterns[name]
	if !ok {
		return "", fmt.Errorf("%s tag names no pattern %q", key, name)
	}
	return p, nil
}

// refuse adds the not tag's values to s.
func (g generator) refuse(s map[string]any, tag reflect.StructTag) map[string]any {
	if not := strings.Fields(tag.Get("not")); len(not) > 0 {
		s["not"] = map[string]any{"enum": not}
	}
	return s
}

// numeric sets a number's bounds from its range and zero tags.
func numeric(s map[string]any, tag reflect.StructTag) error {
	if err := bounds(s, tag.Get("range"), "minimum", "maximum"); err != nil {
		return err
	}
	if tag.Get("zero") != "default" {
		return nil
	}
	// 0 or the range: from 0 up, less the gap between 0 and the range.
	lo, open := s["minimum"], false
	if lo == nil {
		lo, open = s["exclusiveMinimum"], true
	}
	n, _ := lo.(json.Number)
	if f, err := n.Float64(); err != nil || f < 0 {
		return fmt.Errorf("zero:\"default\" needs a range above 0, not %q", tag.Get("range"))
	} else if f > 0 && !(s["type"] == "integer" && f <= 1 && !open) {
		gap := map[string]any{"exclusiveMinimum": json.Number("0"), "exclusiveMaximum": n}
		if open {
			gap = map[string]any{"exclusiveMinimum": json.Number("0"), "maximum": n}
		}
		s["not"] = gap
	}
	delete(s, "exclusiveMinimum")
	s["minimum"] = json.Number("0")
	return nil
}

// bounds parses an interval "[lo,hi]" into s's keywords lo and hi; an open
// end of a numeric interval ('(' or ')') becomes exclusiveMinimum or
// exclusiveMaximum, and an end left empty is no bound.
func bounds(s map[string]any, interval, lo, hi string) error {
	if interval == "" {
		return nil
	}
	bad := fmt.Errorf("interval %q is not [lo,hi] with ( or ) for an open end", interval)
	counts := lo == "minItems"
	if len(interval) < 3 {
		return bad
	}
	first, last := interval[0], interval[len(interval)-1]
	a, b, ok := strings.Cut(interval[1:len(interval)-1], ",")
	if !ok || (first != '[' && first != '(') || (last != ']' && last != ')') {
		return bad
	}
	for _, end := range []struct {
		text, key, exclusive string
		open                 bool
	}{
		{strings.TrimSpace(a), lo, "exclusiveMinimum", first == '('},
		{strings.TrimSpace(b), hi, "exclusiveMaximum", last == ')'},
	} {
		if end.text == "" {
			continue
		}
		n := json.Number(end.text)
		if _, err := n.Float64(); err != nil || (counts && end.open) {
			return bad
		}
		if end.open {
			s[end.exclusive] = n
		} else {
			s[end.key] = n
		}
	}
	return nil
}

// fitType bounds an integer schema to what its Go type holds, where the
// range tag left an end open.
func fitType(s map[string]any, t reflect.Type) {
	bits := t.Bits()
	var lo, hi json.Number
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		lo, hi = "0", json.Number(strconv.FormatUint(math.MaxUint64>>(64-bits), 10))
	default:
		lo = json.Number(strconv.FormatInt(int64(-1)<<(bits-1), 10))
		hi = json.Number(strconv.FormatInt(int64(1)<<(bits-1)-1, 10))
	}
	if s["minimum"] == nil && s["exclusiveMinimum"] == nil {
		s["minimum"] = lo
	}
	if s["maximum"] == nil && s["exclusiveMaximum"] == nil {
		s["maximum"] = hi
	}
}

// Field is a struct field as JSON sees it.
type Field struct {
	Name      string // its JSON name
	Index     int    // its index in the struct
	Type      reflect.Type
	OmitEmpty bool
}

// Fields lists t's exported fields under their JSON names, leaving out
// those tagged "-".
func Fields(t reflect.Type) []Field {
	var out []Field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, Field{Name: name, Index: i, Type: f.Type, OmitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
	}
	return out
}
