package compare_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/compare"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// report builds a report with the given targets and a plan holding the
// regression block (empty: the defaults).
func report(regression string, ts ...verdict.Target) *verdict.Report {
	p := `{"regions":["us-east","eu-west"]}`
	if regression != "" {
		p = `{"regions":["us-east","eu-west"],"regression":` + regression + `}`
	}
	v := verdict.Pass
	for _, t := range ts {
		if !t.Pass {
			v = verdict.Fail
		}
	}
	return &verdict.Report{Schema: verdict.SchemaVersion, Verdict: v, Target: "lab", Acceptance: ts, Plan: json.RawMessage(p)}
}

func tgt(id string, v any, pass bool) verdict.Target {
	return verdict.Target{ID: id, Drill: "B", Value: v, Pass: pass}
}

// Each tolerance rule, on one target, with the new plan's regression block.
func TestTolerances(t *testing.T) {
	cases := []struct {
		name       string
		regression string
		old, new   verdict.Target
		want       compare.Status
	}{
		{"cutover within the default 50%", "", tgt("cutover_s", 10.0, true), tgt("cutover_s", 14.9, true), compare.Worse},
		{"cutover beyond the default 50%", "", tgt("cutover_s", 10.0, true), tgt("cutover_s", 15.1, true), compare.Regressed},
		{"cutover exactly at the limit", "", tgt("cutover_s", 10.0, true), tgt("cutover_s", 15.0, true), compare.Worse},
		{"small cutover within the 3 s floor", "", tgt("cutover_s", 0.2, true), tgt("cutover_s", 3.1, true), compare.Worse},
		{"small cutover beyond the 3 s floor", "", tgt("cutover_s", 0.2, true), tgt("cutover_s", 3.3, true), compare.Regressed},
		{"plan tightens cutover to 20%", `{"cutover_s":{"max_increase_pct":20}}`, tgt("cutover_s", 10.0, true), tgt("cutover_s", 12.5, true), compare.Regressed},
		{"plan loosens cutover to 200%", `{"cutover_s":{"max_increase_pct":200}}`, tgt("cutover_s", 10.0, true), tgt("cutover_s", 25.0, true), compare.Worse},
		{"one lost write", "", tgt("write_loss", 0, true), tgt("write_loss", 1, false), compare.Regressed},
		{"lost writes grow while already failing", "", tgt("write_loss", 2.0, false), tgt("write_loss", 3.0, false), compare.Regressed},
		{"lost writes allowed by the plan", `{"write_loss":{"max_increase":5}}`, tgt("write_loss", 2.0, false), tgt("write_loss", 3.0, false), compare.Worse},
		{"lost writes fall", "", tgt("write_loss", 3.0, false), tgt("write_loss", 0.0, true), compare.Improved},
		{"p95 ratio up 0.45 points", "", tgt("p95_vs_baseline", -0.5, true), tgt("p95_vs_baseline", -0.05, true), compare.Worse},
		{"p95 ratio up 0.6 points", "", tgt("p95_vs_baseline", -0.5, true), tgt("p95_vs_baseline", 0.1, true), compare.Regressed},
		{"ignored target grows", `{"delta_s":{"ignore":true}}`, tgt("delta_s", 0.1, true), tgt("delta_s", 0.4, true), compare.Worse},
		{"ignored target now fails", `{"delta_s":{"ignore":true}}`, tgt("delta_s", 0.1, true), tgt("delta_s", 0.5, false), compare.Regressed},
		{"text target passes to fails", "", tgt("answers_equal", "0 differ", true), tgt("answers_equal", "3 differ", false), compare.Regressed},
		{"text target changes, still passes", "", tgt("lambda", "96% convergent", true), tgt("lambda", "92% convergent", true), compare.Same},
		{"failing target passes now", "", tgt("contracts_equal", "differ", false), tgt("contracts_equal", "equal", true), compare.Improved},
		{"passing target is inconclusive now", "", tgt("p95_vs_baseline", 0.1, true), tgt("p95_vs_baseline", 0.1, false).Inconclusive("too few requests in the window"), compare.Regressed},
		{"unchanged", "", tgt("duplicates", 0.0, true), tgt("duplicates", 0, true), compare.Same},
		{"numbers without a tolerance", "", tgt("unknown_target", 1.0, true), tgt("unknown_target", 9.0, true), compare.Worse},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := compare.Compare("old", report("", c.old), "new", report(c.regression, c.new))
			if len(res.Rows) != 1 {
				t.Fatalf("rows %+v", res.Rows)
			}
			if got := res.Rows[0]; got.Status != c.want {
				t.Fatalf("status %s (%s), want %s; row %+v", got.Status, got.Reason, c.want, got)
			}
			if (c.want == compare.Regressed) != res.Regressed() {
				t.Fatalf("Regressed() = %v", res.Regressed())
			}
		})
	}
}

// The tolerance comes from the new run's plan, not the old one's.
func TestNewPlanDecides(t *testing.T) {
	old := report(`{"cutover_s":{"max_increase_pct":1000}}`, tgt("cutover_s", 10.0, true))
	res := compare.Compare("old", old, "new", report("", tgt("cutover_s", 20.0, true)))
	if !res.Regressed() || *res.Rows[0].Allowed != 5 {
		t.Fatalf("row %+v", res.Rows[0])
	}
}

func TestAddedRemovedAndVerdict(t *testing.T) {
	old := report("", tgt("cutover_s", 1.0, true), tgt("write_loss", 0, true))
	nw := report("", tgt("write_loss", 0, true), verdict.Target{ID: "webhook_duplicates", Drill: "D", Value: 0, Pass: true})
	nw.Verdict = verdict.Aborted
	res := compare.Compare("old", old, "new", nw)
	got := map[string]compare.Status{}
	for _, r := range res.Rows {
		got[r.Target] = r.Status
	}
	if got["cutover_s"] != compare.Removed || got["webhook_duplicates"] != compare.Added || got["write_loss"] != compare.Same {
		t.Fatalf("statuses %v", got)
	}
	if res.Regressions != 0 || !res.VerdictRegressed || !res.Regressed() || res.Verdict != "pass → aborted" {
		t.Fatalf("result %+v", res)
	}
	var text bytes.Buffer
	if err := compare.WriteText(&text, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "REGRESSED: the verdict") {
		t.Fatalf("text:\n%s", text.String())
	}
}

// Drill E judges one cache purge per purge: the second is compared with the
// second.
func TestRepeatedTargetsPairInOrder(t *testing.T) {
	e := func(v int, pass bool) verdict.Target {
		return verdict.Target{ID: "cache_purged", Drill: "E", Value: v, Pass: pass}
	}
	res := compare.Compare("old", report("", e(0, true), e(0, true)), "new", report("", e(0, true), e(4, false)))
	if len(res.Rows) != 2 || res.Rows[0].Status != compare.Same || res.Rows[1].Status != compare.Regressed {
		t.Fatalf("rows %+v", res.Rows)
	}
}
