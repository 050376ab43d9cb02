package plan_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/plan"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t *testing.T, name string) *plan.Plan {
	t.Helper()
	p, err := plan.Parse(read(t, name), name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

// The page's plan, byte for byte, decodes and validates.
func TestPagePlanVerbatim(t *testing.T) {
	page, err := os.ReadFile("../../../shared/seed/region_failover_drills.md")
	if err == nil && !bytes.Contains(page, read(t, "page-plan.json")) {
		t.Fatal("testdata/page-plan.json is not a byte-exact copy of the spec's JSON plan")
	}
	p := mustParse(t, "page-plan.json")
	if p.Evacuate != "us-east" || p.PromoteSurvivor != "eu-west" || p.WebhookPolicy.EmitFrom != "eu-west" {
		t.Errorf("regions decoded wrong: %+v", p)
	}
	if got := p.Checks.Live[3:5]; !slices.Equal(got, []plan.CheckName{plan.CheckDeltaSProbe, plan.CheckLambdaState}) {
		t.Errorf("live checks = %q", got)
	}
	if p.RAGProbe != (plan.RAGProbe{K: 10, DualhomeK: 5, DeltaSRisk: 0.60, CoverageMin: 0.70, DualhomeMin: 0.8}) {
		t.Errorf("rag_probe = %+v", p.RAGProbe)
	}
	if !slices.Equal(p.ReturnToHome.GradualWeights, []int{10, 30, 60, 100}) {
		t.Errorf("gradual_weights = %v", p.ReturnToHome.GradualWeights)
	}
}

func TestPagePlanYAMLEqualsJSON(t *testing.T) {
	j := mustParse(t, "page-plan.json")
	y := mustParse(t, "page-plan.yaml")
	if !reflect.DeepEqual(j, y) {
		t.Fatalf("YAML and JSON differ:\njson %+v\nyaml %+v", j, y)
	}
}

func TestDefaults(t *testing.T) {
	p, err := plan.Parse([]byte("regions: [us-east, eu-west, ap-south]\nevacuate: us-east\n"), "min.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := plan.Default()
	want.Regions = []string{"us-east", "eu-west", "ap-south"}
	want.Evacuate = "us-east"
	want.Primary = "us-east"
	want.PromoteSurvivor = "eu-west"
	want.WebhookPolicy.EmitFrom = "eu-west"
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got  %+v\nwant %+v", p, want)
	}
	if !slices.Equal(p.DrillList(), []plan.DrillKind{"planned_evacuation", "return_to_home"}) {
		t.Errorf("default drills = %v", p.DrillList())
	}
	if p.Load.RateRPS != 80 || p.Phases.HoldS != 8 || p.Thresholds.CutoverS != 30 || p.SLO.Availability != 0.999 || p.Seed != 1 {
		t.Errorf("extension defaults missing: %+v", p)
	}
	if len(p.Checks.Pre) != 4 || len(p.Checks.Live) != 6 || len(p.Checks.Post) != 4 {
		t.Errorf("default checks = %+v", p.Checks)
	}
}

// load.session_s defaults to 10 seconds; a value in the document replaces
// it, 0 included (sessions that last the run).
func TestSessionS(t *testing.T) {
	const base = "regions: [us-east, eu-west]\nevacuate: us-east\n"
	for _, c := range []struct {
		extra string
		want  float64
	}{
		{"", 10},
		{"load: {session_s: 2.5}", 2.5},
		{"load: {session_s: 0}", 0},
		{"load: {session_s: 86400}", 86400},
	} {
		p, err := plan.Parse([]byte(base+c.extra+"\n"), "x.yaml")
		if err != nil {
			t.Fatalf("%q: %v", c.extra, err)
		}
		if p.Load.SessionS != c.want || p.SessionLife() != time.Duration(c.want*float64(time.Second)) {
			t.Errorf("%q: session_s %v, life %v; want %v s", c.extra, p.Load.SessionS, p.SessionLife(), c.want)
		}
	}
	if _, err := plan.Parse([]byte(base+"load: {session_s: 86400.5}\n"), "x.yaml"); err == nil || !strings.Contains(err.Error(), "$.load.session_s") {
		t.Errorf("session_s above a day: err %v, want one at $.load.session_s", err)
	}
}

// A document value replaces a default list instead of merging into it.
func TestListsReplaceDefaults(t *testing.T) {
	p, err := plan.Parse([]byte(`{"regions":["a","b"],"evacuate":"a","checks":{"pre":["queue_empty"]},"return_to_home":{"gradual_weights":[50,100]}}`), "x.json")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Checks.Pre, []plan.CheckName{plan.CheckQueueEmpty}) || !slices.Equal(p.ReturnToHome.GradualWeights, []int{50, 100}) {
		t.Fatalf("pre=%v weights=%v", p.Checks.Pre, p.ReturnToHome.GradualWeights)
	}
	if q := plan.Default(); len(q.Checks.Pre) != 4 || len(q.ReturnToHome.GradualWeights) != 4 {
		t.Fatal("decoding changed the defaults")
	}
}

func TestFullPlanAliasesAndExtensions(t *testing.T) {
	p := mustParse(t, "full-plan.yaml")
	if !slices.Equal(p.Checks.Live, []plan.CheckName{plan.CheckDeltaSProbe, plan.CheckLambdaState}) {
		t.Errorf("ASCII aliases not normalised: %q", p.Checks.Live)
	}
	want := []plan.DrillKind{"planned_evacuation", "hard_outage", "index_skew", "webhook_reroute", "return_to_home"}
	if !slices.Equal(p.DrillList(), want) {
		t.Errorf("drills = %v", p.DrillList())
	}
	var letters string
	for _, d := range p.DrillList() {
		letters += d.Letter()
	}
	if letters != "ABCDE" {
		t.Errorf("letters = %q", letters)
	}
	if p.UsesLab() || p.Targets.Router.Kind != plan.RouterCommand {
		t.Errorf("targets not decoded: %+v", p.Targets)
	}
	if !slices.Equal(p.Survivors(), []string{"eu-west", "ap-south"}) {
		t.Errorf("survivors = %v", p.Survivors())
	}
	if p.Hysteresis() != 5*time.Second || p.StickTTL() != 10*time.Minute || p.RequestTimeout() != 500*time.Millisecond {
		t.Errorf("durations: %v %v %v", p.Hysteresis(), p.StickTTL(), p.RequestTimeout())
	}
	if !mustParse(t, "page-plan.json").UsesLab() {
		t.Error("page plan should use the lab")
	}
	if s := p.Summary(); !strings.Contains(s, "drills ABCDE") || !strings.Contains(s, "targets") {
		t.Errorf("summary = %q", s)
	}
}

func TestDedupeKey(t *testing.T) {
	p := mustParse(t, "page-plan.json")
	ev := map[string]string{"event_id": "evt-1", "rev": "3", "tenant": "acme"}
	// Expected values from: printf 'evt-13' | sha256sum, printf 'evt-13acme' | sha256sum
	const (
		sumEvt13     = "9f291e07bff628d740bf261f4b0226580cb800c0360baa62cf3edd0142bc07cd"
		sumEvt13Acme = "718eeef48dc5af704d3aac30d5979b30fc6461e1d51478d754dc5b5667413607"
	)
	cases := []struct {
		expr, want string
	}{
		{"sha256(event_id+rev)", sumEvt13},
		{" sha256( event_id + rev + tenant ) ", sumEvt13Acme},
	}
	for _, c := range cases {
		p.WebhookPolicy.DedupeKey = c.expr
		if got := p.DedupeKey(ev); got != c.want {
			t.Errorf("%q: got %s want %s", c.expr, got, c.want)
		}
	}
	p.WebhookPolicy.DedupeKey = "sha256(event_id+rev+event_id)"
	if got := p.DedupeKey(ev); got != "" {
		t.Errorf("bad expression gave %q", got)
	}
	for _, bad := range []string{"md5(event_id)", "sha256()", "sha256(event_id+)", "sha256(event_id+user)", "sha256(rev+rev)", "event_id+rev"} {
		if _, err := plan.ParseDedupeKey(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
