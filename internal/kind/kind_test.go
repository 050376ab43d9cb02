package kind_test

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/kind"
	"github.com/regiondrill/regiondrill/internal/plan"
)

var update = flag.Bool("update", false, "rewrite docs/PLAN.md's drill table from the registry")

// The five kinds of the page are registered once, by letter, and plan
// knows each as the kind says.
func TestTheKindsAreRegisteredWithPlan(t *testing.T) {
	var letters string
	for _, k := range kind.All() {
		letters += string(k.Info().Letter)
	}
	if letters != "ABCDE" {
		t.Fatalf("kinds %q, want ABCDE", letters)
	}
	pd := plan.Drills()
	for i, k := range kind.All() {
		info := k.Info()
		if pd[i].Kind != info.Name || pd[i].Letter != string(info.Letter) || pd[i].Description != info.Description ||
			pd[i].Faults != info.Faults || pd[i].Sink != info.Sink {
			t.Errorf("plan knows %+v, the kind says %+v", pd[i], info)
		}
		for _, s := range []string{string(info.Letter), strings.ToLower(string(info.Letter)), string(info.Name)} {
			if got, ok := kind.Lookup(s); !ok || got.Info().Name != info.Name {
				t.Errorf("Lookup(%q) does not find %s", s, info.Name)
			}
		}
	}
	// A plan without drills runs registered kinds.
	p, err := plan.Parse([]byte(`{"regions":["us-east","eu-west"],"evacuate":"us-east"}`), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range p.DrillList() {
		if _, ok := kind.Lookup(string(d)); !ok {
			t.Errorf("default drill %s is no registered kind", d)
		}
	}
}

// Every step of every kind says what it will do; the steps a kind skips
// say why.
func TestEveryStepSaysWhatItDoes(t *testing.T) {
	p, err := plan.Parse([]byte(`{"regions":["us-east","eu-west"],"evacuate":"us-east"}`), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kind.All() {
		for i, s := range k.Runbook() {
			says := s.Says(p)
			if says == "" || (s.Do == nil) != strings.HasPrefix(says, "skipped (") {
				t.Errorf("drill %s step %s: Do set %v, says %q", k.Info().Letter, event.Steps[i], s.Do != nil, says)
			}
		}
	}
}

// Drill C skews a follower: never the primary, whose contract is the
// reference. The others change the evacuated region.
func TestRegions(t *testing.T) {
	p, err := plan.Parse([]byte(`{"regions":["us-east","eu-west","ap-south"],"evacuate":"us-east","promote_survivor":"ap-south"}`), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := kind.Lookup("C")
	for _, tc := range []struct{ primary, changed, serving string }{
		{"us-east", "ap-south", "us-east"},
		{"eu-west", "us-east", "eu-west"},
		{"", "ap-south", "us-east"}, // no primary read: the plan's
	} {
		if changed, serving := c.Regions(p, tc.primary); changed != tc.changed || serving != tc.serving {
			t.Errorf("C with primary %q: changes %s, serves %s; want %s, %s", tc.primary, changed, serving, tc.changed, tc.serving)
		}
	}
	a, _ := kind.Lookup("A")
	if changed, serving := a.Regions(p, "eu-west"); changed != "us-east" || serving != "ap-south" {
		t.Errorf("A changes %s and serves %s", changed, serving)
	}
}

// What a kind needs from a target is what conform rules it out for.
func TestNeeding(t *testing.T) {
	letters := func(ds []plan.DrillKind) string {
		var s string
		for _, d := range ds {
			s += d.Letter()
		}
		return s
	}
	for need, want := range map[kind.Need]string{kind.NeedWarm: "ABCDE", kind.NeedRebuild: "CE", kind.NeedPurge: "CE", kind.NeedFreeze: "ABDE"} {
		if got := letters(kind.Needing(need)); got != want {
			t.Errorf("%s needed by %s, want %s", need, got, want)
		}
	}
}

// docs/PLAN.md's drill table is the registry's (go test -update rewrites it).
func TestPlanDocDrillTable(t *testing.T) {
	const path = "../../docs/PLAN.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Skip("docs/PLAN.md not present:", err)
	}
	var b strings.Builder
	b.WriteString("| letter | name | drill | needs |\n| --- | --- | --- | --- |\n")
	for _, k := range kind.All() {
		info := k.Info()
		var needs []string
		if info.Faults != "" {
			needs = append(needs, "`targets.faults` ("+info.Faults+")")
		}
		if info.Sink != "" {
			needs = append(needs, "`targets.sink` ("+info.Sink+")")
		}
		if len(needs) == 0 {
			needs = []string{"-"}
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", info.Letter, info.Name, info.Description, strings.Join(needs, ", "))
	}
	table := b.String()
	re := regexp.MustCompile(`(?m)^\| letter \| name \|.*\n(\|.*\n)*`)
	if *update {
		if !re.Match(doc) {
			t.Fatal("docs/PLAN.md has no drill table to rewrite")
		}
		if err := os.WriteFile(path, re.ReplaceAll(doc, []byte(table)), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !strings.Contains(string(doc), table) {
		t.Errorf("docs/PLAN.md's drill table is not the registry's (go test ./internal/kind -run PlanDoc -update); want\n%s", table)
	}
}
