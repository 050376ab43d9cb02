// Package compare sets two drill reports side by side, target by target, and
// judges the new one against the old with the tolerances of the new run's
// plan (its regression block): a target that passed and now fails, or whose
// value grew beyond its tolerance, is a regression.
package compare

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/regiondrill/regiondrill/internal/manifest"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// Status is what happened to one target between the two runs.
type Status string

// Statuses, from worst to best.
const (
	Regressed Status = "regressed" // passed and now fails, or grew beyond its tolerance
	Worse     Status = "worse"     // grew, within its tolerance (or ignored)
	Removed   Status = "removed"   // measured in the old run only
	Added     Status = "added"     // measured in the new run only
	Same      Status = "same"
	Improved  Status = "improved" // fell, or failed and now passes
)

// Run is one side of a comparison.
type Run struct {
	Label      string          `json:"label"` // what the user named: a directory, a file or a history id
	Verdict    verdict.Outcome `json:"verdict"`
	Started    time.Time       `json:"started"`
	Target     string          `json:"target"`
	PlanSHA256 string          `json:"plan_sha256"` // the plan as run
	PlanKey    string          `json:"plan_key"`    // what it drills (plan.Key)
}

// Row is one acceptance target of either run.
type Row struct {
	Drill     string   `json:"drill"`
	Target    string   `json:"target"`     // acceptance target id, e.g. cutover_s
	Threshold string   `json:"threshold"`  // the new run's threshold text, e.g. "≤ 30 s"
	Old       any      `json:"old"`        // measured value, nil when absent
	New       any      `json:"new"`        // measured value, nil when absent
	OldPass   *bool    `json:"old_pass"`   // nil when absent
	NewPass   *bool    `json:"new_pass"`   // nil when absent
	Change    *float64 `json:"change"`     // new − old, when both are numbers
	ChangePct *float64 `json:"change_pct"` // change in percent of |old|, when old ≠ 0
	Allowed   *float64 `json:"allowed"`    // the largest increase the tolerance allows
	Ignored   bool     `json:"ignored"`    // the tolerance says never to fail on the change
	Status    Status   `json:"status"`     //
	Reason    string   `json:"reason"`     // one line on the status
}

// Result is the whole comparison.
type Result struct {
	Old         Run    `json:"old"`
	New         Run    `json:"new"`
	SamePlan    bool   `json:"same_plan"`
	Rows        []Row  `json:"rows"`
	Regressions int    `json:"regressions"`
	Verdict     string `json:"verdict_change"` // e.g. "pass → fail"; empty when unchanged
	// VerdictRegressed is set when the old run passed and the new did not,
	// which counts as a regression even when no target says why (an aborted
	// run measures little).
	VerdictRegressed bool `json:"verdict_regressed"`
}

// Regressed reports whether the new run regressed against the old one.
func (r *Result) Regressed() bool { return r.Regressions > 0 || r.VerdictRegressed }

// Load reads a report from a report.json file or an evidence directory. A
// directory that carries a manifest must verify.
func Load(path string) (*verdict.Report, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	file := path
	if st.IsDir() {
		if _, err := manifest.Read(path); err == nil {
			if _, err := manifest.Verify(path); err != nil {
				return nil, err
			}
		}
		file = filepath.Join(path, "report.json")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var r verdict.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: not a report.json: %w", file, err)
	}
	if r.Schema != verdict.SchemaVersion {
		return nil, fmt.Errorf("%s: schema %q, want %q", file, r.Schema, verdict.SchemaVersion)
	}
	return &r, nil
}

// RegressionOf is the regression block of the plan a report was run with;
// a plan written before the block existed gets the defaults.
func RegressionOf(r *verdict.Report) plan.Regression {
	var p struct {
		Regression *plan.Regression `json:"regression"`
	}
	if len(r.Plan) > 0 && json.Unmarshal(r.Plan, &p) == nil && p.Regression != nil {
		return *p.Regression
	}
	return plan.DefaultRegression()
}

func side(label string, r *verdict.Report) Run {
	h, _ := manifest.PlanHash(r.Plan) // an unreadable plan shows as no plan
	k, _ := plan.Key(r.Plan)
	return Run{Label: label, Verdict: r.Verdict, Started: r.Started, Target: r.Target, PlanSHA256: h, PlanKey: k}
}

// Compare judges newRep against oldRep with the tolerances of newRep's plan.
func Compare(oldLabel string, oldRep *verdict.Report, newLabel string, newRep *verdict.Report) *Result {
	res := &Result{Old: side(oldLabel, oldRep), New: side(newLabel, newRep)}
	res.SamePlan = res.Old.PlanKey != "" && res.Old.PlanKey == res.New.PlanKey
	reg := RegressionOf(newRep)
	olds := keyed(oldRep.Acceptance)
	seen := map[key]bool{}
	for _, k := range order(newRep.Acceptance) {
		n := keyed(newRep.Acceptance)[k]
		o, ok := olds[k]
		seen[k] = true
		if !ok {
			res.Rows = append(res.Rows, row(k, nil, &n, reg))
			continue
		}
		res.Rows = append(res.Rows, row(k, &o, &n, reg))
	}
	for _, k := range order(oldRep.Acceptance) {
		if !seen[k] {
			o := olds[k]
			res.Rows = append(res.Rows, row(k, &o, nil, reg))
		}
	}
	for _, r := range res.Rows {
		if r.Status == Regressed {
			res.Regressions++
		}
	}
	if oldRep.Verdict != newRep.Verdict {
		res.Verdict = string(oldRep.Verdict) + " → " + string(newRep.Verdict)
		res.VerdictRegressed = oldRep.Verdict == verdict.Pass
	}
	return res
}

// key names a target across runs: its drill, id and occurrence (drill E
// judges one cache purge per purge).
type key struct {
	drill, id string
	n         int
}

func keyed(ts []verdict.Target) map[key]verdict.Target {
	m := map[key]verdict.Target{}
	count := map[[2]string]int{}
	for _, t := range ts {
		c := [2]string{t.Drill, t.ID}
		m[key{t.Drill, t.ID, count[c]}] = t
		count[c]++
	}
	return m
}

func order(ts []verdict.Target) []key {
	var out []key
	count := map[[2]string]int{}
	for _, t := range ts {
		c := [2]string{t.Drill, t.ID}
		out = append(out, key{t.Drill, t.ID, count[c]})
		count[c]++
	}
	return out
}

// epsilon absorbs float noise in "grew by more than allowed".
const epsilon = 1e-9

func row(k key, o, n *verdict.Target, reg plan.Regression) Row {
	r := Row{Drill: k.drill, Target: k.id}
	if o != nil {
		r.Old, r.OldPass = o.Value, &o.Pass
		r.Threshold = o.Target
	}
	if n != nil {
		r.New, r.NewPass = n.Value, &n.Pass
		r.Threshold = n.Target
	}
	switch {
	case o == nil:
		r.Status, r.Reason = Added, "not measured in the old run"
		return r
	case n == nil:
		r.Status, r.Reason = Removed, "not measured in the new run"
		return r
	}
	ov, oNum := Number(o.Value)
	nv, nNum := Number(n.Value)
	tol, hasTol := reg.Tolerance(k.id)
	if oNum && nNum {
		ch := round(nv - ov)
		r.Change = &ch
		if ov != 0 {
			pct := round(ch / math.Abs(ov) * 100)
			r.ChangePct = &pct
		}
		if hasTol {
			a := round(tol.Allowed(ov))
			r.Allowed, r.Ignored = &a, tol.Ignore
		}
	}
	switch {
	case o.Pass && !n.Pass && n.Status == verdict.StatusInconclusive:
		r.Status, r.Reason = Regressed, "passed, now inconclusive: "+n.Missing
	case o.Pass && !n.Pass:
		r.Status, r.Reason = Regressed, "passed, now fails"
	case r.Change != nil && r.Allowed != nil && *r.Change > *r.Allowed+epsilon && !r.Ignored:
		r.Status, r.Reason = Regressed, fmt.Sprintf("grew by %s, more than the %s allowed", signed(*r.Change), signed(*r.Allowed))
	case !o.Pass && n.Pass:
		r.Status, r.Reason = Improved, "failed, now passes"
	case r.Change != nil && *r.Change > epsilon:
		r.Status, r.Reason = Worse, "grew within its tolerance"
		if r.Ignored {
			r.Reason = "grew; the plan ignores this target's change"
		} else if r.Allowed == nil {
			r.Reason = "grew; no tolerance applies to this target"
		}
	case r.Change != nil && *r.Change < -epsilon:
		r.Status, r.Reason = Improved, "fell"
	case r.Change == nil && fmt.Sprint(o.Value) != fmt.Sprint(n.Value):
		r.Status, r.Reason = Same, "value changed, pass/fail did not"
	default:
		r.Status, r.Reason = Same, "unchanged"
	}
	return r
}

// Number is a measured value as a float, if it is a number.
func Number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// round keeps six decimals, enough for every target's unit.
func round(v float64) float64 { return math.Round(v*1e6) / 1e6 }

func signed(v float64) string {
	s := fmtNum(v)
	if v >= 0 {
		s = "+" + s
	}
	return s
}
