package kind

import (
	"context"
	"fmt"
	"strings"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// The steps several kinds share. A kind's own steps are in its file.

// PreChecks is step 1 of every kind: baseline traffic, canary probes, the
// pre-check gate.
var PreChecks = Step{
	Do: func(ctx context.Context, d Drill) ([]string, error) { return d.PreChecks(ctx) },
	Says: func(p *plan.Plan) string {
		return fmt.Sprintf("%v on every region; canary probe set; baseline %gs", p.Checks.Pre, p.Phases.BaselineS)
	},
}

// Promote is step 3: one survivor promoted with a new epoch, webhooks
// emitted only from it.
var Promote = Step{
	Do: func(ctx context.Context, d Drill) ([]string, error) { return d.Promote(ctx) },
	Says: func(p *plan.Plan) string {
		return fmt.Sprintf("%s to primary (new epoch); webhooks only from %s", p.PromoteSurvivor, p.WebhookPolicy.EmitFrom)
	},
}

// Hold is step 4: live checks while the change holds, top-k clamped when
// p95 is over the SLO.
var Hold = Step{
	Do:   func(ctx context.Context, d Drill) ([]string, error) { return d.Hold(ctx) },
	Says: holdSays,
}

func holdSays(p *plan.Plan) string {
	return fmt.Sprintf("%gs of live checks %v", p.Phases.HoldS, p.Checks.Live)
}

// VerifyServing is step 5 in the region that serves.
var VerifyServing = Step{
	Do: func(ctx context.Context, d Drill) ([]string, error) { return d.Verify(ctx, d.Serving()) },
	Says: func(p *plan.Plan) string {
		return fmt.Sprintf("probe set in the serving region; rebuild and purge if ΔS ≥ %.2f or citations diverge", p.RAGProbe.DeltaSRisk)
	},
}

// Restore is step 6 of a kind that ends by undoing its changes: the region
// comes back as it was, its cache re-warmed.
var Restore = Step{
	Do: func(ctx context.Context, d Drill) ([]string, error) { return d.Restore(ctx) },
	Says: func(*plan.Plan) string {
		return "undo every change (weights, faults, freeze, primary, emit policy, min instances)"
	},
}

// Closeout is step 7 of every kind: queues drain, canary probes again,
// post-checks.
var Closeout = Step{
	Do: func(ctx context.Context, d Drill) ([]string, error) { return d.Closeout(ctx) },
	Says: func(p *plan.Plan) string {
		return fmt.Sprintf("wait for queues to drain (≤ %gs); post-checks %v", p.Phases.DrainTimeoutS, p.Checks.Post)
	},
}

// Skip is a step the kind leaves out, and why.
func Skip(why string) Step {
	return Step{Says: func(*plan.Plan) string { return "skipped (" + why + ")" }}
}

// share is the traffic share of one region, in percent.
func share(p *plan.Plan) float64 { return 100.0 / float64(len(p.Regions)) }

// DrainByWeight is step 2 of a planned evacuation: pre-warm the survivor
// for the traffic it is about to take, freeze writes, set the region's
// weight to 0.
var DrainByWeight = Step{
	Do: func(ctx context.Context, d Drill) ([]string, error) {
		var notes []string
		if err := d.Prewarm(ctx); err != nil {
			notes = append(notes, "pre-warm: "+err.Error())
		}
		if d.Plan().FreezeWritesOnFollowers {
			if err := freeze(ctx, d, d.Plan().Regions, "freeze writes during the cutover"); err != nil {
				return notes, err
			}
		}
		d.Mark(event.MarkDecision, "evacuate "+d.Changed()+" (weight 0)")
		if err := d.Apply(ctx, adapter.Action{Kind: adapter.SetWeights, Weights: d.Weights(ctx, d.Changed(), 0)},
			&adapter.Action{Kind: adapter.SetWeights, Weights: d.Snapshot().Weights}, "drain the region by weight"); err != nil {
			return notes, err
		}
		return append(notes, fmt.Sprintf("weights: %s → 0", d.Changed())), nil
	},
	Says: func(p *plan.Plan) string {
		return fmt.Sprintf("pre-warm %s; freeze writes; weight of %s → 0 (moves ~%.0f%% of traffic to %s)",
			p.PromoteSurvivor, p.Evacuate, share(p), strings.Join(p.Survivors(), ", "))
	},
}

// Blackhole is step 2 of an unplanned outage: cut the region's ingress and
// egress, then freeze the followers until one region is promoted.
var Blackhole = Step{
	Do: func(ctx context.Context, d Drill) ([]string, error) {
		d.Mark(event.MarkDecision, "blackhole "+d.Changed())
		if err := d.Blackhole(ctx, d.Changed()); err != nil {
			return nil, err
		}
		if d.Plan().FreezeWritesOnFollowers {
			if err := freeze(ctx, d, d.Plan().Survivors(), "freeze follower writes until one region is promoted"); err != nil {
				return nil, err
			}
		}
		return []string{"blackholed " + d.Changed()}, nil
	},
	Says: func(p *plan.Plan) string {
		return fmt.Sprintf("blackhole %s ingress and egress (~%.0f%% of traffic fails over to %s); freeze followers",
			p.Evacuate, share(p), strings.Join(p.Survivors(), ", "))
	},
}

// ClampThenHold is step 4 of an unplanned outage: the survivor is
// pre-warmed after the fact (nobody could before), then the change holds.
var ClampThenHold = Step{
	Do: func(ctx context.Context, d Drill) ([]string, error) {
		var notes []string
		if err := d.Prewarm(ctx); err != nil {
			notes = append(notes, "clamp: "+err.Error())
		}
		more, err := d.Hold(ctx)
		return append(notes, more...), err
	},
	Says: func(p *plan.Plan) string {
		return fmt.Sprintf("pre-warm %s after the fact; %s", p.PromoteSurvivor, holdSays(p))
	},
}

// freeze freezes writes in regions, each frozen flag undone by the restore.
func freeze(ctx context.Context, d Drill, regions []string, why string) error {
	for _, r := range regions {
		if err := d.Apply(ctx, adapter.Action{Kind: adapter.Freeze, Region: r, Frozen: true},
			&adapter.Action{Kind: adapter.Freeze, Region: r, Frozen: false}, why); err != nil {
			return err
		}
	}
	return nil
}
