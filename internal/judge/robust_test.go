package judge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// Each robustness rule of the judge, from a recorded journal: one stray
// error, one probe timeout, one cold request or a few slow requests leave a
// healthy drill passing, and the real failure still fails it.

func hasDiag(rep *verdict.Report, id string) bool {
	for _, d := range rep.Diagnoses {
		if d.ID == id {
			return true
		}
	}
	return false
}

// except answers request i with a instead of the healthy answer when pick
// says so.
func except(pick func(i int, t time.Duration, s uint32) bool, a answer) func(int, time.Duration, uint32) answer {
	return func(i int, t time.Duration, s uint32) answer {
		if pick(i, t, s) {
			return a
		}
		return healthyAnswer(i, t, s)
	}
}

// nth picks the first request of session s scheduled at or after at.
func nth(at time.Duration, s uint32) func(int, time.Duration, uint32) bool {
	return func(_ int, t time.Duration, sess uint32) bool {
		return sess == s && t >= at && t < at+500*time.Millisecond
	}
}

func TestCutoverStrayErrors(t *testing.T) {
	timeout := answer{err: load.ErrTimeout, lat: 2 * time.Second}
	conflict := answer{region: euWest, err: load.ErrStatus4xx, status: 409, lat: 5 * time.Millisecond}
	cases := []struct {
		name   string
		answer func(int, time.Duration, uint32) answer
		pass   bool
		after  int // failures reported after the cutover
	}{
		// At 80 req/s one failure is 1.25% of its second: the former rule
		// (> max(2 × baseline, 1%)) stretched the cutover to it.
		{"one stray timeout 25 s after the decision", except(nth(35*time.Second, 3), timeout), true, 1},
		{"one stray 409 from the survivor", except(nth(20*time.Second, 4), conflict), true, 1},
		// Session 2 was last answered by us-east: its failure is the
		// outage's, but alone it does not stand out, and it is counted
		// during the cutover (us-east's last answers end 175 ms after it).
		{"one stray timeout right at the flip, of a session last seen on us-east", except(nth(decisionAt, 2), timeout), true, 0},
		{"us-east is never left: its sessions time out to the end", except(func(_ int, t time.Duration, s uint32) bool {
			return t >= decisionAt && t < restoreAt && s%2 == 0
		}, timeout), false, 0},
		{"the survivor keeps failing one request in ten", except(func(i int, t time.Duration, s uint32) bool {
			return t >= decisionAt && t < restoreAt && i%10 == 3
		}, answer{region: euWest, err: load.ErrStatus5xx, status: 500, lat: 5 * time.Millisecond}), false, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := healthyDrill()
			d.answer = c.answer
			rep := d.judged(t)
			cut := targetOf(rep, "cutover_s")
			if cut.Pass != c.pass || (rep.Verdict == verdict.Pass) != c.pass {
				t.Fatalf("cutover %v pass=%v, verdict %s; want pass=%v: %s", cut.Value, cut.Pass, rep.Verdict, c.pass, cut.Detail)
			}
			if c.pass && cut.Value.(float64) > 0.5 {
				t.Fatalf("a stray failure moved the cutover to %v s: %s", cut.Value, cut.Detail)
			}
			if c.after >= 0 && (len(rep.Cutovers) != 1 || rep.Cutovers[0].FailedAfter != c.after) {
				t.Fatalf("cutovers %+v: want %d failure(s) reported after the cutover", rep.Cutovers, c.after)
			}
			if c.after > 0 && !strings.Contains(cut.Detail, "after it 1 of") {
				t.Fatalf("the detail does not count the failure after the cutover: %s", cut.Detail)
			}
		})
	}
}

func TestProbeFailures(t *testing.T) {
	timeoutErr := "1 of 24 probes unanswered after 2 retries: probe-007: context deadline exceeded (3 tries)"
	cases := []struct {
		name     string
		value    string
		pass     bool
		results  int
		errMsg   string
		verdict  verdict.Outcome
		diagnose bool
	}{
		{"one probe timed out after its retries", "0 differ, 1 unanswered", true, 23, timeoutErr, verdict.Pass, false},
		// A region whose probes could not be asked at all fails the check,
		// but nothing says its answers differ.
		{"a region could not be probed", "error", false, 0, "no probe answered in eu-west: timeout (3 tries)", verdict.Fail, false},
		{"answers differ", "5 differ", false, 24, "", verdict.Fail, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := healthyDrill()
			d.answersEqual, d.answersEqualPass = c.value, c.pass
			d.probeResults = map[string]int{"eu-west": c.results}
			d.probeError = map[string]string{"eu-west": c.errMsg}
			rep := d.judged(t)
			if rep.Verdict != c.verdict || hasDiag(rep, "answers_differ_after_return") != c.diagnose {
				t.Fatalf("verdict %s, diagnoses %+v; want %s, answers_differ_after_return %v (failed: %+v)", rep.Verdict, rep.Diagnoses, c.verdict, c.diagnose, rep.Failed())
			}
		})
	}
}

func TestColdStartStorm(t *testing.T) {
	after := func(t time.Duration) bool { return t >= decisionAt && t < restoreAt }
	cases := []struct {
		name    string
		answer  func(int, time.Duration, uint32) answer
		verdict verdict.Outcome
		storm   bool
	}{
		{"one cold request after the flip", except(nth(decisionAt+time.Second, 1),
			answer{region: euWest, status: 200, lat: 900 * time.Millisecond, cold: true}), verdict.Pass, false},
		// p95 fails for another reason (everything got slow) and two requests
		// happen to be cold: no storm.
		{"slow survivor, two cold requests", func(i int, t time.Duration, s uint32) answer {
			a := healthyAnswer(i, t, s)
			if after(t) {
				a.lat = 600 * time.Millisecond
				a.cold = i%1000 == 7
			}
			return a
		}, verdict.Fail, false},
		{"one request in ten after the flip waits on a cold start", func(i int, t time.Duration, s uint32) answer {
			a := healthyAnswer(i, t, s)
			if after(t) && i%10 == 1 {
				a.lat, a.cold = 1500*time.Millisecond, true
			}
			return a
		}, verdict.Fail, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := healthyDrill()
			d.answer = c.answer
			rep := d.judged(t)
			if rep.Verdict != c.verdict || hasDiag(rep, "cold_start_storm") != c.storm {
				t.Fatalf("verdict %s, diagnoses %+v; want %s, storm %v (p95: %s)", rep.Verdict, rep.Diagnoses, c.verdict, c.storm, targetOf(rep, "p95_vs_baseline").Detail)
			}
			if c.storm && !strings.Contains(strings.Join(rep.Diagnoses[0].Evidence, " "), "in the baseline") {
				t.Fatalf("the evidence does not compare with the baseline's share: %v", rep.Diagnoses[0].Evidence)
			}
		})
	}
}

func TestP95WithSampleSizes(t *testing.T) {
	// Latencies spread over 150..249 ms, the same before and after.
	spread := func(i int) time.Duration { return time.Duration(150+i*37%100) * time.Millisecond }
	// slowShare makes share per thousand of the requests after the flip slow.
	slowShare := func(share int) func(int, time.Duration, uint32) answer {
		return func(i int, t time.Duration, s uint32) answer {
			a := healthyAnswer(i, t, s)
			a.lat = spread(i)
			if t >= decisionAt && i%200 < share/5 { // spread evenly over time
				a.lat = 400 * time.Millisecond
			}
			return a
		}
	}
	cases := []struct {
		name string
		rate int
		fn   func(int, time.Duration, uint32) answer
		pass bool
		want string // in the detail
	}{
		// 5.5% of requests slow after the flip: the point p95 doubles (the
		// former rule failed it), but nothing shows the true p95 moved.
		{"a few slow requests", 80, slowShare(55), true, "n=400"},
		{"a real regression: 15% slow", 80, slowShare(150), false, "fails only when"},
		// 5 s of baseline at 10 req/s: 50 requests cannot bound a p95.
		{"too short a baseline", 10, slowShare(0), false, "inconclusive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := healthyDrill()
			d.rate, d.answer = c.rate, c.fn
			rep := d.judged(t)
			p := targetOf(rep, "p95_vs_baseline")
			if p.Pass != c.pass || !strings.Contains(p.Detail, c.want) {
				t.Fatalf("p95 %v pass=%v, want %v with %q: %s", p.Value, p.Pass, c.pass, c.want, p.Detail)
			}
			if !c.pass && rep.Verdict == verdict.Pass {
				t.Fatal("the verdict passed on a failed or inconclusive p95")
			}
		})
	}
}

func TestAuthFailuresAfterFlip(t *testing.T) {
	refused := answer{region: euWest, err: load.ErrAuth, status: 401, lat: 5 * time.Millisecond}
	one := healthyDrill()
	one.answer = except(nth(decisionAt, 2), refused)
	if rep := one.judged(t); rep.Verdict != verdict.Pass || hasDiag(rep, "auth_failures_after_flip") {
		t.Fatalf("one 401 after the flip: verdict %s, diagnoses %+v", rep.Verdict, rep.Diagnoses)
	}
	// Every session moved off us-east is refused once: its key was pinned
	// to the region it left.
	moved := healthyDrill()
	moved.answer = except(func(_ int, t time.Duration, s uint32) bool {
		return s%2 == 0 && t >= decisionAt && t < decisionAt+500*time.Millisecond
	}, refused)
	if rep := moved.judged(t); !hasDiag(rep, "auth_failures_after_flip") {
		t.Fatalf("20 sessions refused after the flip: diagnoses %+v", rep.Diagnoses)
	}
}

// A drill the pre-check gate refused changed nothing and observed no
// failover. Refused on the state of the moment (a backlog, a cold cache) it
// is inconclusive; refused on parity (a configuration that differs between
// regions) it is a finding, and fails.
func TestGateRefusal(t *testing.T) {
	for _, c := range []struct {
		refused []string
		want    verdict.Outcome
	}{
		{[]string{"queue_empty"}, verdict.Inconclusive},
		{[]string{"queue_empty", "cache_warm"}, verdict.Inconclusive},
		{[]string{"env_parity"}, verdict.Fail},
		{[]string{"queue_empty", "index_hash_equal"}, verdict.Fail},
	} {
		d := healthyDrill()
		d.gateRefused = c.refused
		if rep := d.judged(t); rep.Verdict != c.want {
			t.Errorf("gate refused on %v: verdict %s (%s), want %s", c.refused, rep.Verdict, rep.Reason, c.want)
		}
	}
}

// A stall of the measuring process (its own machine starved: it woke 2 s
// late) makes every request in flight across it slow from the client's
// side. With the stall journaled those requests are left out and p95 holds;
// without it, the same requests fail p95, as a target slow on its own would.
// A stall over most of the window leaves nothing to judge: inconclusive. And
// a real regression outside the stall still fails.
func TestP95LeavesOutStalls(t *testing.T) {
	slowIn := func(from, to time.Duration, share int) func(int, time.Duration, uint32) answer {
		return func(i int, at time.Duration, s uint32) answer {
			a := healthyAnswer(i, at, s)
			if at >= from && at < to {
				a.lat = 1200 * time.Millisecond
			}
			if share > 0 && at >= decisionAt && i%200 < share/5 {
				a.lat = 400 * time.Millisecond
			}
			return a
		}
	}
	stall := func(from, to time.Duration) []event.Stall {
		return []event.Stall{{FromMS: from.Milliseconds(), ToMS: to.Milliseconds()}}
	}
	cases := []struct {
		name   string
		fn     func(int, time.Duration, uint32) answer
		stalls []event.Stall
		status verdict.Status
		want   string
	}{
		{"stalled 2 s, journaled", slowIn(15*time.Second, 17*time.Second, 0), stall(15*time.Second, 17*time.Second+200*time.Millisecond), verdict.StatusPass, "left out: 1"},
		{"the same slowness, no stall", slowIn(15*time.Second, 17*time.Second, 0), nil, verdict.StatusFail, "fails only when"},
		{"stalled through the window", slowIn(11*time.Second, 29*time.Second, 0), stall(11*time.Second, 29*time.Second), verdict.StatusInconclusive, "stalled through most"},
		{"a real regression beside a stall", slowIn(15*time.Second, 17*time.Second, 150), stall(15*time.Second, 17*time.Second+200*time.Millisecond), verdict.StatusFail, "left out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := healthyDrill()
			d.answer, d.stalls = c.fn, c.stalls
			rep := d.judged(t)
			p := targetOf(rep, "p95_vs_baseline")
			if p.Status != c.status || !strings.Contains(p.Detail+" "+p.Missing, c.want) {
				t.Fatalf("p95 %v status %s, want %s with %q: %s (%s)", p.Value, p.Status, c.status, c.want, p.Detail, p.Missing)
			}
			if c.status != verdict.StatusPass && rep.Verdict == verdict.Pass {
				t.Fatal("the verdict passed on a failed or inconclusive p95")
			}
		})
	}
}

// A drill whose measuring process stalled (once for over a second, or for 5%
// of the drill) cannot fail on timing: its 5xx burst and p95 failures are
// inconclusive, saying why. Without the stalls the same answers fail, and a
// lost write fails whatever the stalls.
func TestStarvedDrillIsNotFailedOnTiming(t *testing.T) {
	outage := func(i int, at time.Duration, s uint32) answer {
		if at >= 15*time.Second && at < 19*time.Second {
			return answer{err: load.ErrTimeout, lat: 3 * time.Second}
		}
		return healthyAnswer(i, at, s)
	}
	stalled := []event.Stall{{FromMS: 15000, ToMS: 18500}}
	cases := []struct {
		name   string
		stalls []event.Stall
		want   verdict.Status
	}{
		{"timeouts while the process stalled", stalled, verdict.StatusInconclusive},
		{"the same timeouts, no stall", nil, verdict.StatusFail},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := healthyDrill()
			d.answer, d.stalls = outage, c.stalls
			d.planExtra = `,"thresholds":{"max_5xx_burst_s":2}`
			rep := d.judged(t)
			b := targetOf(rep, "max_5xx_burst_s")
			if b.Status != c.want {
				t.Fatalf("max_5xx_burst_s %v: %s, want %s (%s)", b.Value, b.Status, c.want, b.Detail)
			}
			if c.want == verdict.StatusInconclusive && !strings.Contains(b.Missing, "could not run for 3.5 s") {
				t.Fatalf("the reason does not say how long the process stalled: %q", b.Missing)
			}
			if rep.Verdict == verdict.Pass {
				t.Fatal("a drill with a 4 s outage passed")
			}
		})
	}
}
