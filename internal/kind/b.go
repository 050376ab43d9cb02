package kind

// Drill B, hard outage: a region is cut off without warning (ingress and
// egress blackholed); sessions stick to the survivor, retries and the
// write queue's replay lose nothing.
type hardOutage struct{ Evacuation }

func init() { Register(hardOutage{}) }

func (hardOutage) Info() Info {
	return Info{
		Letter: "B", Name: "hard_outage",
		Description: "hard outage (blackhole): block the region's ingress and egress; verify stickiness, retries and queue replay",
		Needs:       MovesPrimary,
		Faults:      "blackholes a region",
		Evacuates:   true, Unplanned: true,
		Targets: []Target{Stickiness},
	}
}

func (hardOutage) Runbook() Runbook {
	return Runbook{PreChecks, Blackhole, Promote, ClampThenHold, VerifyServing, Restore, Closeout}
}
