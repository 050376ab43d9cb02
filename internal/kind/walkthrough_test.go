package kind_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// docs/ADDING_A_DRILL.md adds a drill F in two files. They are compiled
// into this package (go test -overlay: nothing in the tree changes) and
// F's test runs, so the walk-through stays true to the code.
func TestTheWalkthroughBuildsAndPasses(t *testing.T) {
	if os.Getenv("REGIONDRILL_WALKTHROUGH") != "" {
		t.Skip("this is the walk-through's own run")
	}
	doc, err := os.ReadFile("../../docs/ADDING_A_DRILL.md")
	if err != nil {
		t.Skip("docs/ADDING_A_DRILL.md not present:", err)
	}
	blocks := regexp.MustCompile("(?s)<!-- file: internal/kind/([a-z_]+\\.go) -->\n```go\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) != 2 {
		t.Fatalf("the walk-through has %d files, want f.go and f_test.go", len(blocks))
	}
	dir := t.TempDir()
	overlay := map[string]map[string]string{"Replace": {}}
	for _, b := range blocks {
		here, err := filepath.Abs(string(b[1]))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(here); err == nil {
			t.Fatalf("%s exists: the walk-through's drill F would replace it", b[1])
		}
		tmp := filepath.Join(dir, string(b[1]))
		if err := os.WriteFile(tmp, b[2], 0o644); err != nil {
			t.Fatal(err)
		}
		overlay["Replace"][here] = tmp
	}
	o, _ := json.Marshal(overlay)
	ofile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ofile, o, 0o644); err != nil {
		t.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	cmd := exec.Command(goBin, "test", "-count=1", "-overlay", ofile, "-run", "^TestDrillF$", "-v", ".")
	cmd.Env = append(os.Environ(), "REGIONDRILL_WALKTHROUGH=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^--- PASS: TestDrillF`).Match(out) {
		t.Fatalf("the walk-through's drill F: %v\n%s", err, out)
	}
}
