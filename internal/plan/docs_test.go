package plan_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/plan"
)

// docs/PLAN.md names every field of the schema and every registry entry.
func TestDocsCoverEveryField(t *testing.T) {
	doc, err := os.ReadFile("../../docs/PLAN.md")
	if err != nil {
		t.Skip("docs/PLAN.md not present:", err)
	}
	b, err := plan.Schema()
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, s map[string]any)
	walk = func(prefix string, s map[string]any) {
		if items, ok := s["items"].(map[string]any); ok {
			walk(prefix, items)
		}
		props, _ := s["properties"].(map[string]any)
		for name, sub := range props {
			if !strings.Contains(string(doc), "`"+prefix+name) && !strings.Contains(string(doc), "."+name+"`") {
				t.Errorf("docs/PLAN.md does not mention %s%s", prefix, name)
			}
			walk(prefix+name+".", sub.(map[string]any))
		}
	}
	walk("", s)
	var names []string
	for _, c := range plan.CheckRegistry {
		names = append(names, string(c.Name), c.Alias)
	}
	for _, d := range plan.Drills() {
		names = append(names, string(d.Kind))
	}
	for _, m := range plan.Misconfigurations {
		names = append(names, string(m.Name))
	}
	for _, n := range names {
		if n != "" && !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("docs/PLAN.md does not mention %q", n)
		}
	}
}
