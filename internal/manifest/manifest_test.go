package manifest_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/manifest"
)

// bundle lays out a sealed evidence bundle around a real report.json.
func bundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rep, err := os.ReadFile("../fixture/reports/b-pass-1.json")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"report.json":   rep,
		"journal.jsonl": []byte("{\"type\":\"run_start\"}\n{\"type\":\"run_end\"}\n"),
		"junit.xml":     []byte("<testsuites/>\n"),
		"samples.csv":   []byte("t,requests\n0,80\n"),
		"report.html":   []byte("<!DOCTYPE html><title>r</title>\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := manifest.Write(dir, "test"); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSealedBundleVerifies(t *testing.T) {
	dir := bundle(t)
	m, err := manifest.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 5 || m.Files[0].Path != "journal.jsonl" {
		t.Fatalf("files %+v", m.Files)
	}
	want, err := manifest.ReportPlanHash(filepath.Join(dir, "report.json"))
	if err != nil || m.PlanSHA256 != want || len(want) != 64 {
		t.Fatalf("plan hash %q, want %q (%v)", m.PlanSHA256, want, err)
	}
	if len(m.PlanKey) != 64 || m.PlanKey == m.PlanSHA256 {
		t.Fatalf("plan key %q", m.PlanKey)
	}
	// Writing the manifest twice gives the same bytes: it is not a file of
	// the bundle it describes, and holds no clock.
	d1, _ := manifest.Digest(dir)
	if _, err := manifest.Write(dir, "test"); err != nil {
		t.Fatal(err)
	}
	if d2, _ := manifest.Digest(dir); d1 != d2 {
		t.Fatalf("manifest changed on rewrite: %s vs %s", d1, d2)
	}
}

// Every way of tampering with a bundle is caught, naming the file.
func TestTamperedBundleFailsVerify(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(dir string) error
		path   string
		kind   string
	}{
		{"one byte of the journal", func(d string) error {
			return os.WriteFile(filepath.Join(d, "journal.jsonl"), []byte("{\"type\":\"run_start\"}\n{\"type\":\"run_enD\"}\n"), 0o644)
		}, "journal.jsonl", manifest.Changed},
		{"a line appended to the CSV", func(d string) error {
			f, err := os.OpenFile(filepath.Join(d, "samples.csv"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString("1,80\n")
			return err
		}, "samples.csv", manifest.Appended},
		{"the JUnit file deleted", func(d string) error { return os.Remove(filepath.Join(d, "junit.xml")) }, "junit.xml", manifest.Missing},
		{"a file added", func(d string) error {
			return os.WriteFile(filepath.Join(d, "extra.txt"), []byte("x"), 0o644)
		}, "extra.txt", manifest.Unlisted},
		{"the verdict edited", func(d string) error {
			return replaceIn(filepath.Join(d, "report.json"), `"verdict": "pass"`, `"verdict": "fail"`)
		}, "report.json", manifest.Changed},
		{"the plan edited, file hashes fixed up but not the plan's", func(d string) error {
			m, err := manifest.Read(d)
			if err != nil {
				return err
			}
			if err := replaceIn(filepath.Join(d, "report.json"), `"seed": 1`, `"seed": 2`); err != nil {
				return err
			}
			m2, err := manifest.Write(d, "test")
			if err != nil {
				return err
			}
			return replaceIn(filepath.Join(d, manifest.Name), m2.PlanSHA256, m.PlanSHA256)
		}, "report.json", manifest.BadPlan},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := bundle(t)
			if err := c.tamper(dir); err != nil {
				t.Fatal(err)
			}
			_, err := manifest.Verify(dir)
			var me *manifest.MismatchError
			if !errors.As(err, &me) {
				t.Fatalf("want a mismatch, got %v", err)
			}
			for _, p := range me.Problems {
				if p.Path == c.path && p.Kind == c.kind {
					return
				}
			}
			t.Fatalf("no %s problem for %s in %v", c.kind, c.path, me.Problems)
		})
	}
}

// replaceIn replaces the first old with new in the file at path.
func replaceIn(path, old, new string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), old) {
		return fmt.Errorf("%s does not contain %q", path, old)
	}
	return os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
}

func TestNoManifest(t *testing.T) {
	_, err := manifest.Verify(t.TempDir())
	if !errors.Is(err, manifest.ErrNoManifest) {
		t.Fatalf("got %v", err)
	}
}

// A manifest cannot point outside its bundle.
func TestManifestPathEscapes(t *testing.T) {
	dir := bundle(t)
	if err := replaceIn(filepath.Join(dir, manifest.Name), `"path": "junit.xml"`, `"path": "../junit.xml"`); err != nil {
		t.Fatal(err)
	}
	_, err := manifest.Verify(dir)
	var me *manifest.MismatchError
	if !errors.As(err, &me) || !strings.Contains(me.Error(), "../junit.xml: path leaves the bundle") {
		t.Fatalf("got %v", err)
	}
}
