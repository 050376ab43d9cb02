package plan

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/regiondrill/regiondrill/internal/schema"
)

// SchemaID is the $id of the generated schema.
const SchemaID = "https://regiondrill.dev/schema/plan.json"

// Schema returns the plan's JSON Schema (draft 2020-12), generated from the
// Plan type: json tags give names, `doc` tags descriptions, `required` tags
// required properties, the registries enums, `range`, `items`, `pattern`
// and the other tags of schema.Options every bound of a single field, and
// Default the defaults. Unknown properties are refused. Decode checks every
// document through this schema; Validate adds the rules across fields.
func Schema() ([]byte, error) {
	s, err := schemaDoc()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("plan schema: %w", err)
	}
	return b, nil
}

func schemaDoc() (map[string]any, error) {
	s, err := schema.Generate(reflect.TypeFor[Plan](), schema.Options{
		Required: func(_ reflect.Type, f reflect.StructField) bool { return f.Tag.Get("required") == "true" },
		Enum:     enumOf,
		Patterns: patterns,
		Closed:   true,
		Default:  *Default(),
	})
	if err != nil {
		return nil, fmt.Errorf("plan schema: %w", err)
	}
	if props, ok := s["properties"].(map[string]any); ok { // the drill kinds say what they are
		if drills, ok := props["drills"].(map[string]any); ok {
			if items, ok := drills["items"].(map[string]any); ok {
				items["description"] = describeDrills()
			}
		}
	}
	s["$schema"] = schema.Draft
	s["$id"] = SchemaID
	s["title"] = "regiondrill drill plan"
	s["description"] = "A region-failover drill plan: the page's JSON plan plus regiondrill's extensions."
	return s, nil
}

// compiled is the plan's schema, compiled once for Decode.
var compiled = sync.OnceValues(func() (*schema.Validator, error) {
	doc, err := schemaDoc()
	if err != nil {
		return nil, err
	}
	return schema.Compile(SchemaID, doc)
})

// patterns are the regular expressions the Plan's pattern, keys and first
// tags name. They are kept to what both Go's regexp (the validator's) and
// ECMA-262 (editors') read alike.
var patterns = map[string]string{
	"region":            regionName.String(),
	"agent":             agentName.String(),
	"http_url":          urlPattern(false, "http", "https"),
	"optional_http_url": urlPattern(true, "http", "https"),
	"optional_nats_url": urlPattern(true, "nats", "tls", "ws", "wss"),
	"dedupe_key":        dedupePattern(),
	"env_name":          `^[^=\x00]+$`,
	"nonblank":          `\S`,
}

// urlPattern matches what checkURL accepts: one of schemes (any case, as
// url.Parse reads them) and a host. It admits a little more than url.Parse
// (Validate refuses the rest); never less.
func urlPattern(optional bool, schemes ...string) string {
	alts := make([]string, len(schemes))
	for i, s := range schemes {
		var b strings.Builder
		for _, r := range s {
			fmt.Fprintf(&b, "[%c%c]", r, r-'a'+'A')
		}
		alts[i] = b.String()
	}
	p := "^(" + strings.Join(alts, "|") + ")://([^/?#@]*@)?[^/?#@]"
	if optional {
		p = "^$|" + p
	}
	return p
}

// dedupePattern is ParseDedupeKey's grammar: sha256(field+field...), blanks
// around each field. A field named twice is left to Validate.
func dedupePattern() string {
	field := `\s*(` + strings.Join(DedupeFields, "|") + `)\s*`
	return `^\s*sha256\(` + field + `(\+` + field + `)*\)\s*$`
}

// enumOf gives schema.Generate the values an enum accepts: a field's
// literal `enum` tag, a `registry` tag naming a list, or a typed enum's
// registry.
func enumOf(t reflect.Type, tag reflect.StructTag) ([]string, bool) {
	if v, ok := tag.Lookup("enum"); ok {
		return strings.Fields(v), true
	}
	switch tag.Get("registry") {
	case "drill":
		return Drills().Spellings(), true
	case "hook_step":
		return hookStepNames(), true
	}
	return enumSpellings(t, tag)
}

// hookStepNames are HookSteps' keys, the names before the numbers.
func hookStepNames() []string {
	var out []string
	for k := range HookSteps {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if da, db := a[0] <= '9', b[0] <= '9'; da != db {
			return db
		}
		if HookSteps[a] != HookSteps[b] {
			return HookSteps[a] < HookSteps[b]
		}
		return a < b
	})
	return out
}

// enumSpellings returns what a typed enum of the plan accepts, from its
// registry (for checks, those of the phases in the field's `phase` tag);
// ok is false for every other type.
func enumSpellings(t reflect.Type, tag reflect.StructTag) (spellings []string, ok bool) {
	if ph := tag.Get("phase"); ph != "" && t == reflect.TypeFor[CheckName]() {
		var phases []Phase
		for _, p := range strings.Fields(ph) {
			phases = append(phases, Phase(p))
		}
		return checkSpellings(phases...), true
	}
	r, ok := map[reflect.Type]interface{ Spellings() []string }{
		reflect.TypeFor[CheckName]():        CheckRegistry,
		reflect.TypeFor[DrillKind]():        Drills(),
		reflect.TypeFor[Misconfiguration](): Misconfigurations,
		reflect.TypeFor[StopMetric]():       StopMetrics,
		reflect.TypeFor[RoutingMode]():      RoutingModes,
		reflect.TypeFor[EmbedderKind]():     EmbedderKinds,
		reflect.TypeFor[RouterKind]():       RouterKinds,
		reflect.TypeFor[Waiver]():           Waivers,
	}[t]
	if !ok {
		return nil, false
	}
	return r.Spellings(), true
}
