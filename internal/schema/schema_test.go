package schema_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/regiondrill/regiondrill/internal/schema"
)

type inner struct {
	N uint8 `json:"n"`
}

type sample struct {
	Name    string            `json:"name" pattern:"word" not:"all"`
	Ratio   float64           `json:"ratio" range:"(0,1]"`
	Count   int               `json:"count,omitempty" range:"[1,10]" zero:"default"`
	Wait    float64           `json:"wait" range:"[0.5,60]" zero:"default"`
	Steps   []int             `json:"steps" items:"[1,)" range:"(0,100]" contains:"100" unique:"true"`
	Argv    []string          `json:"argv,omitempty" first:"word"`
	Weights map[string]int    `json:"weights,omitempty" keys:"word" range:"[0,100]"`
	Kind    string            `json:"kind" enum:"a b"`
	At      time.Time         `json:"at"`
	Inner   *inner            `json:"inner,omitempty"`
	Labels  map[string]string `json:"labels"`
}

func compile(t *testing.T) *schema.Validator {
	t.Helper()
	doc, err := schema.Generate(reflect.TypeFor[sample](), schema.Options{
		Required: func(_ reflect.Type, f reflect.StructField) bool { return f.Name == "Name" || f.Name == "Steps" },
		Enum: func(_ reflect.Type, tag reflect.StructTag) ([]string, bool) {
			v, ok := tag.Lookup("enum")
			return strings.Fields(v), ok
		},
		Patterns: map[string]string{"word": `^[a-z]+$`},
		Closed:   true,
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := schema.Compile("test:sample", doc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func validate(t *testing.T, v *schema.Validator, doc string) []schema.Problem {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return v.Validate(inst)
}

const good = `{"name":"x","ratio":1,"count":0,"wait":0,"steps":[5,100],"argv":["run","-x"],"weights":{"a":0},"kind":"a",
"at":"2024-01-02T03:04:05Z","inner":null,"labels":null}`

func TestGenerateAndValidate(t *testing.T) {
	v := compile(t)
	if ps := validate(t, v, good); len(ps) > 0 {
		t.Fatalf("good sample refused: %+v", ps)
	}
	for _, c := range []struct {
		edit func(string) string
		loc  string
		kind schema.Kind
		msg  string
	}{
		{func(s string) string { return strings.Replace(s, `"name":"x"`, `"name":"all"`, 1) }, "name", schema.Value, `string "all" is refused`},
		{func(s string) string { return strings.Replace(s, `"name":"x"`, `"name":"X1"`, 1) }, "name", schema.Value, "does not match"},
		{func(s string) string { return strings.Replace(s, `"name":"x",`, ``, 1) }, "name", schema.Missing, `required field "name" is missing`},
		{func(s string) string { return strings.Replace(s, `"ratio":1`, `"ratio":0`, 1) }, "ratio", schema.Value, "must be above 0, got 0"},
		{func(s string) string { return strings.Replace(s, `"count":0`, `"count":11`, 1) }, "count", schema.Value, "must be at most 10, got 11"},
		{func(s string) string { return strings.Replace(s, `"wait":0`, `"wait":0.25`, 1) }, "wait", schema.Value, "refused"},
		{func(s string) string { return strings.Replace(s, `"steps":[5,100]`, `"steps":[5,50]`, 1) }, "steps", schema.Value, "holds no item that is 100"},
		{func(s string) string { return strings.Replace(s, `"steps":[5,100]`, `"steps":[100,100]`, 1) }, "steps", schema.Value, "items 0 and 1 are equal"},
		{func(s string) string { return strings.Replace(s, `"steps":[5,100]`, `"steps":null`, 1) }, "steps", schema.Type, "must be an array, got null"},
		{func(s string) string { return strings.Replace(s, `"argv":["run"`, `"argv":["Run"`, 1) }, "argv.0", schema.Value, "does not match"},
		{func(s string) string { return strings.Replace(s, `"weights":{"a":0}`, `"weights":{"B":0}`, 1) }, "weights.B", schema.Value, `key "B"`},
		{func(s string) string { return strings.Replace(s, `"kind":"a"`, `"kind":"c"`, 1) }, "kind", schema.Value, `string "c" is not one of "a", "b"`},
		{func(s string) string { return strings.Replace(s, `"at":"2024-01-02T03:04:05Z"`, `"at":"yesterday"`, 1) }, "at", schema.Value, ""},
		{func(s string) string { return strings.Replace(s, `"inner":null`, `"inner":{"n":256}`, 1) }, "inner.n", schema.Value, "must be at most 255"},
		{func(s string) string { return strings.Replace(s, `"inner":null`, `"inner":{"m":1}`, 1) }, "inner.m", schema.Unknown, `unknown field "m"`},
		{func(s string) string { return strings.Replace(s, `"count":0`, `"count":"ten"`, 1) }, "count", schema.Type, `must be an integer, got string "ten"`},
	} {
		doc := c.edit(good)
		ps := validate(t, v, doc)
		found := false
		for _, p := range ps {
			found = found || (strings.Join(p.Loc, ".") == c.loc && p.Kind == c.kind && strings.Contains(p.Msg, c.msg))
		}
		if !found {
			t.Errorf("%s: want kind %d at %s with %q; got %+v", doc, c.kind, c.loc, c.msg, ps)
		}
	}
}

// The generated document is a schema a standard 2020-12 validator compiles.
func TestGeneratedSchemaCompiles(t *testing.T) {
	doc, err := schema.Generate(reflect.TypeFor[sample](), schema.Options{Patterns: map[string]string{"word": `^[a-z]+$`}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Compile("test:plain", doc); err != nil {
		t.Fatal(err)
	}
	if _, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(good))); err != nil {
		t.Fatal(err)
	}
}

func TestBadTags(t *testing.T) {
	type badRange struct {
		X int `json:"x" range:"1,2"`
	}
	type badPattern struct {
		X string `json:"x" pattern:"nope"`
	}
	type openItems struct {
		X []int `json:"x" items:"(1,)"`
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[badRange](), reflect.TypeFor[badPattern](), reflect.TypeFor[openItems]()} {
		if _, err := schema.Generate(typ, schema.Options{}); err == nil {
			t.Errorf("%s: no error", typ)
		}
	}
}
