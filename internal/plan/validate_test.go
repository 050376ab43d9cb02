package plan_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/plan"
)

// Rules not covered by a testdata file: each broken on purpose, inline.
func TestValidateRules(t *testing.T) {
	const base = "regions: [us-east, eu-west]\nevacuate: us-east\n"
	for _, c := range []struct{ name, extra, path, msg string }{
		{"weights key", "routing: {weights: {ap-south: 10}}", "$.routing.weights.ap-south", `"ap-south" is not in regions`},
		{"weight range", "routing: {weights: {eu-west: 101}}", "$.routing.weights.eu-west", "between 0 and 100, got 101"},
		{"weights mode empty", "routing: {mode: weights}", "$.routing.weights", `mode "weights" needs a weight above 0`},
		{"hysteresis", "routing: {hysteresis_s: 4000}", "$.routing.hysteresis_s", "between 0 and 3600 seconds"},
		{"stick negative", "routing: {stick_minutes: -1}", "$.routing.stick_minutes", "between 0 and 1440 minutes"},
		{"check twice", "checks: {post: [answers_equal, answers_equal]}", "$.checks.post[1]", `check "answers_equal" is listed twice`},
		{"alias wrong phase", "checks: {pre: [lambda_state]}", "$.checks.pre[0]", `"λ_state" is a live check, not a pre check`},
		{"k range", "rag_probe: {k: 101}", "$.rag_probe.k", "between 1 and 100"},
		{"coverage", "rag_probe: {coverage_min: 1.2}", "$.rag_probe.coverage_min", "must be in [0, 1]"},
		{"weights zero step", "return_to_home: {gradual_weights: [0, 100]}", "$.return_to_home.gradual_weights[0]", "(0, 100], got 0"},
		{"weights empty", "return_to_home: {gradual_weights: []}", "$.return_to_home.gradual_weights", "at least one weight step"},
		{"drill twice", "drills: [A, planned_evacuation]", "$.drills[1]", "drill A (planned_evacuation) is listed twice"},
		{"min serving 0", "min_serving_regions: 0", "$.min_serving_regions", "must be at least 1"},
		{"primary", "primary: ap-south", "$.primary", `"ap-south" is not in regions`},
		{"emit unknown", "webhook_policy: {emit_from: eu-wset}", "$.webhook_policy.emit_from", `(did you mean "eu-west"?)`},
		{"dedupe field", "webhook_policy: {dedupe_key: sha256(event_id+revv)}", "$.webhook_policy.dedupe_key", `unknown field "revv" in "sha256(event_id+revv)" (did you mean "rev"?)`},
		{"replay ratio", "load: {replay_ratio: 2}", "$.load.replay_ratio", "must be in [0, 1], got 2"},
		{"session life", "load: {session_s: 86401}", "$.load.session_s", "86400"},
		{"session life negative", "load: {session_s: -0.5}", "$.load.session_s", "-0.5"},
		{"probe rounds", "phases: {probe_rounds: 0}", "$.phases.probe_rounds", "must be in [1, 100]"},
		{"hold zero", "phases: {hold_s: 0}", "$.phases.hold_s", "must be in (0, 3600] seconds"},
		{"slo", "slo: {availability: 0}", "$.slo.availability", "must be in (0, 1]"},
		{"stop metric", "stop_conditions: [{metric: error_rat}]", "$.stop_conditions[0].metric", `(did you mean "error_rate"?)`},
		{"stop http url", "stop_conditions: [{metric: http}]", "$.stop_conditions[0].url", `metric "http" needs a url`},
		{"stop query misplaced", "stop_conditions: [{metric: backlog, query: up}]", "$.stop_conditions[0].query", `only applies to metric "prometheus"`},
		{"stop prom url", "stop_conditions: [{metric: prometheus, query: up}]", "$.stop_conditions[0].url", "targets.prometheus.url"},
		{"misconfigure twice", "lab: {misconfigure: [no_dedupe, no_dedupe]}", "$.lab.misconfigure[1]", "listed twice"},
		{"openai needs model", "lab: {embedder: {kind: openai, url: 'http://127.0.0.1:1'}}", "$.lab.embedder.model", "needs a model name"},
		{"embedder kind", "lab: {embedder: {kind: local}}", "$.lab.embedder.kind", `unknown embedder "local"`},
		{"nats url", "lab: {nats_url: 'http://x'}", "$.lab.nats_url", "nats/tls/ws/wss URL"},
		{"skew analyzer", "lab: {skew_analyzer: ''}", "$.lab.skew_analyzer", "must name an analyzer"},
		{"target missing", "targets: {regions: {us-east: {base_url: 'http://a'}}, router: {address: 'a:1'}}", "$.targets.regions", `missing an entry for region "eu-west"`},
		{"target extra", "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}, eu-wset: {base_url: 'http://c'}}, router: {address: 'a:1'}}", "$.targets.regions.eu-wset", `(did you mean "eu-west"?)`},
		{"lab router address", "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}}}", "$.targets.router.address", `router "lab" needs the edge's host:port`},
		{"haproxy backend", "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}}, router: {kind: haproxy, socket: /run/h.sock}}", "$.targets.router.backend", "needs the backend name"},
		{"command argv", "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}}, router: {kind: command}}", "$.targets.router.set_weight", "needs the argv"},
		{"haproxy lock", "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}}, router: {kind: haproxy, socket: /run/h.sock, backend: b}}", "$.targets.router.lock_map", "needs a drill lock"},
		{"command lock", "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}}, router: {kind: command, set_weight: [x]}}", "$.targets.router.lock", "needs a drill lock"},
		{"hook env name", "hooks: [{step: evacuate, run: [x], env: ['A=b']}]", "$.hooks[0].env[0]", "not an environment variable name"},
		{"prometheus url", "targets: {regions: {us-east: {base_url: 'http://a'}, eu-west: {base_url: 'http://b'}}, router: {address: 'a:1'}, prometheus: {url: 'ftp://p'}}", "$.targets.prometheus.url", "http/https URL"},
		{"one region", "regions: [us-east]", "$.regions", "at least 2 distinct regions; got 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := base + c.extra + "\n"
			if strings.HasPrefix(c.extra, "regions:") {
				doc = c.extra + "\nevacuate: us-east\n"
			}
			_, err := plan.Parse([]byte(doc), "x.yaml")
			var es plan.Errors
			if !errors.As(err, &es) {
				t.Fatalf("want plan.Errors, got %T %v", err, err)
			}
			for _, e := range es {
				if e.Path == c.path && strings.Contains(e.Msg, c.msg) {
					return
				}
			}
			t.Fatalf("no error at %s containing %q; got:\n%v", c.path, c.msg, err)
		})
	}
}

func TestErrorsAsFieldError(t *testing.T) {
	_, err := plan.Parse([]byte(`{"regions":["a","b"],"evacuate":"c"}`), "x.json")
	var fe *plan.FieldError
	if !errors.As(err, &fe) || fe.Path != "$.evacuate" {
		t.Fatalf("errors.As *FieldError: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "plan: $.evacuate: ") {
		t.Errorf("Error() = %q", err.Error())
	}
}
