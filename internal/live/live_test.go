package live_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/fixture"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/live"
	"github.com/regiondrill/regiondrill/internal/pulse"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

func second(total int, byRegion map[string]int, errors int) event.Health {
	return event.Health{Load: &pulse.Second{Span: 1, Requests: total, Errors: errors, P95MS: 80, ByRegion: byRegion}}
}

// journal drives a feed through a drill B: evacuation, a cutover that ends
// when the evacuated region serves nothing and nothing fails, the verdict.
func journalB(t *testing.T, f *live.Feed) {
	plan := json.RawMessage(`{"regions":["us-east","eu-west"],"evacuate":"us-east"}`)
	for _, e := range []journal.Event{
		fixture.Event(t, journal.RunStart, 0, "", event.RunStart{Plan: plan, Target: "lab", Regions: []string{"us-east", "eu-west"}, Drills: []event.Letter{"B"}}),
		fixture.Event(t, journal.StepStart, 5, "1 pre-checks", event.StepStart{Drill: "B"}),
		fixture.Event(t, journal.Health, 1000, "", second(80, map[string]int{"us-east": 40, "eu-west": 40}, 0)),
		fixture.Event(t, journal.StepEnd, 1500, "1 pre-checks", event.StepEnd{Drill: "B", Outcome: event.StepOK}),
		fixture.Event(t, journal.StepStart, 1500, "2 evacuate", event.StepStart{Drill: "B"}),
		fixture.Event(t, journal.Mark, 1600, "", event.Mark{Drill: "B", Label: "blackhole us-east", Kind: event.MarkDecision}),
		fixture.Event(t, journal.Health, 2000, "", second(80, map[string]int{"us-east": 10, "eu-west": 40}, 30)),
		fixture.Event(t, journal.Health, 3000, "", second(80, map[string]int{"eu-west": 78}, 2)),
		fixture.Event(t, journal.Health, 4000, "", second(80, map[string]int{"eu-west": 80}, 0)),
	} {
		f.Observe(e)
	}
}

func TestFeedFollowsTheJournal(t *testing.T) {
	f := live.NewFeed("drill B")
	journalB(t, f)
	var st live.State
	if err := json.Unmarshal(f.Snapshot(), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Ticks) != 4 || st.Ticks[1].ByRegion["us-east"] != 10 || st.Ticks[1].ErrorPct != 37.5 {
		t.Fatalf("ticks %+v", st.Ticks)
	}
	if len(st.Steps) != 2 || st.Steps[0].EndT == nil || st.Steps[1].EndT != nil || st.Steps[1].Name != "2 evacuate" {
		t.Fatalf("steps %+v", st.Steps)
	}
	if len(st.Cutovers) != 1 || st.Cutovers[0].StartT != 1.6 || st.Cutovers[0].EndT == nil || *st.Cutovers[0].EndT != 4 {
		t.Fatalf("cutover %+v (it ends with the first second without us-east and without errors)", st.Cutovers)
	}
	if st.Final != nil {
		t.Fatal("a verdict before the end")
	}
	f.Finish(&verdict.Report{Verdict: verdict.Fail, Acceptance: []verdict.Target{{ID: "cutover_s", Drill: "B", Value: 31.5, Target: "≤ 30 s"}}}, "/report")
	_ = json.Unmarshal(f.Snapshot(), &st)
	if st.Final == nil || st.Final.Verdict != "fail" || st.Final.Failed[0] != "B cutover_s: measured 31.5, target ≤ 30 s" {
		t.Fatalf("final %+v", st.Final)
	}
}

func serve(t *testing.T, f *live.Feed, abort func()) string {
	t.Helper()
	l, err := live.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go live.NewServer(f, "s3cret", abort, "").Serve(l)
	t.Cleanup(func() { l.Close() })
	return "http://" + l.Addr().String()
}

// The page's CSP allows its own server only; /events streams the whole
// state then the changes; stopping the drill needs the token; a foreign
// Host header is refused.
func TestServer(t *testing.T) {
	f := live.NewFeed("drill B")
	aborted := make(chan struct{}, 1)
	base := serve(t, f, func() { aborted <- struct{}{} })

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") ||
		!strings.Contains(string(page), `<script src="/live.js"`) || strings.Contains(string(page), "http") {
		t.Fatalf("page: CSP %q\n%s", csp, page)
	}

	resp, err = http.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- name
			}
		}
	}()
	if got := <-events; got != "state" {
		t.Fatalf("first event %q", got)
	}
	journalB(t, f)
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < 8 {
		select {
		case e := <-events:
			got = append(got, e)
		case <-timeout:
			t.Fatalf("events so far %v", got)
		}
	}
	if strings.Join(got, " ") != "state step tick step step action cutover tick" {
		t.Fatalf("events %v", got)
	}

	for _, c := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {"wrong", http.StatusUnauthorized}, {"s3cret", http.StatusAccepted}} {
		req, _ := http.NewRequest(http.MethodPost, base+"/abort", nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Fatalf("abort with %q: %d, want %d", c.token, resp.StatusCode, c.want)
		}
	}
	select {
	case <-aborted:
	default:
		t.Fatal("the drill was not stopped")
	}
	for _, m := range []string{http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(m, base+"/state", nil)
		resp, _ := http.DefaultClient.Do(req)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("%s /state: %d", m, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/state", nil)
	req.Host = "attacker.example:80"
	resp2, _ := http.DefaultClient.Do(req)
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign Host: %d", resp2.StatusCode)
	}
	if resp3, _ := http.Get(base + "/report"); resp3.StatusCode != http.StatusNotFound {
		t.Fatalf("report before the end: %d", resp3.StatusCode)
	}
}

func TestListenDefaultsToLoopback(t *testing.T) {
	for _, addr := range []string{"0", ":0"} {
		l, err := live.Listen(addr)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(l.Addr().String(), "127.0.0.1:") {
			t.Errorf("%q bound %s", addr, l.Addr())
		}
		l.Close()
	}
}
