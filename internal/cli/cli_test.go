package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/regiondrill/regiondrill/internal/cli"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

const page = "../plan/testdata/page-plan.json"

func TestValidatePagePlan(t *testing.T) {
	code, out, errs := run(t, "validate", page)
	if code != cli.ExitPass || !strings.Contains(out, "valid") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errs)
	}
}

func TestBadInputExitsTwoWithThePath(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"validate", "../plan/testdata/invalid-unknown-field.json"}, "$."},
		{[]string{"validate", "../plan/testdata/invalid-evacuate-all.yaml"}, "$."},
		{[]string{"validate", "../plan/testdata/invalid-survivor-is-evacuated.json"}, "$.promote_survivor"},
		{[]string{"run", "../plan/testdata/invalid-weights-not-rising.yaml"}, "$.return_to_home.gradual_weights"},
		{[]string{"validate", "no-such-plan.json"}, "no-such-plan.json"},
		{[]string{"run", "--drill", "Z", page}, "--drill"},
		{[]string{"lab", "--regions", "solo"}, "--regions"},
		{[]string{"lab", "--misconfigure", "nonsense"}, "--misconfigure"},
		{[]string{"validate"}, "arg"},
		{[]string{"nonsense"}, "unknown command"},
		{[]string{"run", "--no-such-flag", page}, "no-such-flag"},
		{[]string{"agent", "--nats", "nats://127.0.0.1:1", "--name", "eu", "--heap-floor-mib", "-1"}, "--heap-floor-mib"},
	}
	for _, c := range cases {
		code, _, errs := run(t, c.args...)
		if code != cli.ExitInvalid {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, cli.ExitInvalid, errs)
		}
		if !strings.Contains(errs, c.want) {
			t.Errorf("%v: stderr %q does not name %q", c.args, errs, c.want)
		}
	}
}

func TestSchemaValidatesThePagePlan(t *testing.T) {
	code, out, _ := run(t, "schema")
	if code != 0 {
		t.Fatalf("schema exit %d", code)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("plan.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("plan.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(page)
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("page plan fails the schema: %v", err)
	}
}

func TestDryRunChangesNothingAndSaysWhat(t *testing.T) {
	code, out, errs := run(t, "run", "--dry-run", page)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"dry run", "drill A", "drill E", "weight of us-east → 0", "[10 30 60 100]", "eu-west"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
}

func TestReportRefusesABrokenJournal(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "journal.jsonl")
	if err := os.WriteFile(j, []byte("{\"seq\":1,\"at_ms\":0,\"type\":\"note\",\"data\":{}}\nnot json\n{\"seq\":3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := run(t, "report", j, "--out", dir)
	if code != cli.ExitInvalid || !strings.Contains(errs, "line 2") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err == nil {
		t.Fatal("a report was written from a broken journal")
	}
}
