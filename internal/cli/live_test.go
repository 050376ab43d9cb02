package cli_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/cli"
)

// lines is a writer that keeps what it is given and says when a pattern
// first appears.
type lines struct {
	mu   sync.Mutex
	b    bytes.Buffer
	re   *regexp.Regexp
	hit  chan string
	once sync.Once
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	if m := l.re.FindString(l.b.String()); m != "" {
		l.once.Do(func() { l.hit <- m })
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// One real drill B, watched in headless Chromium through --serve: the
// runbook step and the charts change between two screenshots taken seconds
// apart, the final verdict appears, and the page requests nothing from
// anywhere but the drill's own server. The same run's evidence then
// verifies, is in the history (the first run of its plan, so --compare-to
// last-pass finds no baseline), and its metrics file is written; tampered
// with, it no longer verifies.
func TestLiveViewFollowsARealDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a drill")
	}
	b := startBrowser(t) // skips without Chromium, before the drill starts
	dir := t.TempDir()
	planPath := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(planPath, []byte(`{"regions":["us-east","eu-west"],"evacuate":"us-east","drills":["B"],
		"phases":{"baseline_s":5,"hold_s":6,"drain_timeout_s":30,"probe_rounds":1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, metrics, db := filepath.Join(dir, "evidence"), filepath.Join(dir, "regiondrill.prom"), filepath.Join(dir, "history.db")
	stderr := &lines{re: regexp.MustCompile(`live view: (http://127\.0\.0\.1:[0-9]+/)`), hit: make(chan string, 1)}
	var stdout bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	exit := make(chan int, 1)
	go func() {
		exit <- cli.Run(ctx, []string{"run", planPath, "--out", out, "--serve", "127.0.0.1:0", "--serve-linger", "10s",
			"--metrics-out", metrics, "--history", db, "--compare-to", "last-pass"}, strings.NewReader(""), &stdout, stderr)
	}()
	var url string
	select {
	case m := <-stderr.hit:
		url = strings.TrimPrefix(m, "live view: ")
	case code := <-exit:
		t.Fatalf("run exited %d before serving:\n%s", code, stderr.String())
	case <-ctx.Done():
		t.Fatalf("no live view:\n%s", stderr.String())
	}

	// Anything but reading needs the token.
	resp, err := http.Post(url+"abort", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST /abort without the token: %d", resp.StatusCode)
	}

	b.navigate(url)
	step := `document.getElementById("step").textContent`
	latency := `(document.querySelector("#c-latency path.series") || {getAttribute: function () { return "" }}).getAttribute("d")`
	first, cancelFirst := context.WithTimeout(ctx, 150*time.Second) // the lab starts first
	defer cancelFirst()
	b.waitFor(first, "the first step", step+`.indexOf("drill B") === 0`)
	b.waitFor(ctx, "a latency line", latency+`.length > 0`)
	step1, chart1, shot1 := b.eval(step), b.eval(latency), b.screenshot()
	b.waitFor(ctx, "the next step", step+` !== `+jsString(step1.(string))+` && `+latency+` !== `+jsString(chart1.(string)))
	step2, chart2, shot2 := b.eval(step), b.eval(latency), b.screenshot()
	t.Logf("step %q, then %q", step1, step2)
	if step1 == step2 || chart1 == chart2 || bytes.Equal(shot1, shot2) {
		t.Fatalf("the page did not change: step %q → %q, chart changed %v, screenshots differ %v", step1, step2, chart1 != chart2, !bytes.Equal(shot1, shot2))
	}
	b.waitFor(ctx, "the verdict", `document.getElementById("verdict-word") !== null`)
	word := b.eval(`document.getElementById("verdict-word").textContent`)
	shot3 := b.screenshot()
	if w, _ := word.(string); w != "PASS" && w != "FAIL" && w != "INCONCLUSIVE" && w != "ABORTED" {
		t.Fatalf("verdict %q", word)
	}
	if dst := os.Getenv("REGIONDRILL_LIVE_SHOTS"); dst != "" {
		for i, png := range [][]byte{shot1, shot2, shot3} {
			_ = os.WriteFile(filepath.Join(dst, "live-"+string(rune('1'+i))+".png"), png, 0o644)
		}
	}
	for _, u := range b.requests() {
		if !strings.HasPrefix(u, url) && u != "about:blank" {
			t.Errorf("the page requested %s", u)
		}
	}

	// The verdict on the page is the run's: a loaded machine can make the
	// lab fail or abort the drill, which the page must then show.
	code := <-exit
	want := map[string][]int{"PASS": {cli.ExitPass}, "FAIL": {cli.ExitFail}, "INCONCLUSIVE": {cli.ExitFail}, "ABORTED": {cli.ExitFail, cli.ExitAborted}}[word.(string)]
	if !slices.Contains(want, code) {
		t.Fatalf("the page says %s, the run exited %d\n%s\n%s", word, code, stdout.String(), stderr.String())
	}
	t.Logf("verdict %s, exit %d", word, code)
	if !strings.Contains(stdout.String(), "history: run 1 in "+db) || !strings.Contains(stdout.String(), "compare: no baseline: no passing run of plan") {
		t.Errorf("not recorded, or compared with a baseline that cannot exist:\n%s", stdout.String())
	}
	if m, err := os.ReadFile(metrics); err != nil || !strings.Contains(string(m), `regiondrill_target_pass{deployment="lab",drill="B",plan=`) {
		t.Errorf("metrics file %v:\n%s", err, m)
	}
	if code, o, e := run(t, "verify", out); code != cli.ExitPass {
		t.Fatalf("the run's own evidence does not verify: %d\n%s%s", code, o, e)
	}
	f, err := os.OpenFile(filepath.Join(out, "journal.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":999999,"type":"note"}` + "\n")
	f.Close()
	if code, o, _ := run(t, "verify", out); code != cli.ExitFail || !strings.Contains(o, "MISMATCH journal.jsonl") {
		t.Fatalf("a line appended to the journal: exit %d\n%s", code, o)
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
