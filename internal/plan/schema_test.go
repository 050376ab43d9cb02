package plan_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/regiondrill/regiondrill/internal/plan"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := plan.Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(plan.SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(plan.SchemaID)
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return s
}

func instance(t *testing.T, b []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSchemaValidatesPagePlan(t *testing.T) {
	s := compileSchema(t)
	if err := s.Validate(instance(t, read(t, "page-plan.json"))); err != nil {
		t.Fatalf("page plan rejected by the schema: %v", err)
	}
	// A fully decoded plan (defaults included) also validates.
	p := mustParse(t, "full-plan.yaml")
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(instance(t, b)); err != nil {
		t.Fatalf("decoded full plan rejected: %v", err)
	}
}

func TestSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	for name, doc := range map[string]string{
		"unknown field":     `{"regions":["a","b"],"evacuate":"a","routing":{"mod":"latency"}}`,
		"unknown top-level": `{"regions":["a","b"],"evacuate":"a","colour":"blue"}`,
		"check wrong phase": `{"regions":["a","b"],"evacuate":"a","checks":{"pre":["answers_equal"]}}`,
		"unknown drill":     `{"regions":["a","b"],"evacuate":"a","drills":["F"]}`,
		"missing evacuate":  `{"regions":["a","b"]}`,
		"wrong type":        `{"regions":["a","b"],"evacuate":"a","rag_probe":{"k":"ten"}}`,
	} {
		if err := s.Validate(instance(t, []byte(doc))); err == nil {
			t.Errorf("%s: schema accepted %s", name, doc)
		}
	}
}

// Enums and defaults come from the registries and Default, not a second list.
func TestSchemaDerivedFromRegistries(t *testing.T) {
	b, err := plan.Schema()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties struct {
			Checks struct {
				Properties map[string]struct {
					Items struct{ Enum []string }
				}
			}
			Drills struct{ Items struct{ Enum []string } }
			Load   struct {
				Properties map[string]struct {
					Default     any
					Description string
				}
			}
		}
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.CheckRegistry {
		enum := s.Properties.Checks.Properties[string(c.Phase)].Items.Enum
		if !slices.Contains(enum, string(c.Name)) {
			t.Errorf("%s missing from checks.%s enum %v", c.Name, c.Phase, enum)
		}
		if c.Alias != "" && !slices.Contains(enum, c.Alias) {
			t.Errorf("alias %s missing", c.Alias)
		}
	}
	for _, d := range plan.Drills() {
		if !slices.Contains(s.Properties.Drills.Items.Enum, d.Letter) || !slices.Contains(s.Properties.Drills.Items.Enum, string(d.Kind)) {
			t.Errorf("drill %s missing from %v", d.Kind, s.Properties.Drills.Items.Enum)
		}
	}
	rate := s.Properties.Load.Properties["rate_rps"]
	if rate.Default != float64(80) || rate.Description == "" {
		t.Errorf("load.rate_rps = %+v", rate)
	}
}

// A standard JSON Schema 2020-12 validator given nothing but plan.Schema(),
// as an editor uses it, refuses each testdata plan whose problem is one
// field's, at that field, and accepts the plans only Validate refuses.
func TestEditorSchemaOnInvalidPlans(t *testing.T) {
	s := compileSchema(t)
	for _, c := range invalid {
		if c.by == byParser {
			continue
		}
		t.Run(c.file, func(t *testing.T) {
			b := read(t, c.file)
			if strings.HasSuffix(c.file, ".yaml") {
				var err error
				if b, err = yaml.YAMLToJSON(b); err != nil {
					t.Fatal(err)
				}
			}
			err := s.Validate(instance(t, b))
			switch c.by {
			case bySchema:
				want := pointer(c.path)
				if !slices.Contains(leafLocations(err), want) {
					t.Errorf("the schema does not refuse %s (%s); it says: %v", c.path, want, err)
				}
			case byValidate:
				if err != nil {
					t.Errorf("the schema refuses a plan only Validate should: %v", err)
				}
			}
		})
	}
}

// pointer turns a plan path ("$.checks.live[3]") into a JSON pointer
// ("/checks/live/3").
func pointer(path string) string {
	p := strings.TrimPrefix(path, "$")
	p = strings.NewReplacer("[", "/", "]", "", ".", "/").Replace(p)
	return p
}

// leafLocations lists where a validation error's leaves are, as JSON
// pointers; an unknown or missing property is located at itself.
func leafLocations(err error) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		loc := "/" + strings.Join(e.InstanceLocation, "/")
		if loc == "/" {
			loc = ""
		}
		switch k := e.ErrorKind.(type) {
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				out = append(out, loc+"/"+p)
			}
		case *kind.Required:
			for _, p := range k.Missing {
				out = append(out, loc+"/"+p)
			}
		case *kind.Contains:
			out = append(out, loc)
			return
		default:
			if len(e.Causes) == 0 {
				out = append(out, loc)
			}
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}
