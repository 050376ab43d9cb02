package judge_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/judge"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/probe"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// Region indexes of the recorded load: us-east is evacuated, eu-west survives.
const (
	usEast uint8 = 1
	euWest uint8 = 2
)

// answer is how the lab answered one request of the synthetic drill.
type answer struct {
	region uint8 // X-Region, 0 when nothing answered
	err    load.ErrClass
	status uint16
	lat    time.Duration
	cold   bool
}

// synthDrill is a drill A of two regions as its journal records it, written
// with the journal's own writer on a fake clock: 10 s of baseline traffic,
// the evacuation at 10 s, the region back at 40 s, the load at rate req/s
// from 40 sessions. Each test changes what it needs and judges the journal.
type synthDrill struct {
	rate int
	// answer decides request i, scheduled at t (since the load started), of
	// session s. The default: sessions split between the regions before the
	// evacuation, all on eu-west after it, 200 ms each.
	answer func(i int, t time.Duration, s uint32) answer
	// The post-checks' values and each probe event's error, as the drill
	// journaled them.
	answersEqual     string
	answersEqualPass bool
	probeError       map[string]string // region → error of its "after" probe event
	probeResults     map[string]int    // region → results in its "after" probe event; default 24
	// gateRefused lists pre-checks that failed: the run then ends
	// gate_failed (its records are still journaled).
	gateRefused []string
	// stalls are the spans the measuring process could not run in, as the
	// stall monitor journaled them.
	stalls []event.Stall
	// planExtra is spliced into the plan as more top-level fields.
	planExtra string
	// loadEnds, when set, is when the load stopped (no request is
	// scheduled from then on), and loadError what the drill journaled.
	loadEnds  time.Duration
	loadError string
	// letter is the drill's kind; default A.
	letter event.Letter
	// sessionLife, when set, makes sessions end and new ones begin as the
	// generator's load.session_s does: slot s's first session ends at
	// life·(s+1)/40, each later one lives life, and each has a number of
	// its own.
	sessionLife time.Duration
	// weightSteps are the return's gradual weight steps (before restoreAt).
	weightSteps []time.Duration
}

func (d *synthDrill) drill() event.Letter {
	if d.letter == "" {
		return "A"
	}
	return d.letter
}

// session is the number of the session slot s runs at t.
func (d *synthDrill) session(s uint32, t time.Duration) uint32 {
	if d.sessionLife <= 0 {
		return s
	}
	first := d.sessionLife * time.Duration(s+1) / 40
	if t < first {
		return s
	}
	gen := 1 + uint32((t-first)/d.sessionLife)
	return gen*40 + s
}

const (
	decisionAt = 10 * time.Second
	restoreAt  = 40 * time.Second
	runFor     = 45 * time.Second
)

func healthyDrill() *synthDrill {
	return &synthDrill{rate: 80, answer: healthyAnswer, answersEqual: "0 differ", answersEqualPass: true}
}

func healthyAnswer(_ int, t time.Duration, s uint32) answer {
	if (t < decisionAt || t >= restoreAt) && s%2 == 0 {
		return answer{region: usEast, status: 200, lat: 200 * time.Millisecond}
	}
	return answer{region: euWest, status: 200, lat: 200 * time.Millisecond}
}

// records is the load the drill recorded: asks, every fifth request a write.
func (d *synthDrill) records() ([]load.Record, []load.WriteAttempt) {
	var recs []load.Record
	var writes []load.WriteAttempt
	n := int(runFor.Seconds()) * d.rate
	for i := range n {
		t := time.Duration(i) * time.Second / time.Duration(d.rate)
		if d.loadEnds > 0 && t >= d.loadEnds {
			break
		}
		s := d.session(uint32(i%40), t)
		a := d.answer(i, t, s)
		r := load.Record{Seq: uint64(i), Kind: load.KindAsk, Session: s, Sched: int64(t), Start: int64(t), End: int64(t + a.lat),
			Status: a.status, Region: a.region, Sticky: a.region, Err: a.err, Cold: a.cold}
		if i%5 == 0 {
			r.Kind, r.WriteID = load.KindWrite, uint64(i+1)
			w := load.WriteAttempt{ID: r.WriteID, Key: fmt.Sprintf("w-1-%d", r.WriteID), Tenant: "t1", EventID: fmt.Sprint(i), Rev: 1,
				BodyHash: "h", Outcome: load.OutcomeIndeterminate, Attempts: 1, FirstSent: r.Start, LastEnd: r.End}
			if a.err == load.ErrNone {
				w.Outcome, w.AckedBy = load.OutcomeAcked, "eu-west"
			}
			writes = append(writes, w)
		}
		recs = append(recs, r)
	}
	return recs, writes
}

// journal writes the drill's journal and returns its path.
func (d *synthDrill) journal(t *testing.T) string {
	t.Helper()
	origin := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := origin
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := journal.Create(path, origin, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) { now = origin.Add(d) }
	put := func(typ journal.Type, step string, data any) {
		t.Helper()
		if _, err := j.Append(typ, step, "", data); err != nil {
			t.Fatal(err)
		}
	}
	step := func(name event.Step, from, to time.Duration, notes ...string) {
		at(from)
		put(journal.StepStart, string(name), event.StepStart{Drill: d.drill()})
		at(to)
		put(journal.StepEnd, string(name), event.StepEnd{Drill: d.drill(), Outcome: event.StepOK, Notes: notes})
	}
	mark := func(when time.Duration, kind event.MarkKind, label string) {
		at(when)
		put(journal.Mark, "", event.Mark{Drill: d.drill(), Kind: kind, Label: label})
	}
	regions := []string{"us-east", "eu-west"}
	health := map[string]contract.Health{}
	for _, r := range regions {
		health[r] = contract.Health{Region: r, Ready: true, Role: contract.RoleFollower, IndexHash: "ih-1", SchemaRev: "s1", ModelTag: "m1"}
	}
	probes := func(phase event.ProbePhase, when time.Duration) {
		at(when)
		for _, r := range regions {
			n, msg := 24, ""
			if phase == event.ProbeAfter {
				if v, ok := d.probeResults[r]; ok {
					n = v
				}
				msg = d.probeError[r]
			}
			var res []probe.Result
			for i := range n {
				res = append(res, probe.Result{ProbeID: fmt.Sprintf("probe-%03d", i+1), DeltaS: 0.3, Coverage: 0.9, Lambda: probe.Convergent, CitesGold: true,
					Grounded: 1, TopChunks: []string{"d/1", "d/2", "d/3", "d/4", "d/5"}})
			}
			put(journal.Probe, "", event.Probe{Drill: d.drill(), Phase: phase, Region: r, Results: res, Error: msg})
		}
	}

	put(journal.RunStart, "", event.RunStart{
		// The checks this journal records: no live check, two post-checks.
		Plan: []byte(`{"regions":["us-east","eu-west"],"evacuate":"us-east","promote_survivor":"eu-west","drills":["` + string(d.drill()) + `"],
			"checks":{"live":[],"post":["answers_equal","contracts_equal"]}` + d.planExtra + `}`),
		Target: "lab", Origin: origin, Regions: regions, Drills: []event.Letter{d.drill()},
		Snapshot: event.Snapshot{Primary: "us-east", Epoch: 1, EmitFrom: map[string][]string{"us-east": {"us-east"}}},
	})
	put(journal.LoadStart, "", event.LoadStart{AtMS: 0})
	probes(event.ProbeBefore, 100*time.Millisecond)
	step(event.StepPre, 0, decisionAt)
	put(journal.Baseline, "", event.Baseline{Drill: d.drill(), FromMS: 5000, ToMS: decisionAt.Milliseconds()})
	mark(decisionAt, event.MarkDecision, "evacuate us-east (weight 0)")
	step(event.StepEvacuate, decisionAt, decisionAt+100*time.Millisecond)
	step(event.StepPromote, decisionAt+100*time.Millisecond, decisionAt+time.Second)
	step(event.StepObserve, decisionAt+time.Second, 30*time.Second)
	step(event.StepVerify, 30*time.Second, 32*time.Second)
	for i, at := range d.weightSteps {
		mark(at, event.MarkWeight, fmt.Sprintf("us-east → step %d", i+1))
	}
	mark(restoreAt, event.MarkRestore, "restore us-east")
	step(event.StepReturn, 32*time.Second, restoreAt+time.Second)
	probes(event.ProbeAfter, restoreAt+time.Second)
	at(restoreAt + 2*time.Second)
	put(journal.Check, "", event.Check{Phase: plan.PhasePost, Name: plan.CheckContractsEqual, Drill: d.drill(), Pass: true, Value: "equal"})
	put(journal.Check, "", event.Check{Phase: plan.PhasePost, Name: plan.CheckAnswersEqual, Drill: d.drill(), Pass: d.answersEqualPass, Value: d.answersEqual})
	put(journal.Health, "", event.Health{Regions: health})
	put(journal.Drained, "", event.Drained{Drill: d.drill(), OK: true, Seconds: 0.5})
	step(event.StepClose, restoreAt+time.Second, runFor)

	if d.loadError != "" {
		at(d.loadEnds)
		put(journal.LoadError, "", event.LoadError(d.loadError))
	}
	for _, st := range d.stalls {
		at(time.Duration(st.ToMS) * time.Millisecond)
		put(journal.Stall, "", st)
	}
	at(runFor)
	recs, writes := d.records()
	put(journal.RegionsIndex, "", event.RegionsIndex{"", "us-east", "eu-west"})
	put(journal.Records, "", load.Batch(recs))
	put(journal.Writes, "", writes)
	var stored []contract.StoredWrite
	for _, w := range writes {
		if w.Outcome == load.OutcomeAcked {
			stored = append(stored, contract.StoredWrite{Key: w.Key, Tenant: w.Tenant, BodyHash: w.BodyHash, AppliedBy: "us-east", Epoch: 1, AppliedAt: origin})
		}
	}
	put(journal.Stores, "", []contract.Writes{{Region: "us-east", Writes: stored}, {Region: "eu-west"}})
	end := event.RunEnd{Outcome: event.Completed}
	for _, name := range d.gateRefused {
		put(journal.Check, "", event.Check{Phase: plan.PhasePre, Name: plan.CheckName(name), Drill: d.drill(), Pass: false, Value: "refused"})
		end = event.RunEnd{Outcome: event.GateFailed, Reason: fmt.Sprintf("pre-check gate failed: %v", d.gateRefused)}
	}
	put(journal.RunEnd, "", end)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// judged writes and judges the drill's journal.
func (d *synthDrill) judged(t *testing.T) *verdict.Report {
	t.Helper()
	evs, err := journal.ReadFile(d.journal(t))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := judge.Build(evs)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func targetOf(rep *verdict.Report, id string) verdict.Target {
	for _, a := range rep.Acceptance {
		if a.ID == id {
			return a
		}
	}
	return verdict.Target{ID: id, Value: "missing"}
}

// The synthetic healthy drill passes every target: the cases below differ
// from it in one thing only.
func TestSyntheticHealthyDrillPasses(t *testing.T) {
	rep := healthyDrill().judged(t)
	if rep.Verdict != verdict.Pass {
		t.Fatalf("verdict %s (%s): %+v", rep.Verdict, rep.Reason, rep.Failed())
	}
}
