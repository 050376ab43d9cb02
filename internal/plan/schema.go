package plan

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// SchemaID is the $id of the generated schema.
const SchemaID = "https://regiondrill.dev/schema/plan.json"

// Schema returns the plan's JSON Schema (draft 2020-12), generated from the
// Plan type: json tags give names, `doc` tags descriptions, `required` tags
// required properties, the registries enums, and Default the defaults.
// Unknown properties are refused, as Decode refuses them.
func Schema() ([]byte, error) {
	s, err := schemaFor(reflect.TypeFor[Plan](), reflect.ValueOf(*Default()), "")
	if err != nil {
		return nil, err
	}
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = SchemaID
	s["title"] = "regiondrill drill plan"
	s["description"] = "A region-failover drill plan: the page's JSON plan plus regiondrill's extensions."
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("plan schema: %w", err)
	}
	return b, nil
}

func schemaFor(t reflect.Type, def reflect.Value, tag reflect.StructTag) (map[string]any, error) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
		if def.IsValid() && !def.IsNil() {
			def = def.Elem()
		} else {
			def = reflect.Value{}
		}
	}
	if enum, ok := enumSpellings(t, tag); ok {
		return map[string]any{"type": "string", "enum": enum}, nil
	}
	switch t.Kind() {
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for _, f := range jsonFields(t) {
			sf := t.Field(f.index)
			var fdef reflect.Value
			if def.IsValid() {
				fdef = def.Field(f.index)
			}
			ps, err := schemaFor(f.typ, fdef, sf.Tag)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", t.Name(), sf.Name, err)
			}
			if d := sf.Tag.Get("doc"); d != "" {
				ps["description"] = d
			}
			if fdef.IsValid() && !fdef.IsZero() && f.typ.Kind() != reflect.Struct && f.typ.Kind() != reflect.Pointer {
				ps["default"] = fdef.Interface()
			}
			if sf.Tag.Get("required") == "true" {
				required = append(required, f.name)
			}
			props[f.name] = ps
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map key %s is not a string", t.Key())
		}
		items, err := schemaFor(t.Elem(), reflect.Value{}, "")
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "object", "additionalProperties": items,
			"propertyNames": map[string]any{"pattern": regionName.String()}}, nil
	case reflect.Slice:
		items, err := schemaFor(t.Elem(), reflect.Value{}, tag)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items}, nil
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}, nil
	case reflect.Float64:
		return map[string]any{"type": "number"}, nil
	}
	return nil, fmt.Errorf("no schema for %s", strings.TrimSpace(t.String()))
}

// enumSpellings returns what a typed enum of the plan accepts, from its
// registry (for checks, those of the field's `phase` tag); ok is false for
// every other type.
func enumSpellings(t reflect.Type, tag reflect.StructTag) (spellings []string, ok bool) {
	switch t {
	case reflect.TypeFor[CheckName]():
		if ph := tag.Get("phase"); ph != "" {
			var phases []Phase
			for _, p := range strings.Fields(ph) {
				phases = append(phases, Phase(p))
			}
			return checkSpellings(phases...), true
		}
		return CheckRegistry.Spellings(), true
	case reflect.TypeFor[DrillKind]():
		return DrillRegistry.Spellings(), true
	case reflect.TypeFor[Misconfiguration]():
		return Misconfigurations.Spellings(), true
	case reflect.TypeFor[StopMetric]():
		return StopMetrics.Spellings(), true
	case reflect.TypeFor[RoutingMode]():
		return RoutingModes.Spellings(), true
	case reflect.TypeFor[EmbedderKind]():
		return EmbedderKinds.Spellings(), true
	case reflect.TypeFor[RouterKind]():
		return RouterKinds.Spellings(), true
	case reflect.TypeFor[Waiver]():
		return Waivers.Spellings(), true
	}
	return nil, false
}
