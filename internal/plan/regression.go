package plan

import (
	"encoding/json"
	"math"
	"reflect"

	"github.com/regiondrill/regiondrill/internal/schema"
)

// Regression says how far each numeric acceptance target may move against a
// baseline run before `regiondrill compare` (and `run --compare-to`) call
// the change a regression. Every target here is "lower is better": only an
// increase can regress. A target that passed in the baseline and fails now
// is a regression whatever its tolerance; targets without a number
// (index_hash_parity, contracts_equal, answers_equal, lambda) regress only
// that way.
//
// A target's tolerance given in the plan replaces its default as a whole.
type Regression struct {
	CutoverS          *Tolerance `json:"cutover_s,omitempty" doc:"Allowed increase of the cutover time. Default {max_increase_pct: 50, max_increase: 3} (seconds)."`
	P95VsBaseline     *Tolerance `json:"p95_vs_baseline,omitempty" doc:"Allowed increase of p95 growth over baseline (a ratio: 0.5 = 50 points). Default {max_increase: 0.5}."`
	Max5xxBurstS      *Tolerance `json:"max_5xx_burst_s,omitempty" doc:"Allowed increase of the longest 5xx burst. Default {max_increase_pct: 50, max_increase: 6} (seconds)."`
	WriteLoss         *Tolerance `json:"write_loss,omitempty" doc:"Allowed increase of lost writes. Default {max_increase: 0}."`
	Duplicates        *Tolerance `json:"duplicates,omitempty" doc:"Allowed increase of duplicated writes. Default {max_increase: 0}."`
	BacklogDrainS     *Tolerance `json:"backlog_drain_s,omitempty" doc:"Allowed increase of the backlog drain time. Default {max_increase_pct: 100, max_increase: 60} (seconds)."`
	DeltaS            *Tolerance `json:"delta_s,omitempty" doc:"Allowed increase of the median ΔS. Default {max_increase: 0.05}."`
	WebhookDuplicates *Tolerance `json:"webhook_duplicates,omitempty" doc:"Allowed increase of duplicate or misrouted webhooks. Default {max_increase: 0}."`
	CachePurged       *Tolerance `json:"cache_purged,omitempty" doc:"Allowed increase of cache entries left after a purge. Default {max_increase: 0}."`
}

// Tolerance is one target's allowed increase over the baseline: the larger
// of MaxIncrease and MaxIncreasePct of the baseline value. Both zero allows
// no increase at all.
type Tolerance struct {
	MaxIncrease    float64 `json:"max_increase" range:"[0,)" doc:"Largest allowed increase, in the target's unit. Default 0."`                // target unit; default 0
	MaxIncreasePct float64 `json:"max_increase_pct" range:"[0,)" doc:"Largest allowed increase in percent of the baseline value. Default 0."` // percent; default 0
	Ignore         bool    `json:"ignore,omitempty" doc:"Show the change but never fail on it (pass to fail still fails). Default false."`    // default false
}

// Allowed is the largest increase over base that is not a regression.
func (t Tolerance) Allowed(base float64) float64 {
	return max(t.MaxIncrease, math.Abs(base)*t.MaxIncreasePct/100)
}

func tol(abs, pct float64) *Tolerance { return &Tolerance{MaxIncrease: abs, MaxIncreasePct: pct} }

// defaultRegression holds every target's default tolerance. Changes smaller
// than about a tenth of the page's threshold are noise: passing runs of one
// plan on a busy 2-core machine spread over 0-2.2 s of cutover, 0-37 s of
// 5xx burst, 0.8-17.5 s of backlog drain and 0.5 of p95 growth.
var defaultRegression = Regression{
	CutoverS:          tol(3, 50),
	P95VsBaseline:     tol(0.5, 0),
	Max5xxBurstS:      tol(6, 50),
	WriteLoss:         tol(0, 0),
	Duplicates:        tol(0, 0),
	BacklogDrainS:     tol(60, 100),
	DeltaS:            tol(0.05, 0),
	WebhookDuplicates: tol(0, 0),
	CachePurged:       tol(0, 0),
}

// regressionFields are Regression's fields by target id, from its json tags.
var regressionFields = func() map[string]int {
	m := map[string]int{}
	for _, f := range schema.Fields(reflect.TypeFor[Regression]()) {
		m[f.Name] = f.Index
	}
	return m
}()

// RegressionTargets are the acceptance target ids a tolerance can be set
// for, in the order of the Regression type.
func RegressionTargets() []string {
	var out []string
	for _, f := range schema.Fields(reflect.TypeFor[Regression]()) {
		out = append(out, f.Name)
	}
	return out
}

// Tolerance returns the tolerance of the target id (the plan's, else the
// default) and whether id has one at all.
func (r Regression) Tolerance(id string) (Tolerance, bool) {
	i, ok := regressionFields[id]
	if !ok {
		return Tolerance{}, false
	}
	if t := reflect.ValueOf(r).Field(i).Interface().(*Tolerance); t != nil {
		return *t, true
	}
	return *reflect.ValueOf(defaultRegression).Field(i).Interface().(*Tolerance), true
}

// DefaultRegression returns every target's default tolerance.
func DefaultRegression() Regression {
	var r Regression
	r.fillDefaults()
	return r
}

// UnmarshalJSON decodes the block onto no tolerance at all, then fills in
// the defaults of the targets it leaves out: a tolerance given replaces the
// default as a whole instead of being merged field by field into it.
func (r *Regression) UnmarshalJSON(b []byte) error {
	type plain Regression
	var x plain
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	*r = Regression(x)
	r.fillDefaults()
	return nil
}

// fillDefaults sets every tolerance the plan left out to its default.
func (r *Regression) fillDefaults() {
	v, d := reflect.ValueOf(r).Elem(), reflect.ValueOf(defaultRegression)
	for _, i := range regressionFields {
		if v.Field(i).IsNil() {
			t := *d.Field(i).Interface().(*Tolerance)
			v.Field(i).Set(reflect.ValueOf(&t))
		}
	}
}

func (p *Plan) validateRegression(es *Errors) {
	v := reflect.ValueOf(p.Regression)
	for _, id := range RegressionTargets() {
		t, _ := v.Field(regressionFields[id]).Interface().(*Tolerance)
		if t == nil {
			continue
		}
		base := child("$.regression", id)
		if !(t.MaxIncrease >= 0) || math.IsInf(t.MaxIncrease, 0) {
			es.add(base+".max_increase", "must be a finite number ≥ 0, got %v", t.MaxIncrease)
		}
		if !(t.MaxIncreasePct >= 0) || math.IsInf(t.MaxIncreasePct, 0) {
			es.add(base+".max_increase_pct", "must be a finite percentage ≥ 0, got %v", t.MaxIncreasePct)
		}
	}
}
