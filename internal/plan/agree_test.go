package plan

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The schema and Validate agree on every bound of a single field: each is
// checked alone, the schema on the document, Validate on a plan decoded
// without the schema.

const agreeBase = `regions: [us-east, eu-west]
evacuate: us-east
routing: {weights: {us-east: 50, eu-west: 50}}
stop_conditions: [{metric: error_rate}]
hooks: [{step: evacuate, run: [drain]}]
return_to_home: {gradual_weights: [10, 30, 60, 100]}
agents: {nats_url: "nats://127.0.0.1:4222", vantage_points: [{name: a, share: 1}]}
`

// bypass decodes a document without the schema, as a plan built in code
// would reach Validate.
func bypass(t *testing.T, root any) *Plan {
	t.Helper()
	b, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	p := Default()
	if err := json.Unmarshal(b, p); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	p.fillDerived()
	return p
}

func parsed(t *testing.T, src string) *doc {
	t.Helper()
	d := &doc{pos: map[string]int{}}
	if err := d.parseYAML([]byte(src)); err != nil {
		t.Fatal(err)
	}
	return d
}

// schemaPaths are the paths at which the plan's schema refuses d.
func schemaPaths(t *testing.T, d *doc) []string {
	t.Helper()
	v, err := compiled()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, pr := range v.Validate(d.root) {
		out = append(out, d.fieldError(pr).Path)
	}
	return out
}

func validatePaths(p *Plan) []string {
	var out []string
	if es, ok := p.Validate().(Errors); ok {
		for _, e := range es {
			out = append(out, e.Path)
		}
	}
	return out
}

func TestAgreeBaseIsValid(t *testing.T) {
	d := parsed(t, agreeBase)
	if ps := schemaPaths(t, d); len(ps) > 0 {
		t.Fatalf("schema refuses the base plan at %v", ps)
	}
	if ps := validatePaths(bypass(t, d.root)); len(ps) > 0 {
		t.Fatalf("Validate refuses the base plan at %v", ps)
	}
}

// Every single-field rule of Validate, broken once: the schema alone and
// Validate alone both refuse it at its path.
func TestSingleFieldRulesInBoth(t *testing.T) {
	const base = "regions: [us-east, eu-west]\nevacuate: us-east\n"
	for _, c := range []struct{ doc, path string }{
		{"regions: [us-east, US_East]\nevacuate: us-east", "$.regions[1]"},
		{"regions: [us-east, us-east, eu-west]\nevacuate: us-east", "$.regions"},
		{"regions: [us-east]\nevacuate: us-east", "$.regions"},
		{"regions: [us-east, eu-west]\nevacuate: '*'", "$.evacuate"},
		{"regions: [us-east, eu-west]\nevacuate: all", "$.evacuate"},
		{"regions: [us-east, eu-west]\nevacuate: ''", "$.evacuate"},
		{base + "min_serving_regions: 0", "$.min_serving_regions"},
		{base + "routing: {mode: fastest}", "$.routing.mode"},
		{base + "routing: {stick_minutes: 1441}", "$.routing.stick_minutes"},
		{base + "routing: {hysteresis_s: -1}", "$.routing.hysteresis_s"},
		{base + "routing: {weights: {eu-west: 101}}", "$.routing.weights.eu-west"},
		{base + "checks: {pre: [p95_latency]}", "$.checks.pre[0]"},
		{base + "checks: {live: [nope]}", "$.checks.live[0]"},
		{base + "checks: {post: [answers_equal, answers_equal]}", "$.checks.post"},
		{base + "checks: {advisory: [env_parity]}", "$.checks.advisory[0]"},
		{base + "rag_probe: {k: -3}", "$.rag_probe.k"},
		{base + "rag_probe: {k: 101}", "$.rag_probe.k"},
		{base + "rag_probe: {dualhome_k: 0}", "$.rag_probe.dualhome_k"},
		{base + "rag_probe: {delta_s_risk: 1.7}", "$.rag_probe.delta_s_risk"},
		{base + "rag_probe: {delta_s_risk: 0}", "$.rag_probe.delta_s_risk"},
		{base + "rag_probe: {coverage_min: -0.1}", "$.rag_probe.coverage_min"},
		{base + "rag_probe: {dualhome_min: 1.1}", "$.rag_probe.dualhome_min"},
		{base + "webhook_policy: {dedupe_key: md5(event_id)}", "$.webhook_policy.dedupe_key"},
		{base + "webhook_policy: {dedupe_key: sha256(event_id+revv)}", "$.webhook_policy.dedupe_key"},
		{base + "webhook_policy: {dedupe_key: sha256()}", "$.webhook_policy.dedupe_key"},
		{base + "return_to_home: {gradual_weights: []}", "$.return_to_home.gradual_weights"},
		{base + "return_to_home: {gradual_weights: [0, 100]}", "$.return_to_home.gradual_weights[0]"},
		{base + "return_to_home: {gradual_weights: [10, 30, 60]}", "$.return_to_home.gradual_weights"},
		{base + "drills: [F]", "$.drills[0]"},
		{base + "drills: [A, A]", "$.drills"},
		{base + "load: {rate_rps: 0.5}", "$.load.rate_rps"},
		{base + "load: {sessions: 100001}", "$.load.sessions"},
		{base + "load: {max_retries: 11}", "$.load.max_retries"},
		{base + "load: {session_s: -1}", "$.load.session_s"},
		{base + "load: {session_s: 86401}", "$.load.session_s"},
		{base + "phases: {hold_s: 0}", "$.phases.hold_s"},
		{base + "thresholds: {p95_vs_baseline: 11}", "$.thresholds.p95_vs_baseline"},
		{base + "slo: {availability: 0}", "$.slo.availability"},
		{base + "stop_conditions: [{metric: error_rat}]", "$.stop_conditions[0].metric"},
		{base + "stop_conditions: [{metric: backlog, for_s: -1}]", "$.stop_conditions[0].for_s"},
		{base + "stop_conditions: [{metric: http, url: 'ftp://x'}]", "$.stop_conditions[0].url"},
		{base + "hooks: [{step: eject, run: [x]}]", "$.hooks[0].step"},
		{base + "hooks: [{step: evacuate, when: during, run: [x]}]", "$.hooks[0].when"},
		{base + "hooks: [{step: evacuate, run: []}]", "$.hooks[0].run"},
		{base + "hooks: [{step: evacuate, run: [' ']}]", "$.hooks[0].run[0]"},
		{base + "hooks: [{step: evacuate, run: [x], undo: ['']}]", "$.hooks[0].undo[0]"},
		{base + "hooks: [{step: evacuate, run: [x], drills: [F]}]", "$.hooks[0].drills[0]"},
		{base + "hooks: [{step: evacuate, run: [x], timeout_s: 0.05}]", "$.hooks[0].timeout_s"},
		{base + "hooks: [{step: evacuate, run: [x], timeout_s: 3601}]", "$.hooks[0].timeout_s"},
		{base + "hooks: [{step: evacuate, run: [x], env: ['A=b']}]", "$.hooks[0].env[0]"},
		{base + "lab: {misconfigure: [no_freez]}", "$.lab.misconfigure[0]"},
		{base + "lab: {misconfigure: [no_dedupe, no_dedupe]}", "$.lab.misconfigure"},
		{base + "lab: {skew_analyzer: ' '}", "$.lab.skew_analyzer"},
		{base + "lab: {embedder: {kind: local}}", "$.lab.embedder.kind"},
		{base + "lab: {embedder: {url: 'file:///x'}}", "$.lab.embedder.url"},
		{base + "lab: {nats_url: 'http://x'}", "$.lab.nats_url"},
		{base + "targets: {regions: {}, router: {address: 'a:1'}}", "$.targets.regions"},
		{base + "targets: {regions: {us-east: {base_url: 'x'}, eu-west: {base_url: 'http://b'}}, router: {address: 'a:1'}}", "$.targets.regions.us-east.base_url"},
		{base + "targets: {regions: {us-east: {base_url: ''}, eu-west: {base_url: 'http://b'}}, router: {address: 'a:1'}}", "$.targets.regions.us-east.base_url"},
		{base + "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}}, router: {kind: nginx}}", "$.targets.router.kind"},
		{base + "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}}, router: {address: 'a:1'}, prometheus: {url: 'p'}}", "$.targets.prometheus.url"},
		{base + "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}}, router: {address: 'a:1'}, faults: 'f'}", "$.targets.faults"},
		{base + "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}}, router: {address: 'a:1'}, entry: 'e'}", "$.targets.entry"},
		{base + "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}}, router: {address: 'a:1'}, sink: 's'}", "$.targets.sink"},
		{base + "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}}, router: {address: 'a:1'}, queue: {kind: kafka}}", "$.targets.queue.kind"},
		{base + "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}}, router: {address: 'a:1'}, waive: [webhooks]}", "$.targets.waive[0]"},
		{base + "regression: {cutover_s: {max_increase: -1}}", "$.regression.cutover_s.max_increase"},
		{base + "agents: {nats_url: ' ', vantage_points: [{name: a, share: 1}]}", "$.agents.nats_url"},
		{base + "agents: {nats_url: 'nats://h', vantage_points: []}", "$.agents.vantage_points"},
		{base + "agents: {nats_url: 'nats://h', vantage_points: [{name: 'us east', share: 1}]}", "$.agents.vantage_points[0].name"},
		{base + "agents: {nats_url: 'nats://h', vantage_points: [{name: local, share: 1}]}", "$.agents.vantage_points[0].name"},
		{base + "agents: {nats_url: 'nats://h', vantage_points: [{name: a, share: 0}]}", "$.agents.vantage_points[0].share"},
		{base + "agents: {nats_url: 'nats://h', vantage_points: [{name: a, share: 1, entry: 'x'}]}", "$.agents.vantage_points[0].entry"},
		{base + "agents: {nats_url: 'nats://h', vantage_points: [{name: a, share: 1}], lease_s: 601}", "$.agents.lease_s"},
		{base + "agents: {nats_url: 'nats://h', vantage_points: [{name: a, share: 1}], min_agents: -1}", "$.agents.min_agents"},
	} {
		d := parsed(t, c.doc)
		if ps := schemaPaths(t, d); !slices.Contains(ps, c.path) {
			t.Errorf("the schema does not refuse %s in %q (refuses %v)", c.path, c.doc, ps)
		}
		if ps := validatePaths(bypass(t, d.root)); !slices.Contains(ps, c.path) && !validateNearby(ps, c.path) {
			t.Errorf("Validate does not refuse %s in %q (refuses %v)", c.path, c.doc, ps)
		}
	}
}

// validateNearby: Validate reports a list's problem at the item that shows
// it, or an item's at the list ("listed twice" at [1], "at least 2
// distinct" at the list), where the schema's uniqueItems and minItems speak
// of the list.
func validateNearby(paths []string, path string) bool {
	for _, p := range paths {
		if strings.HasPrefix(p, path+"[") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

// Single-field rules Validate holds and the schema cannot state; the
// schema admits these documents, Validate refuses them at the path.
func TestValidateOnlyRules(t *testing.T) {
	const base = "regions: [us-east, eu-west]\nevacuate: us-east\n"
	for _, c := range []struct{ why, doc, path string }{
		{"an order within a list", base + "return_to_home: {gradual_weights: [60, 30, 100]}", "$.return_to_home.gradual_weights[1]"},
		{"two spellings of one check", base + "checks: {live: [ΔS_probe, delta_s_probe]}", "$.checks.live[1]"},
		{"two spellings of one drill", base + "drills: [A, planned_evacuation]", "$.drills[1]"},
		{"a field named twice in an expression", base + "webhook_policy: {dedupe_key: sha256(rev+rev)}", "$.webhook_policy.dedupe_key"},
		{"a secret inside a URL", base + "lab: {nats_url: 'nats://u:p@h:4222'}", "$.lab.nats_url"},
		{"each URL of a comma-separated list", base + "agents: {nats_url: 'nats://h, http://x', vantage_points: [{name: a, share: 1}]}", "$.agents.nats_url"},
		{"what url.Parse refuses past scheme and host", base + "targets: {regions: {us-east: {base_url: 'http://a b'}, eu-west: {base_url: 'http://b'}}, router: {address: 'a:1'}}", "$.targets.regions.us-east.base_url"},
	} {
		d := parsed(t, c.doc)
		if ps := schemaPaths(t, d); slices.Contains(ps, c.path) {
			t.Errorf("%s: the schema now refuses %s; move the case to TestSingleFieldRulesInBoth", c.why, c.path)
		}
		if ps := validatePaths(bypass(t, d.root)); !slices.Contains(ps, c.path) {
			t.Errorf("%s: Validate does not refuse %s (refuses %v)", c.why, c.path, ps)
		}
	}
}

// Each numeric bound of the schema, walked from the schema itself: a value
// just outside is refused by both at the field, the bound itself (or just
// inside an open end) by neither.
func TestNumericBoundsAgree(t *testing.T) {
	s, err := schemaDoc()
	if err != nil {
		t.Fatal(err)
	}
	// Bounds Validate tightens with another field: only the outside value
	// is compared for these.
	crossBounded := map[string]bool{"$.rag_probe.dualhome_k": true}
	var checked int
	for _, b := range numericBounds("$", s) {
		if b.bound.Abs(b.bound).Cmp(big.NewRat(1e12, 1)) > 0 {
			continue // the Go type's own limits, beyond any range tag
		}
		for _, inside := range []bool{false, true} {
			d := parsed(t, agreeBase)
			set(d.root, b.path, b.value(inside))
			inSchema := slices.Contains(schemaPaths(t, d), b.path)
			inValidate := slices.Contains(validatePaths(bypass(t, d.root)), b.path)
			if inSchema == inside {
				t.Errorf("%s %s %v: schema refuses=%v", b.path, b.key, b.value(inside), inSchema)
			}
			if inValidate == inside && !(inside && crossBounded[b.path]) {
				t.Errorf("%s %s %v: Validate refuses=%v", b.path, b.key, b.value(inside), inValidate)
			}
		}
		checked++
	}
	if checked < 40 {
		t.Fatalf("only %d bounds checked", checked)
	}
}

type numBound struct {
	path, key string
	bound     *big.Rat
	integer   bool
}

// value is just outside the bound, or at it (just inside an open end).
func (b numBound) value(inside bool) json.Number {
	step := big.NewRat(1, 1000)
	if b.integer {
		step = big.NewRat(1, 1)
	}
	v := new(big.Rat).Set(b.bound)
	validAbove := strings.HasSuffix(strings.ToLower(b.key), "minimum")
	open := strings.HasPrefix(b.key, "exclusive")
	toward := 0 // +1 toward the valid side, -1 away from it
	switch {
	case !inside && !open:
		toward = -1
	case inside && open:
		toward = +1
	}
	if !validAbove {
		toward = -toward
	}
	switch toward {
	case +1:
		v.Add(v, step)
	case -1:
		v.Sub(v, step)
	}
	if v.IsInt() {
		return json.Number(v.Num().String())
	}
	f, _ := v.Float64()
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

// numericBounds walks a schema node for the numeric bounds of its fields;
// items stand at [0], map values at .us-east.
func numericBounds(path string, n map[string]any) []numBound {
	var out []numBound
	for _, key := range []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} {
		if v, ok := n[key]; ok {
			r, _ := new(big.Rat).SetString(fmt.Sprint(v))
			out = append(out, numBound{path: path, key: key, bound: r, integer: n["type"] == "integer"})
		}
	}
	if props, ok := n["properties"].(map[string]any); ok {
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, numericBounds(child(path, k), props[k].(map[string]any))...)
		}
	}
	if items, ok := n["items"].(map[string]any); ok {
		out = append(out, numericBounds(index(path, 0), items)...)
	}
	if vals, ok := n["additionalProperties"].(map[string]any); ok {
		out = append(out, numericBounds(child(path, "us-east"), vals)...)
	}
	return out
}

// set puts v at a plan path ("$.a.b[0].c") of a document, making the
// objects on the way.
func set(root any, path string, v any) {
	toks := strings.FieldsFunc(strings.TrimPrefix(path, "$"), func(r rune) bool { return r == '.' || r == '[' || r == ']' })
	cur := root
	for i, tok := range toks {
		last := i == len(toks)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[tok] = v
				return
			}
			if _, ok := c[tok]; !ok {
				c[tok] = map[string]any{}
			}
			cur = c[tok]
		case []any:
			j, _ := strconv.Atoi(tok)
			if last {
				c[j] = v
				return
			}
			cur = c[j]
		}
	}
}
