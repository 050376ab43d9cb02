package kind

import "github.com/regiondrill/regiondrill/internal/plan"

// Drill D, webhook reroute: the region fails as in drill B, and its
// webhooks must come from the survivor alone, none twice, none missing.
type webhookReroute struct{}

func init() { Register(webhookReroute{}) }

func (webhookReroute) Info() Info {
	return Info{
		Letter: "D", Name: "webhook_reroute",
		Description: "webhook and egress reroute: fail the region, deliver webhooks only from the survivor, no duplicates",
		Needs:       []Need{NeedFreeze, NeedPromote, NeedWarm, NeedScale, NeedEmit},
		Faults:      "blackholes a region",
		Sink:        "reconciles webhook deliveries",
		Evacuates:   true, Unplanned: true,
		Targets: []Target{Webhooks},
	}
}

func (webhookReroute) Regions(p *plan.Plan, primary string) (string, string) {
	return PlanRegions(p, primary)
}

func (webhookReroute) Runbook() Runbook {
	return Runbook{PreChecks, Blackhole, Promote, ClampThenHold, VerifyServing, Restore, Closeout}
}
