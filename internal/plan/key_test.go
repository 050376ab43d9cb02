package plan_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/plan"
)

func key(t *testing.T, src string) string {
	t.Helper()
	p, err := plan.Parse([]byte(src), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	k, err := plan.Key(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const minimal = `{"regions":["us-east","eu-west"],"evacuate":"us-east","drills":["B"]}`

func TestKeyIgnoresDefaultsAndTolerances(t *testing.T) {
	base := key(t, minimal)
	same := []string{
		`{"regions":["us-east","eu-west"],"evacuate":"us-east","drills":["B"],"seed":1,"load":{"rate_rps":80.0}}`,
		`{"regions":["us-east","eu-west"],"evacuate":"us-east","drills":["hard_outage"],"promote_survivor":"eu-west"}`,
		`{"regions":["us-east","eu-west"],"evacuate":"us-east","drills":["B"],"regression":{"cutover_s":{"max_increase_pct":10}}}`,
	}
	for _, s := range same {
		if k := key(t, s); k != base {
			t.Errorf("%s: key differs from the minimal plan's", s)
		}
	}
	different := []string{
		`{"regions":["us-east","eu-west"],"evacuate":"us-east","drills":["A"]}`,
		`{"regions":["us-east","eu-west"],"evacuate":"us-east","drills":["B"],"seed":2}`,
		`{"regions":["us-east","eu-west"],"evacuate":"us-east","drills":["B"],"load":{"rate_rps":100}}`,
		`{"regions":["us-east","eu-west"],"evacuate":"us-east","drills":["B"],"lab":{"misconfigure":["cold_start"]}}`,
		`{"regions":["us-east","eu-west","ap-south"],"evacuate":"us-east","drills":["B"]}`,
	}
	for _, s := range different {
		if key(t, s) == base {
			t.Errorf("%s: same key as the minimal plan", s)
		}
	}
}

// A plan as an older release wrote it (without fields added since, here
// the regression block and a later lab field) keeps its key.
func TestKeySurvivesFieldsAddedLater(t *testing.T) {
	p, _ := plan.Parse([]byte(minimal), "p.json")
	b, _ := json.Marshal(p)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	delete(m, "regression")
	delete(m["lab"].(map[string]any), "skew_analyzer")
	old, _ := json.Marshal(m)
	ko, err := plan.Key(old)
	if err != nil || ko != key(t, minimal) {
		t.Fatalf("key of the older plan %s (%v), want %s", ko, err, key(t, minimal))
	}
	if _, err := plan.Key([]byte(`[1]`)); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Fatalf("got %v", err)
	}
}
