// Package event is the journal's vocabulary: the data of every event type
// (journal.Type) the engine writes and the judge, the views and rollback
// read, and the typed values those events carry (outcomes, phases, step
// names, drill letters, mark kinds). It sits below the engine (package
// drill) and the judge, so the reader never depends on the writer.
//
// Every type and its data:
//
//	run_start          RunStart
//	run_end            RunEnd
//	step_start         StepStart
//	step_end           StepEnd
//	intent             Intent
//	applied            Applied (the action)
//	undone             Undone (the undo's action)
//	apply_failed       ApplyFailed
//	undo_failed        UndoFailed
//	check              Check
//	probe              Probe
//	health             Health
//	stop               Stop
//	stall              Stall
//	records            load.Batch
//	writes             []load.WriteAttempt
//	stores             []contract.Writes
//	webhooks           []contract.Delivery
//	mark               Mark
//	baseline           Baseline
//	drained            Drained
//	refused            Refused
//	refused_reuse      RefusedReuse
//	cache_purge        CachePurge
//	index_traffic      IndexTraffic
//	load_start         LoadStart
//	load_error         LoadError
//	load_summary       load.Summary
//	regions_index      RegionsIndex
//	store_error        StoreError
//	deliveries_error   DeliveriesError
//	deliveries_waived  DeliveriesWaived
//	rollback           Rollback
//	agents_vantages    []Vantage
//	agents_clock       AgentsClock
//	agents_start       AgentStart
//	agents_end         AgentEnd
//	agents_lost        AgentLost
//	agents_bad_data    AgentBadData
//
// The types from mark on travel inside a note on the wire (see
// journal.Noted); journals of every version read the same.
package event

// Letter is a drill kind's letter as the journal names it ("A"). The kinds
// and their letters are registered in package kind.
type Letter string

// Step is the name of one of the seven steps of the page's runbook, as the
// journal's events carry it in their step field.
type Step string

// The runbook's steps, in order.
const (
	StepPre      Step = "1 pre-checks"
	StepEvacuate Step = "2 evacuate"
	StepPromote  Step = "3 promote"
	StepObserve  Step = "4 observe and clamp"
	StepVerify   Step = "5 verify answers"
	StepReturn   Step = "6 return-to-home"
	StepClose    Step = "7 closeout"
)

// Steps are the runbook's seven steps in order.
var Steps = [7]Step{StepPre, StepEvacuate, StepPromote, StepObserve, StepVerify, StepReturn, StepClose}

// The restores outside the runbook: the run's own when it ends, whatever
// happened, and regiondrill rollback's.
const (
	StepCloseout Step = "closeout"
	StepRollback Step = "rollback"
)

// Outcome is how a run ended (RunEnd.Outcome).
type Outcome string

const (
	Completed      Outcome = "completed"       // every drill ran its seven steps
	GateFailed     Outcome = "gate_failed"     // a pre-check refused the drill: nothing was changed
	Stopped        Outcome = "stopped"         // a stop condition tripped
	DrillFailed    Outcome = "drill_failed"    // the drill found a failure it must not go past
	Interrupted    Outcome = "interrupted"     // the user interrupted it; restored
	Error          Outcome = "error"           // the tool failed (a target or the journal would not answer)
	RolledBack     Outcome = "rolled_back"     // regiondrill rollback restored the snapshot
	RollbackFailed Outcome = "rollback_failed" // regiondrill rollback could not restore everything
)

// StepOutcome is how a runbook step ended (StepEnd.Outcome).
type StepOutcome string

const (
	StepOK          StepOutcome = "ok"
	StepPartial     StepOutcome = "partial" // an action missed the region the drill cut off, as expected
	StepSkipped     StepOutcome = "skipped" // not part of this drill kind
	StepInterrupted StepOutcome = "interrupted"
	StepFailed      StepOutcome = "failed"
)

// ProbePhase is when a probe set was asked (Probe.Phase).
type ProbePhase string

const (
	ProbeBefore ProbePhase = "before" // the canary of the pre-checks, before any change
	ProbeAfter  ProbePhase = "after"  // at closeout, after the restore
	ProbeVerify ProbePhase = "verify" // step 5, in the region whose answers are verified
)

// MarkKind is the kind of an action on the timeline (Mark.Kind).
type MarkKind string

const (
	MarkDecision MarkKind = "decision" // the evacuation decision: the cutover is measured from it
	MarkPromote  MarkKind = "promote"
	MarkRebuild  MarkKind = "rebuild"
	MarkPurge    MarkKind = "purge"
	MarkWeight   MarkKind = "weight" // a gradual weight step of the return
	MarkRestore  MarkKind = "restore"
	MarkClamp    MarkKind = "clamp" // top-k lowered while p95 was over the SLO
)
