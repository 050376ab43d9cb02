package judge_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/drill"
	"github.com/regiondrill/regiondrill/internal/embed"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/judge"
	"github.com/regiondrill/regiondrill/internal/lab"
	"github.com/regiondrill/regiondrill/internal/lab/edge"
	"github.com/regiondrill/regiondrill/internal/lab/webhook"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/probe"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// drillLab runs one drill of a short plan against a fresh lab and judges it.
func drillLab(t *testing.T, letter string, mis ...lab.Misconfig) *verdict.Report {
	t.Helper()
	rep, _ := drillPlan(t, planFor(letter, ""), mis...)
	return rep
}

// planFor is a short two-region plan running one drill; extra is spliced in
// as more top-level fields.
func planFor(letter, extra string) string {
	return planWith(letter, `{"baseline_s":6,"hold_s":5,"step_hold_s":1,"drain_timeout_s":30,"probe_rounds":2}`, `,"load":{"rate_rps":60}`+extra)
}

func planWith(letter, phases, extra string) string {
	return `{"regions":["us-east","eu-west"],"evacuate":"us-east","promote_survivor":"eu-west",
	 "routing":{"mode":"latency","stick_minutes":15,"hysteresis_s":2},
	 "drills":["` + letter + `"],"phases":` + phases + extra + `}`
}

// drillPlan runs a plan against a fresh lab and returns the judged report and
// the journal.
func drillPlan(t *testing.T, src string, mis ...lab.Misconfig) (*verdict.Report, []journal.Event) {
	t.Helper()
	return drillPlanOn(t, src, nil, mis...)
}

// drillPlanOn is drillPlan with onLab called once the lab is up, before the
// drill starts, with the drill's options to change.
func drillPlanOn(t *testing.T, src string, onLab func(*lab.Lab, *drill.Options), mis ...lab.Misconfig) (*verdict.Report, []journal.Event) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end drill")
	}
	p, err := plan.Parse([]byte(src), "plan.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	emb := embed.NewHash(embed.DefaultHashOptions)
	l, err := lab.Start(ctx, lab.Config{Regions: p.Regions, Misconfigure: mis, Routing: edge.Mode(p.Routing.Mode), Weights: p.Routing.Weights,
		StickTTL: p.StickTTL(), Hysteresis: p.Hysteresis(), Embedder: emb})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ep := l.Endpoints()
	tg := adapter.New(adapter.Endpoints{Edge: ep.Edge, Faults: ep.Faults, Sink: ep.Sink, Regions: ep.Regions, Token: ep.Token,
		Proxies: map[string][]string{"us-east": l.Proxies("us-east"), "eu-west": l.Proxies("eu-west")}})
	kb, _ := corpus.Load()
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	jw, err := journal.Create(path, time.Now(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(p)
	ruler, err := probe.Ruler(kb)
	if err != nil {
		t.Fatal(err)
	}
	opts := drill.Options{Plan: p, PlanJSON: raw, Target: tg, Journal: jw, Corpus: kb, Embedder: ruler, Label: "lab"}
	if onLab != nil {
		onLab(l, &opts)
	}
	err = drill.New(opts).Run(ctx)
	if cerr := jw.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Logf("run: %v", err)
	}
	evs, err := journal.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := judge.Build(evs)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range rep.Acceptance {
		t.Logf("%s %-18s pass=%v value=%v %s", a.Drill, a.ID, a.Pass, a.Value, a.Detail)
	}
	t.Logf("writes %+v", rep.Writes)
	return rep, evs
}

func hasDiagnosis(rep *verdict.Report, id string) bool {
	for _, d := range rep.Diagnoses {
		if d.ID == id {
			return true
		}
	}
	return false
}

func TestDrillAPassesOnHealthyLab(t *testing.T) {
	// A user hook around the evacuation, with its undo; the second hook's
	// argument would run a command if it ever reached a shell.
	dir := t.TempDir()
	mark, trap := filepath.Join(dir, "drained"), filepath.Join(dir, "injected")
	hooks := fmt.Sprintf(`,"hooks":[{"step":"evacuate","when":"before","run":["touch",%q],"undo":["rm","-f",%q]},
	  {"step":"promote","when":"after","run":["echo","$(touch %s); touch %s"]}]`, mark, mark, trap, trap)
	rep, evs := drillPlan(t, planFor("A", hooks))
	ran, undone := false, false
	for _, ev := range evs {
		if ev.Type == journal.Applied && strings.Contains(string(ev.Data), `"kind":"hook"`) && strings.Contains(string(ev.Data), "touch") {
			ran = true
		}
		if ev.Type == journal.Undone && strings.Contains(string(ev.Data), `"rm"`) {
			undone = true
		}
	}
	if !ran || !undone {
		t.Fatalf("hook ran %v, undone %v", ran, undone)
	}
	if _, err := os.Stat(mark); !os.IsNotExist(err) {
		t.Fatal("the hook's undo did not run")
	}
	if _, err := os.Stat(trap); !os.IsNotExist(err) {
		t.Fatal("a hook argument reached a shell")
	}
	if rep.Verdict != verdict.Pass {
		t.Fatalf("verdict %s (%s), diagnoses %+v", rep.Verdict, rep.Reason, rep.Diagnoses)
	}
	if rep.Writes.Acknowledged < 100 || rep.Writes.Lost != 0 || rep.Writes.Duplicates != 0 {
		t.Fatalf("ledger %+v", rep.Writes)
	}
}

// replayer is someone on the machine who captures every delivery the sink
// accepts and re-sends each one twice at once, well within the sink's
// 5-minute tolerance.
type replayer struct {
	url  string
	seen map[[32]byte]bool // captures already replayed (the replays come back through the tap)
	mu   sync.Mutex
	reqs chan *http.Request
	sent atomic.Int64 // replays the sink answered 2xx
	wg   sync.WaitGroup
}

func replayDeliveries(t *testing.T, l *lab.Lab) *replayer {
	r := &replayer{url: l.Endpoints().Sink + "/hooks", seen: map[[32]byte]bool{}, reqs: make(chan *http.Request, 4096)}
	l.Sink().OnAccept(func(h http.Header, body []byte) {
		key := sha256.Sum256([]byte(h.Get(webhook.HeaderID) + "." + h.Get(webhook.HeaderTimestamp) + "." + string(body)))
		r.mu.Lock()
		fresh := !r.seen[key]
		r.seen[key] = true
		r.mu.Unlock()
		for i := 0; fresh && i < 2; i++ {
			req, _ := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(bytes.Clone(body)))
			req.Header = h.Clone()
			select {
			case r.reqs <- req:
			default: // a full queue drops the replay; the count stays exact
			}
		}
	})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for req := range r.reqs {
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					r.sent.Add(1)
				}
			}
		}
	}()
	t.Cleanup(func() { l.Sink().OnAccept(nil); close(r.reqs); r.wg.Wait() })
	return r
}

// Drill D with someone replaying every delivery: the replays are counted as
// replays, never as duplicate deliveries, so on a healthy lab the
// webhook_duplicates target holds; with webhooks_from_all the system's own
// duplicates are still found. (A healthy lab can still deliver one event
// twice by itself, when the blackhole cuts the sink's answer to a delivery
// and the region sends it again: those are judged redeliveries. Judged
// duplicates and redeliveries together are exactly the sink's.)
func TestDrillDFindsWebhooksFromAll(t *testing.T) {
	for _, c := range []struct {
		name string
		mis  []lab.Misconfig
		dup  bool
	}{
		{"healthy lab, replayed deliveries", nil, false},
		{"webhooks_from_all, replayed deliveries", []lab.Misconfig{lab.WebhooksFromAll}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var rp *replayer
			var sink *webhook.Sink
			rep, _ := drillPlanOn(t, planFor("D", ""), func(l *lab.Lab, _ *drill.Options) { rp, sink = replayDeliveries(t, l), l.Sink() }, c.mis...)
			sent, own := int(rp.sent.Load()), sink.Report().Duplicates
			t.Logf("webhooks %+v; %d replays answered 2xx; the sink saw %d duplicate deliveries", rep.Webhooks, sent, own)
			if rep.Webhooks.Replays == 0 || rep.Webhooks.Replays > sent {
				t.Errorf("%d replays judged, %d sent: the replays were not counted as replays", rep.Webhooks.Replays, sent)
			}
			// The sink counts every second delivery of an id; the judge sets
			// apart those a region sent again because the blackhole cut the
			// sink's answer to the first (at least once is all it can do).
			if rep.Webhooks.Duplicates+rep.Webhooks.Redeliveries != own {
				t.Errorf("%d duplicate deliveries and %d redeliveries judged, the sink saw %d by the system", rep.Webhooks.Duplicates, rep.Webhooks.Redeliveries, own)
			}
			if !c.dup && own > rep.Webhooks.Redeliveries {
				// the write path fences a stale primary and commits before it
				// stores (docs/WRITEPATH.md): a healthy lab delivers each event once
				t.Fatalf("the healthy lab delivered %d events twice by itself", own-rep.Webhooks.Redeliveries)
			}
			if got := hasDiagnosis(rep, "webhook_duplicates"); got != c.dup {
				t.Fatalf("webhook_duplicates diagnosed = %v, want %v (verdict %s, diagnoses %+v)", got, c.dup, rep.Verdict, rep.Diagnoses)
			}
			for _, a := range rep.Acceptance {
				if a.ID == "webhook_duplicates" && a.Pass == c.dup {
					t.Fatalf("webhook_duplicates target pass = %v: %v %s", a.Pass, a.Value, a.Detail)
				}
			}
			if c.dup && rep.Verdict != verdict.Fail {
				t.Fatalf("verdict %s with webhooks_from_all", rep.Verdict)
			}
		})
	}
}

func TestDrillBFindsNoDedupe(t *testing.T) {
	rep := drillLab(t, "B", lab.NoDedupe)
	if rep.Verdict != verdict.Fail || !hasDiagnosis(rep, "split_brain_writes") {
		t.Fatalf("verdict %s, diagnoses %+v: duplicates went unnoticed", rep.Verdict, rep.Diagnoses)
	}
}

func TestStopConditionHaltsAndRollsBack(t *testing.T) {
	rep, evs := drillPlan(t, planFor("B", `,"stop_conditions":[{"metric":"p95_ms","above":1,"for_s":0}]`))
	if rep.Verdict != verdict.Fail || rep.StopReason == "" {
		t.Fatalf("verdict %s, stop reason %q", rep.Verdict, rep.StopReason)
	}
	var stopAt int64 = -1
	for _, ev := range evs {
		switch {
		case ev.Type == journal.Stop && stopAt < 0:
			stopAt = ev.At
		case stopAt >= 0 && ev.Type == journal.StepStart:
			t.Fatalf("step %q started after the stop condition tripped", ev.Step)
		case stopAt >= 0 && ev.Type == journal.Applied:
			t.Fatalf("a change was applied after the stop condition tripped: %s", ev.Data)
		case stopAt >= 0 && ev.Type == journal.Intent && ev.ID == "restore":
			if ev.At-stopAt > 1000 {
				t.Fatalf("rollback began %d ms after the stop", ev.At-stopAt)
			}
			return
		}
	}
	t.Fatalf("no rollback after the stop (stop at %d)", stopAt)
}

// Each misconfiguration of the lab, run with the drill that exercises it:
// the drill fails and names the page's typical failure. The engine never
// reads the misconfiguration's name; it finds it from what it observes.
// targetPassed reports whether every target id of rep passed.
func targetPassed(rep *verdict.Report, id string) bool {
	for _, a := range rep.Acceptance {
		if a.ID == id && !a.Pass {
			return false
		}
	}
	return true
}

func TestMisconfigurationsAreDiagnosed(t *testing.T) {
	cases := []struct {
		mis    lab.Misconfig
		drill  string
		phases string
		want   string
	}{
		{lab.NoFreeze, "B", "", "split_brain_writes"},
		{lab.RebuildWrongAnalyzer, "C", "", "answers_differ_after_return"},
		{lab.StaleKeys, "A", "", "auth_failures_after_flip"},
		// The storm needs the flip to move most of the load onto a survivor
		// that scaled in to the little it carried: weights 70/30 (latency
		// routing may already send everything to the survivor, and then the
		// flip moves nothing), at the page plan's default load.
		{lab.ColdStart, "A", `{"baseline_s":6,"hold_s":6,"step_hold_s":1,"drain_timeout_s":30,"probe_rounds":1},"load":{"rate_rps":100},
		 "routing":{"mode":"weights","weights":{"us-east":70,"eu-west":30},"stick_minutes":15,"hysteresis_s":2}`, "cold_start_storm"},
		{lab.PurgeNoop, "E", "", "cache_not_purged"},
	}
	for _, c := range cases {
		t.Run(string(c.mis), func(t *testing.T) {
			src := planFor(c.drill, "")
			if c.phases != "" {
				src = planWith(c.drill, c.phases, "")
			}
			if strings.Contains(c.phases, `"routing"`) { // the case brings its own routing
				src = `{"regions":["us-east","eu-west"],"evacuate":"us-east","promote_survivor":"eu-west",
				 "drills":["` + c.drill + `"],"phases":` + c.phases + `}`
			}
			rep, _ := drillPlan(t, src, c.mis)
			// The storm is a random event on a shared machine: the survivor
			// must have scaled in before the flip, and a busy machine keeps
			// it scaled out (p95 then holds, or fails with no more cold
			// requests than the baseline had: nothing for the detector to
			// find, and it rightly names none). Up to three runs; the
			// detector must fire in one of them.
			for attempt := 2; c.mis == lab.ColdStart && !hasDiagnosis(rep, c.want) && attempt <= 3; attempt++ {
				t.Logf("run %d: no cold-start storm diagnosed (p95 passed: %v); running the drill again", attempt-1, targetPassed(rep, "p95_vs_baseline"))
				rep, _ = drillPlan(t, src, c.mis)
			}
			if rep.Verdict != verdict.Fail || !hasDiagnosis(rep, c.want) {
				t.Fatalf("%s with drill %s: verdict %s, diagnoses %+v; want %s", c.mis, c.drill, rep.Verdict, rep.Diagnoses, c.want)
			}
		})
	}
}

// brokenTraffic is a load that runs for a while and then cannot go on (a
// NATS stream lost, agents gone): it sends nothing.
type brokenTraffic struct{ after time.Duration }

func (b brokenTraffic) Run(ctx context.Context, _ drill.TrafficEnv) error {
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(b.after):
		return errors.New("the load's stream is gone")
	}
}
func (brokenTraffic) Records() []load.Record      { return nil }
func (brokenTraffic) Writes() []load.WriteAttempt { return nil }

// A load that fails mid-drill stops it: nothing is changed after it,
// what was changed is restored, and the run is the tool's failure
// (aborted), never a verdict on the target.
func TestLoadFailureAbortsTheDrill(t *testing.T) {
	rep, evs := drillPlanOn(t, planFor("A", ""), func(_ *lab.Lab, o *drill.Options) { o.Traffic = brokenTraffic{after: 9 * time.Second} })
	if rep.Verdict != verdict.Aborted || !strings.Contains(rep.Reason, "load could not go on") {
		t.Fatalf("verdict %s (%s), want aborted because the load failed", rep.Verdict, rep.Reason)
	}
	var failedAt int64 = -1
	changed, restored := false, false
	for _, ev := range evs {
		switch {
		case ev.Type == journal.LoadError && failedAt < 0:
			failedAt = ev.At
		case ev.Type == journal.Applied && failedAt < 0:
			changed = true
		case ev.Type == journal.StepStart && failedAt >= 0 && ev.Step != string(event.StepCloseout):
			t.Fatalf("step %q started after the load failed", ev.Step)
		case ev.Type == journal.Undone && failedAt >= 0:
			restored = true
		}
	}
	if failedAt < 0 || !changed || !restored {
		t.Fatalf("load error at %d ms, changed before it %v, restored after it %v", failedAt, changed, restored)
	}
}
