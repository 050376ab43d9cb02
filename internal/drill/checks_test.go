package drill

import (
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/kind"
	"github.com/regiondrill/regiondrill/internal/plan"
)

func healthy(region string) contract.Health {
	return contract.Health{
		Region: region, Ready: true, Role: contract.RoleFollower, IndexHash: "ih-1", Metric: "cosine", Analyzer: "en",
		SchemaRev: "sc-1", ModelTag: "m-1", SecretsRev: "sr-1",
		Env:   contract.EnvStamp{Release: "r1", Runtime: "go1", Config: "c1"},
		Cache: contract.CacheStats{Entries: 16},
	}
}

func env(t *testing.T, mutate func(map[string]contract.Health)) *checkEnv {
	t.Helper()
	p, err := plan.Parse([]byte(`{"regions":["us-east","eu-west"],"evacuate":"us-east"}`), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	kb, err := corpus.Load()
	if err != nil {
		t.Fatal(err)
	}
	e := New(Options{Plan: p, Corpus: kb})
	hs := map[string]contract.Health{"us-east": healthy("us-east"), "eu-west": healthy("eu-west")}
	mutate(hs)
	a, _ := kind.Lookup("A")
	return &checkEnv{e: e, d: &drillRun{e: e, info: a.Info(), letter: "A", evac: "us-east", survivor: "eu-west"}, health: hs}
}

// Each check passes on a healthy target and fails when the thing it checks
// is broken on purpose.
func TestChecksFireWhenBroken(t *testing.T) {
	cases := []struct {
		check  plan.CheckName
		break_ func(map[string]contract.Health)
		detail string
	}{
		{"env_parity", func(h map[string]contract.Health) { x := h["eu-west"]; x.SecretsRev = "sr-2"; h["eu-west"] = x }, "secrets_rev"},
		{"env_parity", func(h map[string]contract.Health) { x := h["eu-west"]; x.Env.Release = "r2"; h["eu-west"] = x }, "release"},
		{"env_parity", func(h map[string]contract.Health) { x := h["us-east"]; x.Ready = false; h["us-east"] = x }, "READY=false"},
		{"index_hash_equal", func(h map[string]contract.Health) { x := h["eu-west"]; x.IndexHash = "ih-2"; h["eu-west"] = x }, "ih-2"},
		{"queue_empty", func(h map[string]contract.Health) { x := h["eu-west"]; x.Queue.Backlog = 500; h["eu-west"] = x }, "backlog 500"},
		{"cache_warm", func(h map[string]contract.Health) { x := h["eu-west"]; x.Cache.Entries = 3; h["eu-west"] = x }, "eu-west has 3"},
		{"contracts_equal", func(h map[string]contract.Health) { x := h["eu-west"]; x.Analyzer = "simple"; h["eu-west"] = x }, "simple"},
		{"backlog_zero", func(h map[string]contract.Health) { x := h["us-east"]; x.Queue.WebhookBacklog = 200; h["us-east"] = x }, "backlog"},
		{"cache_rewarmed", func(h map[string]contract.Health) { x := h["us-east"]; x.Cache.Entries = 0; h["us-east"] = x }, "us-east has 0"},
		{"index_hash", func(h map[string]contract.Health) {
			x := h["us-east"]
			x.Role = contract.RolePrimary
			h["us-east"] = x
			y := h["eu-west"]
			y.IndexHash = "ih-9"
			h["eu-west"] = y
		}, "ih-1"},
	}
	for _, c := range cases {
		fn := checks[c.check]
		if fn == nil {
			t.Fatalf("no implementation of %s", c.check)
		}
		if pass, v, d := fn(env(t, func(map[string]contract.Health) {})); !pass {
			t.Errorf("%s fails on a healthy target: %s %s", c.check, v, d)
		}
		pass, v, d := fn(env(t, c.break_))
		if pass {
			t.Errorf("%s passes on a broken target (%s %s)", c.check, v, d)
		}
		if !strings.Contains(v+" "+d, c.detail) {
			t.Errorf("%s: %q %q does not name %q", c.check, v, d, c.detail)
		}
	}
}

func TestUnreachableRegionFailsTheGate(t *testing.T) {
	ce := env(t, func(h map[string]contract.Health) { delete(h, "eu-west") })
	ce.healthErrs = map[string]string{"eu-west": "timeout"}
	for _, n := range []plan.CheckName{"env_parity", "index_hash_equal", "contracts_equal", "backlog_zero", "cache_warm"} {
		if pass, _, _ := checks[n](ce); pass {
			t.Errorf("%s passes with a region unreachable", n)
		}
	}
}

// Every check the plan can name has an implementation: one registry each.
func TestEveryPlanCheckIsImplemented(t *testing.T) {
	for _, ph := range []plan.Phase{plan.PhasePre, plan.PhaseLive, plan.PhasePost} {
		for _, n := range plan.ChecksFor(ph) {
			if checks[n] == nil {
				t.Errorf("check %s (%s) has no implementation", n, ph)
			}
		}
	}
}
