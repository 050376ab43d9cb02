package plan_test

import (
	"testing"

	"github.com/regiondrill/regiondrill/internal/plan"
)

func TestToleranceAllowed(t *testing.T) {
	cases := []struct {
		name string
		tol  plan.Tolerance
		base float64
		want float64
	}{
		{"strict", plan.Tolerance{}, 12, 0},
		{"absolute only", plan.Tolerance{MaxIncrease: 2}, 12, 2},
		{"percent only", plan.Tolerance{MaxIncreasePct: 50}, 12, 6},
		{"percent of zero is zero", plan.Tolerance{MaxIncreasePct: 50}, 0, 0},
		{"the larger wins: percent", plan.Tolerance{MaxIncrease: 1, MaxIncreasePct: 50}, 10, 5},
		{"the larger wins: absolute floor", plan.Tolerance{MaxIncrease: 1, MaxIncreasePct: 50}, 0.5, 1},
		{"percent of a negative base", plan.Tolerance{MaxIncreasePct: 100}, -0.2, 0.2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.tol.Allowed(c.base); got != c.want {
				t.Fatalf("Allowed(%v) = %v, want %v", c.base, got, c.want)
			}
		})
	}
}

// A tolerance in the plan replaces that target's default whole; the others
// keep their defaults.
func TestRegressionBlockReplacesPerTarget(t *testing.T) {
	p, err := plan.Parse([]byte(`{"regions":["us-east","eu-west"],"evacuate":"us-east",
		"regression":{"cutover_s":{"max_increase_pct":20},"write_loss":{"max_increase":0},"delta_s":{"ignore":true}}}`), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		id   string
		want plan.Tolerance
	}{
		{"cutover_s", plan.Tolerance{MaxIncreasePct: 20}},
		{"write_loss", plan.Tolerance{}},
		{"delta_s", plan.Tolerance{Ignore: true}},
		{"backlog_drain_s", plan.Tolerance{MaxIncrease: 60, MaxIncreasePct: 100}},
		{"p95_vs_baseline", plan.Tolerance{MaxIncrease: 0.5}},
	}
	for _, c := range cases {
		got, ok := p.Regression.Tolerance(c.id)
		if !ok || got != c.want {
			t.Errorf("%s: %+v %v, want %+v", c.id, got, ok, c.want)
		}
	}
	if _, ok := p.Regression.Tolerance("lambda"); ok {
		t.Error("lambda has no number and so no tolerance")
	}
	// A zero Regression (a plan built in code) still answers with defaults.
	var zero plan.Regression
	if got, _ := zero.Tolerance("cutover_s"); got != (plan.Tolerance{MaxIncrease: 3, MaxIncreasePct: 50}) {
		t.Errorf("zero regression cutover_s: %+v", got)
	}
	if n := len(plan.RegressionTargets()); n != 9 {
		t.Errorf("%d regression targets", n)
	}
}
