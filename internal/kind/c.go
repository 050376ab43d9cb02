package kind

import (
	"context"
	"fmt"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// Drill C, index skew: a follower is published with an index built with
// the wrong analyzer or metric. Its contract (INDEX_HASH) must keep it from
// answering clients, and step 5 must rebuild it. Nothing is evacuated and
// nothing promoted: the primary keeps serving.
type indexSkew struct{}

func init() { Register(indexSkew{}) }

func (indexSkew) Info() Info {
	return Info{
		Letter: "C", Name: "index_skew",
		Description: "index skew recovery: publish a follower with the wrong metric or analyzer; contracts refuse reuse and force a rebuild",
		Needs:       []Need{NeedRebuild, NeedPurge, NeedWarm},
		Targets:     []Target{SkewedIndexServed},
	}
}

// Regions: the page skews a follower, never the region whose contract is
// the reference. It is the evacuated region unless that is the primary,
// then the promoted survivor; the primary keeps serving.
func (indexSkew) Regions(p *plan.Plan, primary string) (string, string) {
	if primary == "" {
		primary = p.Primary
	}
	if p.Evacuate != primary {
		return p.Evacuate, primary
	}
	return p.PromoteSurvivor, primary
}

func (indexSkew) Runbook() Runbook {
	return Runbook{
		PreChecks,
		publishSkewed,
		Skip("nothing is evacuated: the primary keeps serving"),
		Hold,
		verifySkewed,
		Skip("the skewed follower was rebuilt in step 5 (or not); the router readmits it after its hysteresis"),
		Closeout,
	}
}

// publishSkewed: clients start asking through the entry, then the follower
// is rebuilt with the plan's skew analyzer and metric.
var publishSkewed = Step{
	Do: func(ctx context.Context, d Drill) ([]string, error) {
		p := d.Plan()
		d.StartIndexTraffic(ctx)
		d.Mark(event.MarkRebuild, "publish skewed "+d.Changed())
		err := d.Apply(ctx, adapter.Action{Kind: adapter.Rebuild, Region: d.Changed(), Analyzer: p.Lab.SkewAnalyzer, Metric: p.Lab.SkewMetric},
			&adapter.Action{Kind: adapter.Rebuild, Region: d.Changed()}, "publish a follower with the wrong analyzer/metric")
		return []string{"published " + d.Changed() + " with analyzer " + p.Lab.SkewAnalyzer}, err
	},
	Says: func(p *plan.Plan) string {
		skewed, _ := indexSkew{}.Regions(p, "")
		return fmt.Sprintf("rebuild %s with analyzer %q (skewed follower, ~%.0f%% of traffic if the gate lets it serve)", skewed, p.Lab.SkewAnalyzer, share(p))
	},
}

// verifySkewed: step 5 verifies the skewed follower, not the serving region.
var verifySkewed = Step{
	Do: func(ctx context.Context, d Drill) ([]string, error) { return d.Verify(ctx, d.Changed()) },
	Says: func(p *plan.Plan) string {
		return fmt.Sprintf("probe set in the skewed follower; rebuild and purge if ΔS ≥ %.2f or citations diverge", p.RAGProbe.DeltaSRisk)
	},
}
