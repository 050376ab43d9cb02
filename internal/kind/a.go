package kind

// Drill A, planned evacuation: a region is drained by policy while it
// still works; its traffic moves to the survivor without flapping back.
type plannedEvacuation struct{ Evacuation }

func init() { Register(plannedEvacuation{}) }

func (plannedEvacuation) Info() Info {
	return Info{
		Letter: "A", Name: "planned_evacuation",
		Description: "planned evacuation (brownout): throttle a region by policy, traffic drains to the survivor without flapping",
		Needs:       MovesPrimary,
		Evacuates:   true,
		Targets:     []Target{NoFlapping},
	}
}

func (plannedEvacuation) Runbook() Runbook {
	return Runbook{PreChecks, DrainByWeight, Promote, Hold, VerifyServing, Restore, Closeout}
}
