package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/cli"
	"github.com/regiondrill/regiondrill/internal/compare"
	"github.com/regiondrill/regiondrill/internal/fixture"
)

func TestVerifyCommand(t *testing.T) {
	dir := fixture.Bundle(t, "b-pass-1.json", 0)
	if code, out, errs := run(t, "verify", dir); code != cli.ExitPass || !strings.Contains(out, "ok, 3 files") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if err := os.WriteFile(filepath.Join(dir, "journal.jsonl"), []byte("{\"forged\":true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "verify", dir)
	if code != cli.ExitFail || !strings.Contains(out, "MISMATCH journal.jsonl: changed") {
		t.Fatalf("tampered: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := run(t, "verify", t.TempDir()); code != cli.ExitInvalid || !strings.Contains(errs, "no manifest.json") {
		t.Fatalf("no manifest: exit %d %s", code, errs)
	}
}

func TestCompareCommand(t *testing.T) {
	// Two real runs of one drill B plan in a row, both passing: every
	// change is within tolerance.
	code, out, errs := run(t, "compare", fixture.Path("b-pass-3.json"), fixture.Path("b-pass-4.json"))
	if code != cli.ExitPass || !strings.Contains(out, "no regression") || !strings.Contains(out, "cutover_s") || strings.Contains(out, "different plans") {
		t.Fatalf("two passing B runs: exit %d\n%s%s", code, out, errs)
	}
	// Two real passing runs of the same plan where the second had a 37 s
	// burst of 5xx (the first none; the machine was loaded): a regression
	// although both passed.
	code, out, errs = run(t, "compare", fixture.Path("b-pass-1.json"), fixture.Path("b-pass-2.json"))
	if code != cli.ExitFail || !strings.Contains(out, "REGRESSED: B max_5xx_burst_s\n") || strings.Contains(out, "different plans") {
		t.Fatalf("b-pass-1 then b-pass-2: exit %d\n%s%s", code, out, errs)
	}
	// The cold-start storm against a passing run of the same routing: the
	// p95 target regressed, by name; JSON and JUnit say the same.
	junit := filepath.Join(t.TempDir(), "compare.xml")
	code, out, errs = run(t, "compare", "--json", "--junit", junit, fixture.Path("a-pass.json"), fixture.Path("a-cold-start-fail.json"))
	if code != cli.ExitFail {
		t.Fatalf("cold start vs pass: exit %d\n%s%s", code, out, errs)
	}
	var res compare.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	var regressed []string
	for _, r := range res.Rows {
		if r.Status == compare.Regressed {
			regressed = append(regressed, r.Drill+" "+r.Target)
		}
	}
	if !strings.Contains(strings.Join(regressed, ","), "A p95_vs_baseline") || !res.VerdictRegressed {
		t.Fatalf("regressed %v, verdict %q", regressed, res.Verdict)
	}
	x, err := os.ReadFile(junit)
	if err != nil || !strings.Contains(string(x), `name="regression/A/p95_vs_baseline"`) || !strings.Contains(string(x), `<failure message="passed, now fails"`) {
		t.Fatalf("junit %v:\n%s", err, x)
	}
	xsd := "../report/testdata/junit.xsd"
	if xmllint, err := exec.LookPath("xmllint"); err == nil {
		if b, err := exec.Command(xmllint, "--noout", "--schema", xsd, junit).CombinedOutput(); err != nil {
			t.Fatalf("compare JUnit does not validate against %s: %v\n%s", xsd, err, b)
		}
	}
	// The table names what regressed.
	_, out, _ = run(t, "compare", fixture.Path("a-pass.json"), fixture.Path("a-cold-start-fail.json"))
	if !strings.Contains(out, "REGRESSED: A p95_vs_baseline") {
		t.Fatalf("table:\n%s", out)
	}
	if code, _, errs := run(t, "compare", fixture.Path("a-pass.json"), "no-such-run"); code != cli.ExitInvalid || !strings.Contains(errs, "no-such-run") {
		t.Fatalf("bad argument: exit %d %s", code, errs)
	}
}

// Recorded runs are listed, compared by id and against the last pass, and
// charted; a tampered bundle is refused.
func TestHistoryCommands(t *testing.T) {
	db := "--history=" + filepath.Join(t.TempDir(), "h.db")
	// Two real runs of one plan, by releases that wrote the plan with
	// different fields (their plan hashes differ, their plan keys do not),
	// then the cold-start failure.
	b1, b2 := fixture.Bundle(t, "b-pass-1.json", 0), fixture.Bundle(t, "b-pass-2.json", 0)
	fail := fixture.Bundle(t, "a-cold-start-fail.json", 2*time.Hour)
	for i, dir := range []string{b1, b2, fail} {
		code, out, errs := run(t, "history", "record", db, dir)
		if code != cli.ExitPass || !strings.Contains(out, "as run "+string(rune('1'+i))) {
			t.Fatalf("record %s: exit %d\n%s%s", dir, code, out, errs)
		}
	}
	tampered := fixture.Bundle(t, "b-pass-1.json", 3*time.Hour)
	os.WriteFile(filepath.Join(tampered, "report.html"), []byte("<p>edited</p>"), 0o644)
	if code, _, errs := run(t, "history", "record", db, tampered); code != cli.ExitFail || !strings.Contains(errs, "report.html") {
		t.Fatalf("tampered bundle recorded: exit %d %s", code, errs)
	}

	code, out, errs := run(t, "history", db)
	if code != cli.ExitPass || strings.Count(out, "\n") != 4 || !strings.Contains(out, "FAIL") || !strings.Contains(out, "A p95_vs_baseline") {
		t.Fatalf("history: exit %d\n%s%s", code, out, errs)
	}
	_, out, _ = run(t, "history", db, "--drill", "B", "--last", "1", "--json")
	var runs []struct {
		ID      int64
		Targets []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 1 || runs[0].ID != 2 || len(runs[0].Targets) != 11 {
		t.Fatalf("history --json: %v %+v\n%s", err, runs, out)
	}

	// Run 2's 37 s burst of 5xx regressed against run 1, by id and as its
	// last-pass baseline; run 1 against run 2 is within tolerance.
	if code, out, errs := run(t, "compare", db, "1", "2"); code != cli.ExitFail || !strings.Contains(out, "old: #1 ") || !strings.Contains(out, "REGRESSED: B max_5xx_burst_s") {
		t.Fatalf("compare by id: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := run(t, "compare", db, "2", "1"); code != cli.ExitPass || !strings.Contains(out, "no regression") {
		t.Fatalf("compare by id: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run(t, "compare", db, "--baseline", "last-pass", b2)
	if code != cli.ExitFail || !strings.Contains(out, "old: #1 ") {
		t.Fatalf("last-pass baseline of run 2: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = run(t, "compare", db, "--baseline", "last-pass", b1)
	if code != cli.ExitPass || !strings.Contains(out, "no baseline") {
		t.Fatalf("the first run has no baseline: exit %d\n%s", code, out)
	}

	trendDir := t.TempDir()
	code, out, errs = run(t, "history", "trend", db, "--out", trendDir)
	if code != cli.ExitPass || !strings.Contains(out, "3 runs charted") {
		t.Fatalf("trend: exit %d\n%s%s", code, out, errs)
	}
	page, _ := os.ReadFile(filepath.Join(trendDir, "trend.html"))
	if !strings.Contains(string(page), "drill A: planned evacuation") || !strings.Contains(string(page), "drill B: hard outage") {
		t.Fatalf("trend page lacks a drill section")
	}
	rel, _ := filepath.Rel(trendDir, filepath.Join(b1, "report.html"))
	if !strings.Contains(string(page), `href="`+filepath.ToSlash(rel)+`"`) {
		t.Fatalf("trend page does not link run 1's report as %s", rel)
	}
}
