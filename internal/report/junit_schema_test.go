package report_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/report"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// xmllint validates junit.xml against testdata/junit.xsd.
func xmllint(t *testing.T, doc []byte) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not installed (apt-get install -y libxml2-utils)")
	}
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--noout", "--nonet", "--schema", filepath.Join("testdata", "junit.xsd"), path).CombinedOutput()
	return string(out), err
}

func TestJUnitValidatesAgainstXSD(t *testing.T) {
	aborted := fixture(true)
	aborted.Verdict = verdict.Aborted
	aborted.StopReason = "stop condition hit"
	aborted.Acceptance = append(aborted.Acceptance, verdict.Target{ID: "stray", Drill: "Z", Target: "x", Value: "y"})
	for name, r := range map[string]*verdict.Report{
		"pass": fixture(false), "fail": fixture(true), "aborted": aborted, "empty": {},
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := xmllint(t, render(t, report.WriteJUnit, r)); err != nil {
				t.Fatalf("junit.xml is not valid: %v\n%s", err, out)
			}
		})
	}
}

// The schema rejects broken documents, so the validation above means something.
func TestXSDRejectsBrokenJUnit(t *testing.T) {
	good := string(render(t, report.WriteJUnit, fixture(true)))
	for name, bad := range map[string]string{
		"testcase without name": strings.Replace(good, `<testcase name="acceptance/cutover_s"`, `<testcase`, 1),
		"negative count":        strings.Replace(good, `tests="`, `tests="-`, 1),
		"zoned timestamp":       strings.Replace(good, `T09:30:00"`, `T09:30:00Z"`, 1),
		"unknown element":       strings.Replace(good, `<properties>`, `<props/><properties>`, 1),
		"failure and error":     strings.Replace(good, `</failure>`, `</failure><error message="x"></error>`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			if bad == good {
				t.Fatal("mutation did not apply")
			}
			if out, err := xmllint(t, []byte(bad)); err == nil {
				t.Fatalf("xmllint accepted a broken document\n%s", out)
			}
		})
	}
}
