package judge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/verdict"
)

// returnDrill is drill E as the synthetic journal records it: sessions of
// 5 s each, so that new ones begin throughout, and the return raising
// us-east's weight in four steps before the restore.
func returnDrill() *synthDrill {
	d := healthyDrill()
	d.letter, d.sessionLife = "E", 5*time.Second
	d.weightSteps = []time.Duration{36 * time.Second, 37 * time.Second, 38 * time.Second, 39 * time.Second}
	d.planExtra = `,"return_to_home":{"purge_cache":false,"rebuild_follower":false,"gradual_weights":[10,30,60,100]}`
	return d
}

func TestRebalanced(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(d *synthDrill)
		status verdict.Status
		says   string
	}{
		{name: "healthy", status: verdict.StatusPass, says: "after its last weight step"},
		// The edge took the weights and kept us-east out: every new session
		// lands on eu-west after the return.
		{name: "return_ignored", change: func(d *synthDrill) {
			d.answer = func(_ int, t time.Duration, s uint32) answer {
				if t < decisionAt && s%2 == 0 {
					return answer{region: usEast, status: 200, lat: 200 * time.Millisecond}
				}
				return answer{region: euWest, status: 200, lat: 200 * time.Millisecond}
			}
		}, status: verdict.StatusFail, says: "keeps new clients off us-east"},
		// Fewer new sessions home than before (a third of them rather
		// than half), yet more than half the baseline's share: a region
		// just re-warmed may take less for a while; not a failure.
		{name: "slow_to_return", change: func(d *synthDrill) {
			d.answer = func(_ int, t time.Duration, s uint32) answer {
				if (t < decisionAt && s%2 == 0) || (t >= restoreAt && s%3 == 0) {
					return answer{region: usEast, status: 200, lat: 200 * time.Millisecond}
				}
				return answer{region: euWest, status: 200, lat: 200 * time.Millisecond}
			}
		}, status: verdict.StatusPass},
		// A tenth of the new sessions home where half went before: by
		// latency the warm survivor may rightly take most of them (the
		// lab's did); by weights the region is owed its share back.
		{name: "latency_prefers_the_survivor", change: func(d *synthDrill) { d.answer = fewHome }, status: verdict.StatusPass, says: "owed no share"},
		{name: "weights_not_restored", change: func(d *synthDrill) {
			d.answer = fewHome
			d.planExtra += `,"routing":{"mode":"weights","weights":{"us-east":50,"eu-west":50}}`
		}, status: verdict.StatusFail, says: "keeps most new clients off us-east"},
		{name: "weights_restored", change: func(d *synthDrill) {
			d.planExtra += `,"routing":{"mode":"weights","weights":{"us-east":50,"eu-west":50}}`
		}, status: verdict.StatusPass, says: "by weights"},
		// Sessions that last the whole run: nobody new to route home.
		{name: "no_churn", change: func(d *synthDrill) { d.sessionLife = 0 }, status: verdict.StatusInconclusive, says: "no session began after the last weight step"},
		// us-east never took a new session, even before the drill.
		{name: "home_unseen", change: func(d *synthDrill) {
			d.answer = func(int, time.Duration, uint32) answer {
				return answer{region: euWest, status: 200, lat: 200 * time.Millisecond}
			}
		}, status: verdict.StatusInconclusive, says: "takes no new clients even before the drill"},
		// The load stopped right after the last step: too few sessions to tell.
		{name: "too_few_after", change: func(d *synthDrill) { d.loadEnds = 39*time.Second + 500*time.Millisecond }, status: verdict.StatusInconclusive, says: "too few"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := returnDrill()
			if tc.change != nil {
				tc.change(d)
			}
			rep := d.judged(t)
			got := targetOf(rep, "rebalanced")
			if got.Status != tc.status {
				t.Fatalf("rebalanced %s, want %s: %+v", got.Status, tc.status, got)
			}
			if text := got.Detail + " " + got.Missing; !strings.Contains(text, tc.says) {
				t.Errorf("rebalanced says %q, want it to say %q", text, tc.says)
			}
			if tc.name == "healthy" && rep.Verdict != verdict.Pass {
				t.Errorf("healthy return: verdict %s (%s): failed %+v", rep.Verdict, rep.Reason, rep.Failed())
			}
		})
	}
}

// fewHome sends half the sessions to us-east before the evacuation and a
// tenth of them after the return.
func fewHome(_ int, t time.Duration, s uint32) answer {
	if (t < decisionAt && s%2 == 0) || (t >= restoreAt && s%10 == 0) {
		return answer{region: usEast, status: 200, lat: 200 * time.Millisecond}
	}
	return answer{region: euWest, status: 200, lat: 200 * time.Millisecond}
}
