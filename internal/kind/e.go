package kind

import (
	"context"
	"fmt"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// Drill E, return-to-home: the region is evacuated as in drill A, then
// brought back: repaired, rebuilt from the same artifact, its index checked
// against the survivor's, its cache purged and re-warmed, its weight raised
// step by step under the live checks, and the primary handed back home.
type returnToHome struct{ Evacuation }

func init() { Register(returnToHome{}) }

func (returnToHome) Info() Info {
	return Info{
		Letter: "E", Name: "return_to_home",
		Description: "return-to-home: reintroduce the region, rebuild indices, re-warm caches, rebalance gradually",
		Needs:       append([]Need{NeedRebuild, NeedPurge}, MovesPrimary...),
		Evacuates:   true,
		Targets:     []Target{CachePurged, Rebalanced},
	}
}

// Runbook: drill A's, but the region comes back by the page's return
// rather than by undoing the changes.
func (returnToHome) Runbook() Runbook {
	r := plannedEvacuation{}.Runbook()
	r[5] = returnHome
	return r
}

var returnHome = Step{
	Do: func(ctx context.Context, d Drill) ([]string, error) {
		var notes []string
		p, home, serving := d.Plan(), d.Changed(), d.Serving()
		// The repaired region must be reachable before anything else.
		if err := d.Apply(ctx, adapter.Action{Kind: adapter.ClearFaults, Region: home}, nil, "repair: lift faults"); err != nil {
			return notes, err
		}
		if p.ReturnToHome.RebuildFollower {
			d.Mark(event.MarkRebuild, "rebuild "+home)
			if err := d.Apply(ctx, adapter.Action{Kind: adapter.Rebuild, Region: home}, nil, "rebuild from the same artifact"); err != nil {
				return notes, err
			}
		}
		hh, _ := d.Health(ctx, home)
		sh, _ := d.Health(ctx, serving)
		if hh.IndexHash != sh.IndexHash {
			notes = append(notes, fmt.Sprintf("INDEX_HASH of %s (%s) differs from %s (%s): refusing reuse", home, hh.IndexHash, serving, sh.IndexHash))
			d.RefuseReuse(home)
			return notes, d.Failed("index hash mismatch after rebuild: %s keeps weight 0", home)
		}
		if p.ReturnToHome.PurgeCache {
			if err := d.PurgeWithEvidence(ctx, home); err != nil {
				return notes, err
			}
			if err := d.Warm(ctx, home); err != nil {
				notes = append(notes, "re-warm: "+err.Error())
			}
		}
		// Unfreeze the returning region (it forwards its queue to the primary).
		if err := d.Apply(ctx, adapter.Action{Kind: adapter.Freeze, Region: home, Frozen: false}, nil, "the returning region forwards its queue"); err != nil {
			return notes, err
		}
		prev := 0
		for _, w := range p.ReturnToHome.GradualWeights {
			d.Mark(event.MarkWeight, fmt.Sprintf("%s → %d", home, w))
			if err := d.Apply(ctx, adapter.Action{Kind: adapter.SetWeights, Weights: d.Weights(ctx, home, w)},
				&adapter.Action{Kind: adapter.SetWeights, Weights: d.Weights(ctx, home, prev)}, "gradual weight step"); err != nil {
				return notes, err
			}
			if err := d.Sleep(ctx, plan.Seconds(p.Phases.StepHoldS)); err != nil {
				return notes, err
			}
			if failed := d.LiveChecks(ctx); len(failed) > 0 {
				notes = append(notes, fmt.Sprintf("guard failed at weight %d: %v; holding one more step", w, failed))
				if err := d.Sleep(ctx, plan.Seconds(p.Phases.StepHoldS)); err != nil {
					return notes, err
				}
			}
			prev = w
		}
		// Hand the primary back home with a fence.
		d.Mark(event.MarkRestore, "primary back to "+home)
		return notes, d.RestoreAll(ctx)
	},
	Says: func(p *plan.Plan) string {
		return fmt.Sprintf("rebuild %s, confirm INDEX_HASH, purge and re-warm, weights %v, primary back home", p.Evacuate, p.ReturnToHome.GradualWeights)
	},
}
