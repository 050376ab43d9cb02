// Package judge turns a drill's journal into its verdict: acceptance targets,
// the write ledger, webhook reconciliation, diagnoses with the page's exact
// fixes, and the per-second series. It is a pure function of the journal: it
// reads no clock and no network, so a report can be rebuilt from a journal.
package judge

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/kind"
	"github.com/regiondrill/regiondrill/internal/ledger"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/measure"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// run is what the journal says, parsed once.
type run struct {
	start     event.RunStart
	end       event.RunEnd
	plan      *plan.Plan
	loadAtMS  int64
	regions   []string // load region index table
	records   []load.Record
	writes    []load.WriteAttempt
	stores    []contract.Writes
	webhooks  []contract.Delivery
	health    []sample
	stalls    []event.Stall         // spans the measuring process could not run (journal ms)
	cuts      map[string][][2]int64 // per region, the spans (journal ms) a blackhole cut it off; an open span ends at -1
	unstalled []load.Record         // records timed while it ran; built once, by cleanRecords
	probes    []event.Probe
	checks    []verdict.Check
	steps     []verdict.Step
	marks     []markAt
	drained   map[event.Letter]event.Drained
	stops     []event.Stop
	loadErrs  []string // why the load could not run, as journaled
	refused   []string
	loadSum   json.RawMessage
	policy    []policyAt
	baselines []event.Baseline
	lastAtMS  int64
	openSteps map[string]int
	obs       observations // what the drill saw or failed to see (evidence.go)
	agents    agentNotes   // what the agents' coordinator journaled (vantage.go)

	// Bulk data batch by batch, each filled by a decode worker (see later);
	// finish waits for them and joins each kind once, at its exact size.
	decoders     decoders
	recBatches   []*load.Batch
	writeBatches []*[]load.WriteAttempt
	storeBatches []*[]contract.Writes
	hookBatches  []*[]contract.Delivery
}

type sample struct {
	at int64
	event.Health
}

type markAt struct {
	at int64
	event.Mark
}

type policyAt struct {
	at   int64
	emit []string
}

// policyAt is the webhook emit policy in force at ms.
func (r *run) policyAt(ms int64) []string {
	cur := r.start.Snapshot.EmitFrom[r.start.Snapshot.Primary]
	if len(cur) == 0 {
		cur = []string{r.start.Snapshot.Primary}
	}
	for _, p := range r.policy {
		if p.at <= ms {
			cur = p.emit
		}
	}
	return cur
}

func newRun() *run {
	return &run{drained: map[event.Letter]event.Drained{}, openSteps: map[string]int{}, obs: newObservations()}
}

func parse(evs []journal.Event) (*run, error) {
	r := newRun()
	for _, ev := range evs {
		if err := r.add(ev); err != nil {
			return nil, err
		}
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	return r, nil
}

// add takes in one journal event.
func (r *run) add(ev journal.Event) error {
	r.lastAtMS = max(r.lastAtMS, ev.At)
	var err error
	switch ev.Type {
	case journal.RunStart:
		err = ev.Decode(&r.start)
	case journal.RunEnd:
		err = ev.Decode(&r.end)
	case journal.StepStart:
		sd := decode[event.StepStart](ev, &err)
		r.openSteps[string(sd.Drill)+"|"+ev.Step] = len(r.steps)
		r.steps = append(r.steps, verdict.Step{Drill: string(sd.Drill), Name: ev.Step, StartMS: ev.At, EndMS: ev.At, Outcome: "running"})
	case journal.StepEnd:
		sd := decode[event.StepEnd](ev, &err)
		if i, ok := r.openSteps[string(sd.Drill)+"|"+ev.Step]; ok {
			r.steps[i].EndMS, r.steps[i].Outcome, r.steps[i].Notes = ev.At, string(sd.Outcome), sd.Notes
			delete(r.openSteps, string(sd.Drill)+"|"+ev.Step)
		}
	case journal.Check:
		c := decode[event.Check](ev, &err)
		r.checks = append(r.checks, verdict.Check{Phase: string(c.Phase), Name: string(c.Name), Drill: string(c.Drill), Pass: c.Pass,
			Value: c.Value, Detail: c.Detail, AtMS: c.AtMS, Advisory: c.Advisory})
	case journal.Probe:
		r.probes = append(r.probes, decode[event.Probe](ev, &err))
	case journal.Stall:
		r.stalls = append(r.stalls, decode[event.Stall](ev, &err))
	case journal.Health:
		r.health = append(r.health, sample{at: ev.At, Health: decode[event.Health](ev, &err)})
	case journal.Records: // bulk data: decoded on the workers, joined in finish
		r.recBatches = append(r.recBatches, later[load.Batch](r, ev))
	case journal.Writes: // one or more batches
		r.writeBatches = append(r.writeBatches, later[[]load.WriteAttempt](r, ev))
	case journal.Stores: // one or more batches, a region may span several
		r.storeBatches = append(r.storeBatches, later[[]contract.Writes](r, ev))
	case journal.Webhooks: // one or more batches
		r.hookBatches = append(r.hookBatches, later[[]contract.Delivery](r, ev)) // the sink's contract.Delivery, same fields
	case journal.Intent:
		// The emit policy the drill intended from this moment: a region
		// that did not learn it (cut off) and emits anyway is the failure
		// the reconciliation looks for.
		var c event.Intent
		if ev.Decode(&c) == nil && c.Do.Kind == adapter.EmitFrom {
			r.policy = append(r.policy, policyAt{at: ev.At, emit: c.Do.EmitFrom})
		}
	case journal.Applied, journal.Undone:
		// Blackholes and their lifting: a region cut off from the sink
		// never hears the sink's answer, and sends that webhook again.
		var a event.Applied // an undone event's data is the same action
		if ev.Decode(&a) == nil {
			r.noteCut(a.Action, ev.At)
		}
	case journal.Stop:
		r.stops = append(r.stops, decode[event.Stop](ev, &err))
	case journal.LoadError:
		r.loadErrs = append(r.loadErrs, string(decode[event.LoadError](ev, &err)))
	case journal.Mark:
		r.marks = append(r.marks, markAt{at: ev.At, Mark: decode[event.Mark](ev, &err)})
	case journal.LoadStart:
		r.loadAtMS = decode[event.LoadStart](ev, &err).AtMS
	case journal.RegionsIndex:
		r.regions = decode[event.RegionsIndex](ev, &err)
	case journal.Drained:
		d := decode[event.Drained](ev, &err)
		r.drained[d.Drill] = d
	case journal.LoadSummary:
		r.loadSum = bytes.Clone(ev.Data)
	case journal.Baseline:
		r.baselines = append(r.baselines, decode[event.Baseline](ev, &err))
	case journal.Refused:
		n := decode[event.Refused](ev, &err)
		r.refused = append(r.refused, string(n.Action)+": "+n.Why)
	case journal.StoreError, journal.DeliveriesError, journal.DeliveriesWaived, journal.CachePurge, journal.IndexTraffic:
		err = r.observed(ev)
	case journal.AgentsVantages, journal.AgentsLost, journal.AgentsEnd, journal.AgentsClock:
		err = r.agents.add(ev)
	}
	if err != nil {
		return fmt.Errorf("journal event %d (%s): %w", ev.Seq, ev.Type, err)
	}
	return nil
}

// decode is ev's data as a T; a failure is kept in *err.
func decode[T any](ev journal.Event, err *error) T {
	var v T
	if e := ev.Decode(&v); e != nil {
		*err = e
	}
	return v
}

// decoders decode bulk events on up to GOMAXPROCS goroutines while the
// journal is still being read: decoding is most of the judge's work on a
// large run, and each batch decodes on its own.
type decoders struct {
	wg     sync.WaitGroup
	sem    chan struct{}
	mu     sync.Mutex
	err    error
	errSeq int
}

// later decodes ev's data into a new T on a worker and returns where the
// result will be once finish has waited. ev's data is copied: the journal
// scanner reuses its buffer.
func later[T any](r *run, ev journal.Event) *T {
	d := &r.decoders
	if d.sem == nil {
		d.sem = make(chan struct{}, runtime.GOMAXPROCS(0))
	}
	out := new(T)
	ev.Data = bytes.Clone(ev.Data)
	d.sem <- struct{}{}
	d.wg.Go(func() {
		defer func() { <-d.sem }()
		if err := ev.Decode(out); err != nil {
			d.mu.Lock()
			if d.err == nil || ev.Seq < d.errSeq { // report the first in the journal
				d.err, d.errSeq = fmt.Errorf("journal event %d (%s): %w", ev.Seq, ev.Type, err), ev.Seq
			}
			d.mu.Unlock()
		}
	})
	return out
}

func (d *decoders) wait() error {
	d.wg.Wait()
	return d.err
}

func deref[T any](ps []*T) []T {
	out := make([]T, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

// addStores merges store batches by region, keeping the regions' order. It
// keeps applied records; replicas are set aside and judged against what
// they claim to copy once every store is in (checkReplicas).
func (r *run) addStores(ss []contract.Writes) {
	for _, s := range ss {
		r.obs.storesRead[s.Region] = true
		s.Writes = slices.DeleteFunc(s.Writes, func(w contract.StoredWrite) bool {
			if w.Replica {
				r.obs.replicas = append(r.obs.replicas, replicaAt{store: s.Region, w: w})
			}
			return w.Replica
		})
		i := slices.IndexFunc(r.stores, func(x contract.Writes) bool { return x.Region == s.Region })
		if i < 0 {
			r.stores = append(r.stores, s)
			continue
		}
		r.stores[i].Writes = append(r.stores[i].Writes, s.Writes...)
	}
}

// finish checks the journal was whole enough and orders the records.
func (r *run) finish() error {
	if err := r.decoders.wait(); err != nil {
		return err
	}
	r.records = slices.Concat(deref(r.recBatches)...)
	for _, ss := range r.storeBatches {
		r.addStores(*ss)
	}
	r.writes = r.agents.writes(slices.Concat(deref(r.writeBatches)...), r.stores)
	r.checkReplicas()
	r.webhooks = slices.Concat(deref(r.hookBatches)...)
	r.obs.hooksRead = len(r.hookBatches) > 0
	r.recBatches, r.writeBatches, r.storeBatches, r.hookBatches = nil, nil, nil, nil
	if r.start.Plan == nil {
		return fmt.Errorf("journal has no run_start event")
	}
	p, err := plan.Decode(r.start.Plan, "plan.json")
	if err != nil {
		return fmt.Errorf("journal plan: %w", err)
	}
	r.plan = p
	if !slices.IsSortedFunc(r.records, func(a, b load.Record) int { return cmp.Compare(a.Seq, b.Seq) }) {
		sort.SliceStable(r.records, func(i, j int) bool { return r.records[i].Seq < r.records[j].Seq })
	}
	return nil
}

// ns converts journal ms to load-record ns.
func (r *run) ns(atMS int64) int64 { return (atMS - r.loadAtMS) * int64(time.Millisecond) }

func (r *run) regionIndex(name string) uint8 {
	for i, n := range r.regions {
		if n == name {
			return uint8(i)
		}
	}
	return 255
}

// window is one drill's span in journal ms.
type window struct {
	letter     string
	info       kind.Info // what the drill's kind is judged on
	from, to   int64
	decision   int64 // -1 if none
	evacuated  string
	survivor   string
	stepsByKey map[string]verdict.Step
}

func (r *run) windows() []window {
	var out []window
	for _, letter := range letters(r.start.Drills) {
		w := window{letter: letter, from: -1, decision: -1, evacuated: r.plan.Evacuate, survivor: r.plan.PromoteSurvivor, stepsByKey: map[string]verdict.Step{}}
		if k, ok := kind.Lookup(letter); ok {
			w.info = k.Info()
		}
		for _, s := range r.steps {
			if s.Drill != letter {
				continue
			}
			if w.from < 0 || s.StartMS < w.from {
				w.from = s.StartMS
			}
			w.to = max(w.to, s.EndMS)
			w.stepsByKey[s.Name] = s
		}
		for _, m := range r.marks {
			if string(m.Drill) == letter && m.Kind == event.MarkDecision && w.decision < 0 {
				w.decision = m.at
			}
		}
		if w.from >= 0 {
			out = append(out, w)
		}
	}
	return out
}

// Build computes the report from a journal.
func Build(evs []journal.Event) (*verdict.Report, error) {
	r, err := parse(evs)
	if err != nil {
		return nil, err
	}
	return r.build()
}

// Read computes the report from a journal stream, one event at a time, so a
// large journal is never held in memory as text.
func Read(rd io.Reader) (*verdict.Report, error) {
	r := newRun()
	if err := journal.Scan(rd, r.add); err != nil {
		return nil, err
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	return r.build()
}

func (r *run) build() (*verdict.Report, error) {
	rep := &verdict.Report{
		Schema: verdict.SchemaVersion, Started: r.start.Origin, DurationS: float64(r.lastAtMS) / 1000,
		Drills: letters(r.start.Drills), Target: r.start.Target, Regions: map[string]verdict.RegionContracts{},
		RegionNames: slices.Clone(r.plan.Regions), Plan: r.start.Plan, Load: r.loadSum,
		Checks: r.checks, Steps: r.steps, Acceptance: []verdict.Target{}, Diagnoses: []verdict.Diagnosis{},
	}
	for _, m := range r.marks {
		rep.Events = append(rep.Events, verdict.Event{AtMS: m.at, Drill: string(m.Drill), Label: m.Label})
	}
	for _, p := range r.probes {
		if p.Phase != event.ProbeBefore && p.Phase != event.ProbeAfter {
			continue
		}
		for _, res := range p.Results {
			rep.Probes = append(rep.Probes, verdict.Probe{Phase: string(p.Phase), Drill: string(p.Drill), Region: p.Region, ProbeID: res.ProbeID,
				DeltaS: round3(res.DeltaS), Coverage: round3(res.Coverage), Lambda: res.Lambda.String(), CitesGold: res.CitesGold})
		}
	}
	r.contracts(rep)
	led := ledger.Classify(r.writes, r.stores)
	rep.Writes = ledgerView(led, len(r.writes))
	wh := r.webhookLedger()
	rep.Webhooks = verdict.Webhooks{WebhookCounts: wh.WebhookCounts, ByRegion: map[string]int{}}
	for _, d := range r.webhooks {
		rep.Webhooks.ByRegion[d.Region]++
	}
	for _, w := range r.windows() {
		r.judgeDrill(rep, w, led)
	}
	r.judgeRun(rep, led)
	r.judgeLoad(rep)
	r.judgeVantages(rep)
	r.diagnose(rep, led, wh)
	r.excuseStarved(rep)
	rep.Series = r.series()
	rep.SLO = r.slo()
	if len(r.stops) > 0 {
		s := r.stops[0]
		rep.StopReason = fmt.Sprintf("%s %.3f above %.3f", s.Condition, s.Value, s.Above)
		if s.Detail != "" { // a condition without a threshold (lease_lost)
			rep.StopReason = s.Condition + ": " + s.Detail
		}
	}
	r.settle(rep)
	vantageReason(rep)
	sort.SliceStable(rep.Acceptance, func(i, j int) bool {
		return statusRank(rep.Acceptance[i].Status) < statusRank(rep.Acceptance[j].Status)
	})
	return rep, nil
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func ledgerView(l *ledger.Ledger, attempted int) verdict.Ledger {
	v := verdict.Ledger{Counts: l.Counts}
	for _, sb := range l.SplitBrain {
		v.SplitBrain += sb.Count
	}
	for _, it := range l.Items {
		if it.Class.Violation() && len(v.Examples) < 5 {
			v.Examples = append(v.Examples, it.Key+": "+it.Evidence)
		}
	}
	return v
}

func (r *run) webhookLedger() ledger.WebhookLedger {
	var applied []contract.StoredWrite
	for _, s := range r.stores {
		for _, w := range s.Writes {
			if !w.Replica {
				applied = append(applied, w)
			}
		}
	}
	// Regions allowed to emit: the emit policy in force when the delivery
	// arrived (with a second's grace for deliveries in flight at a change).
	allowed := func(region string, at time.Time) bool {
		ms := at.Sub(r.start.Origin).Milliseconds()
		return slices.Contains(r.policyAt(ms), region) || slices.Contains(r.policyAt(ms-1000), region)
	}
	idOf := func(w contract.StoredWrite) string { return w.Key }
	if byKey := r.eventIDs(); len(byKey) > 0 {
		idOf = func(w contract.StoredWrite) string {
			if id, ok := byKey[w.Key]; ok {
				return id
			}
			return w.Key
		}
	}
	return ledger.ReconcileWebhooks(applied, r.webhooks, allowed, r.cutAt, idOf)
}

// noteCut follows the blackholes the drill applied and lifted.
func (r *run) noteCut(a adapter.Action, at int64) {
	if a.Region == "" {
		return
	}
	if r.cuts == nil {
		r.cuts = map[string][][2]int64{}
	}
	spans := r.cuts[a.Region]
	open := len(spans) > 0 && spans[len(spans)-1][1] < 0
	switch {
	case a.Kind == adapter.Blackhole && !open:
		r.cuts[a.Region] = append(spans, [2]int64{at, -1})
	case a.Kind == adapter.ClearFaults && open:
		spans[len(spans)-1][1] = at
	}
}

// cutGraceMS: a delivery the sink received this long before the blackhole
// landed may still have had its answer in flight when it did.
const cutGraceMS = 2000

// cutAt says whether a blackhole of the drill had region cut off at (or
// just before) when.
func (r *run) cutAt(region string, when time.Time) bool {
	ms := when.Sub(r.start.Origin).Milliseconds()
	for _, s := range r.cuts[region] {
		if ms >= s[0]-cutGraceMS && (s[1] < 0 || ms <= s[1]) {
			return true
		}
	}
	return false
}

// eventIDs maps write keys to their webhook ids (the plan's dedupe_key over
// the write's event_id and rev).
func (r *run) eventIDs() map[string]string {
	out := make(map[string]string, len(r.writes))
	key := r.plan.Deduper()
	fields := map[string]string{}
	for _, a := range r.writes {
		fields["event_id"], fields["rev"], fields["tenant"] = a.EventID, strconv.Itoa(a.Rev), a.Tenant
		out[a.Key] = key(fields)
	}
	return out
}

func (r *run) contracts(rep *verdict.Report) {
	if len(r.health) == 0 {
		return
	}
	first, last := r.health[0], r.health[len(r.health)-1]
	for _, name := range r.plan.Regions {
		rc := verdict.RegionContracts{Before: view(name, first.Regions[name]), After: view(name, last.Regions[name])}
		rep.Regions[name] = rc
	}
}

func view(name string, h contract.Health) verdict.Contract {
	return verdict.Contract{Region: name, Ready: h.Ready, Role: string(h.Role), IndexHash: h.IndexHash, Metric: h.Metric,
		Analyzer: h.Analyzer, BuildTS: h.BuildTS, SchemaRev: h.SchemaRev, ModelTag: h.ModelTag, SecretsRev: h.SecretsRev, Release: h.Env.Release}
}

func (r *run) checkResult(letter, phase, name string) (verdict.Check, bool) {
	var found verdict.Check
	ok := false
	for _, c := range r.checks {
		if c.Drill == letter && c.Phase == phase && c.Name == name {
			found, ok = c, true
		}
	}
	return found, ok
}

// add appends a judged target; its status follows Pass unless it was set
// (inconclusive).
func add(rep *verdict.Report, t verdict.Target) {
	if t.Status == "" {
		t.Status = verdict.StatusOf(t.Pass)
	}
	rep.Acceptance = append(rep.Acceptance, t)
}

// baselineWindow is the drill's baseline in load-record ns: the window the
// drill journaled, else its pre-check step.
func (r *run) baselineWindow(w window) (from, to int64) {
	pre := w.stepsByKey[string(event.StepPre)]
	from, to = r.ns(pre.StartMS), r.ns(pre.EndMS)
	for _, b := range r.baselines {
		if string(b.Drill) == w.letter {
			from, to = r.ns(b.FromMS), r.ns(b.ToMS)
		}
	}
	return from, to
}

// changeWindow is the window p95 is judged in, in load-record ns: the
// served markets from the decision for a planned change (nobody should
// notice it), from the end of the cutover for an unplanned outage (the
// detection time is the cutover's), until the end of the observe step.
func (r *run) changeWindow(w window, cutoverS float64) (from, to int64) {
	from = r.ns(w.decision)
	if w.info.Unplanned {
		from += int64(cutoverS * float64(time.Second))
	}
	return from, r.ns(w.stepsByKey[string(event.StepObserve)].EndMS)
}

// judgeDrill adds the acceptance targets of one drill.
func (r *run) judgeDrill(rep *verdict.Report, w window, led *ledger.Ledger) {
	th := r.plan.Thresholds
	recs := r.records
	evac := r.regionIndex(w.evacuated)
	baseFrom, baseTo := r.baselineWindow(w)
	baseErr := measure.ErrorRate(recs, baseFrom, baseTo, measure.AllRegions)
	changeFrom, changeTo := baseTo, r.ns(w.to)

	if w.info.Evacuates && w.decision >= 0 {
		// The evacuation holds from the decision until the drill starts
		// bringing the region back: traffic that returns after that is the
		// return, not a failed cutover.
		until := int64(math.MaxInt64)
		if back := r.returnAt(w); back > w.decision {
			until = r.ns(back)
		}
		c := measure.Cutover(recs, r.ns(w.decision), until, evac, baseErr)
		v := round3(c.Seconds)
		if w.letter == rep.Drills[0] || rep.CutoverS == nil {
			rep.CutoverS = &v
		}
		rep.Cutovers = append(rep.Cutovers, verdict.Cutover{Drill: w.letter, Seconds: v, Complete: c.Complete(),
			FailedDuring: c.FailedDuring, FailedAfter: c.FailedAfter, AttributedAfter: c.AttributedAfter,
			RequestsAfter: c.RequestsAfter, BackgroundErrorRate: c.Background})
		detail := cutoverDetail(c, w.evacuated)
		if measure.Latency(recs, baseFrom, baseTo, int(evac)).Count == 0 && baseTo > baseFrom {
			// Nobody to move: said, so that a 0 is not read as a routing change seen working.
			detail += fmt.Sprintf("; %s answered no request in the drill's baseline (its clients were already elsewhere, "+
				"for instance still pinned to the survivor by stickiness after an earlier drill), so this cutover moved no client "+
				"and does not show the routing change working: drill %s on its own shows it", w.evacuated, w.letter)
		}
		add(rep, cutoverTarget(w.letter, c, th.CutoverS, detail))
		from, to := r.changeWindow(w, c.Seconds)
		changeFrom, changeTo = from, to
		clean := r.cleanRecords()
		base := measure.LatencyBounds(clean, baseFrom, baseTo, measure.AllRegions, 95, p95Alpha)
		after := measure.LatencyBounds(clean, from, to, measure.AllRegions, 95, p95Alpha)
		t := p95Target(w.letter, base, after, th.P95VsBaseline)
		if len(r.stalls) > 0 {
			t = r.stalledP95(t, recs, base, after, [4]int64{baseFrom, baseTo, from, to})
		}
		add(rep, t)
	}
	lw := []latencyWindow{{verdict.WindowBaseline, baseFrom, baseTo}, {verdict.WindowChange, changeFrom, changeTo}}
	if back := r.returnAt(w); w.decision >= 0 && back > w.decision {
		lw = append(lw, latencyWindow{verdict.WindowReturn, r.ns(back), r.ns(w.to)})
	}
	r.latencyByRegion(rep, w.letter, lw...)
	// 5xx bursts inside the drill's window.
	s, e := measure.Longest5xxRun(recs, r.ns(w.from), r.ns(w.to))
	burst := float64(e-s) / 1e9
	add(rep, verdict.Target{ID: "max_5xx_burst_s", Drill: w.letter, Target: fmt.Sprintf("≤ %g s", th.Max5xxBurstS), Value: round3(burst),
		Pass: burst <= th.Max5xxBurstS, Limit: th.Max5xxBurstS, Detail: "longest run of seconds with a majority of 5xx/connect/timeout"})

	r.judgeWrites(rep, w, led)
	r.judgeDrain(rep, w)
	r.judgeParity(rep, w)
	r.judgeProbes(rep, w)
	r.judgeChecks(rep, w)
	r.judgeKind(rep, w)
}

// returnAt is when the drill began bringing the evacuated region back (its
// first restore or weight-step mark after the decision), or -1.
func (r *run) returnAt(w window) int64 {
	for _, m := range r.marks {
		if string(m.Drill) == w.letter && m.at > w.decision && (m.Kind == event.MarkRestore || m.Kind == event.MarkWeight) {
			return m.at
		}
	}
	return -1
}

// cutoverDetail says how the cutover was measured and what failed during
// and after it.
// cutoverTarget judges one cutover. With no request scheduled after the
// decision (the load stopped, or never ran) nothing was observed: that is
// inconclusive, not a failed cutover.
func cutoverTarget(letter string, c measure.CutoverResult, limit float64, detail string) verdict.Target {
	t := verdict.Target{ID: "cutover_s", Drill: letter, Target: fmt.Sprintf("≤ %g s", limit), Value: round3(c.Seconds),
		Pass: c.Complete() && c.Seconds <= limit, Limit: limit, Detail: detail}
	if c.Why == measure.NoTraffic {
		t = t.Inconclusive("no request was scheduled after the evacuation decision")
	}
	return t
}

func cutoverDetail(c measure.CutoverResult, evacuated string) string {
	d := fmt.Sprintf("from the evacuation decision until %s served nothing and the failures attributable to it ended "+
		"(1 s windows tested against a background error rate of %.2f%% at significance %g); %d requests sent in that time failed; "+
		"after it %d of %d requests failed, %d of them attributable to %s",
		evacuated, c.Background*100, measure.CutoverAlpha, c.FailedDuring, c.FailedAfter, c.RequestsAfter, c.AttributedAfter, evacuated)
	switch c.Why {
	case measure.NoTraffic:
		d += "; not complete: no request was scheduled after the decision"
	case measure.StillServing:
		d += "; not complete: " + evacuated + " still answered in the last second of the run"
	case measure.StillFailing:
		d += "; not complete: failures attributable to " + evacuated + " were still elevated in the last second"
	case measure.NotBackToBaseline:
		d += fmt.Sprintf("; not complete: the failures after it (%.2f%%) stand out against the background rate",
			100*float64(c.FailedAfter)/float64(max(c.RequestsAfter, 1)))
	}
	return d
}

// p95Alpha is the chance each confidence bound of the p95 target may miss:
// the change window fails only when the lower bound of its p95 exceeds the
// upper bound of the baseline's p95 by more than the threshold, so a
// healthy drill fails it with a chance of at most 2%.
const p95Alpha = 0.01

// cleanRecords are the records the measuring process timed while it ran:
// those in flight across a stall are left out (internal/stall).
func (r *run) cleanRecords() []load.Record {
	if r.unstalled == nil {
		spans := make([]measure.Span, 0, len(r.stalls))
		for _, s := range r.stalls {
			spans = append(spans, measure.Span{From: r.ns(s.FromMS), To: r.ns(s.ToMS)})
		}
		r.unstalled = measure.Unstalled(r.records, spans)
	}
	return r.unstalled
}

// stalledP95 says in t how many requests of each window the stalls of the
// measuring process left out, and makes t inconclusive when they took most
// of the change window: what remains would not be the window judged.
func (r *run) stalledP95(t verdict.Target, all []load.Record, base, after measure.Bounded, win [4]int64) verdict.Target {
	allBase := measure.LatencyBounds(all, win[0], win[1], measure.AllRegions, 95, p95Alpha)
	allAfter := measure.LatencyBounds(all, win[2], win[3], measure.AllRegions, 95, p95Alpha)
	outBase, outAfter := allBase.Count-base.Count, allAfter.Count-after.Count
	if outBase == 0 && outAfter == 0 {
		return t
	}
	longest := int64(0)
	for _, s := range r.stalls {
		longest = max(longest, s.ToMS-s.FromMS)
	}
	note := fmt.Sprintf("left out: %d of %d requests after the change and %d of %d in the baseline, in flight while this process could not run (%d stalls, longest %d ms; with them p95 after the change was %.0f ms)",
		outAfter, allAfter.Count, outBase, allBase.Count, len(r.stalls), longest, allAfter.Value)
	if 2*outAfter > allAfter.Count {
		why := "the measuring process stalled through most of the change window, so its latency was not observed"
		t.Pass, t.Value = false, "inconclusive"
		t.Detail = "inconclusive: " + note
		return t.Inconclusive(why)
	}
	t.Detail += "; " + note
	return t
}

// p95Target judges p95 after the change against the baseline with
// distribution-free confidence bounds, so that a few slow requests in a
// short window cannot fail it; a window too small to bound is inconclusive,
// and an inconclusive target does not pass.
func p95Target(letter string, base, after measure.Bounded, threshold float64) verdict.Target {
	t := verdict.Target{ID: "p95_vs_baseline", Drill: letter, Target: fmt.Sprintf("≤ +%g%%", threshold*100), Limit: threshold}
	need := measure.MinSamplesForUpper(0.95, p95Alpha)
	counts := fmt.Sprintf("p95 %.0f ms after the change (n=%d) vs %.0f ms baseline (n=%d)", after.Value, after.Count, base.Value, base.Count)
	if base.Count < need || after.Count < need {
		why := fmt.Sprintf("a %g%% bound on a 95th percentile needs at least %d requests in each window", 100*(1-p95Alpha), need)
		t.Value, t.Detail = "inconclusive", "inconclusive: "+counts+"; "+why
		return t.Inconclusive(why)
	}
	limit := base.Upper * (1 + threshold)
	t.Value = round3(after.Lower/base.Upper - 1)
	t.Pass = after.Lower <= limit
	t.Detail = fmt.Sprintf("%s; %g%% bounds: after ≥ %.0f ms, baseline ≤ %.0f ms; fails only when %.0f ms > %.0f ms × %g = %.0f ms",
		counts, 100*(1-p95Alpha), after.Lower, base.Upper, after.Lower, base.Upper, 1+threshold, limit)
	return t
}

// letters are drill letters as the report names them.
func letters(ls []event.Letter) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = string(l)
	}
	return out
}
