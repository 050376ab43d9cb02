package kind

import "github.com/regiondrill/regiondrill/internal/plan"

// Drill B, hard outage: a region is cut off without warning (ingress and
// egress blackholed); sessions stick to the survivor, retries and the
// write queue's replay lose nothing.
type hardOutage struct{}

func init() { Register(hardOutage{}) }

func (hardOutage) Info() Info {
	return Info{
		Letter: "B", Name: "hard_outage",
		Description: "hard outage (blackhole): block the region's ingress and egress; verify stickiness, retries and queue replay",
		Needs:       []Need{NeedFreeze, NeedPromote, NeedWarm, NeedScale, NeedEmit},
		Faults:      "blackholes a region",
		Evacuates:   true, Unplanned: true,
		Targets: []Target{Stickiness},
	}
}

func (hardOutage) Regions(p *plan.Plan, primary string) (string, string) {
	return PlanRegions(p, primary)
}

func (hardOutage) Runbook() Runbook {
	return Runbook{PreChecks, Blackhole, Promote, ClampThenHold, VerifyServing, Restore, Closeout}
}
