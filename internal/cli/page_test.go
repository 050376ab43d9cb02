package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/cli"
)

// The README's main command: the page's plan, verbatim, against the built-in
// lab (drills A then E) passes with writes acknowledged and none lost.
func TestPagePlanPassesOnTheLab(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end drills")
	}
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr strings.Builder
	code := cli.Run(context.Background(), []string{"run", "../../examples/page-plan.json", "--out", out}, strings.NewReader(""), &stdout, &stderr)
	t.Log(stdout.String())
	if code != cli.ExitPass {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep struct {
		Verdict string   `json:"verdict"`
		Drills  []string `json:"drills"`
		Writes  struct{ Acknowledged, Lost, Duplicates int }
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != "pass" || strings.Join(rep.Drills, "") != "AE" || rep.Writes.Acknowledged < 1000 || rep.Writes.Lost != 0 || rep.Writes.Duplicates != 0 {
		t.Fatalf("report: %+v", rep)
	}
	for _, f := range []string{"report.html", "junit.xml", "journal.jsonl", "samples.csv"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("evidence missing: %v", err)
		}
	}
}
