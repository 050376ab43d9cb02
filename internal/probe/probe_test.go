package probe_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/embed"
	"github.com/regiondrill/regiondrill/internal/probe"
)

func TestZoneOf(t *testing.T) {
	tests := []struct {
		ds   float64
		want probe.Zone
	}{
		{0, probe.ZoneStable}, {0.39, probe.ZoneStable}, {0.40, probe.ZoneTransitional},
		{0.59, probe.ZoneTransitional}, {0.60, probe.ZoneRisk}, {1.3, probe.ZoneRisk},
	}
	for _, tt := range tests {
		if got := probe.ZoneOf(tt.ds); got != tt.want {
			t.Errorf("ZoneOf(%v) = %v, want %v", tt.ds, got, tt.want)
		}
	}
}

func TestCoverage(t *testing.T) {
	gold := "Each region consists of three availability zones"
	tests := []struct {
		name, retrieved string
		want            float64
	}{
		{"all present, other forms", "Regions consist of THREE zones for availability.", 1},
		{"half", "every region has zones", 0.4}, // region, zone of region consist three avail zone
		{"none", "Lens queries are billed per gigabyte.", 0},
		{"empty retrieved", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := probe.Coverage(gold, tt.retrieved); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Coverage = %v, want %v", got, tt.want)
			}
		})
	}
	if got := probe.Coverage("the of and", "anything"); got != 1 {
		t.Errorf("gold without content tokens: %v, want 1", got)
	}
}

func TestDeltaS(t *testing.T) {
	ctx := context.Background()
	e := embed.NewHash(embed.HashOptions{})
	q := "How many availability zones does each region have?"
	near, err := probe.DeltaS(ctx, e, q, "Each region consists of three availability zones.")
	if err != nil {
		t.Fatal(err)
	}
	far, _ := probe.DeltaS(ctx, e, q, "Lens queries are billed per scanned gigabyte.")
	if probe.ZoneOf(near) != probe.ZoneStable || probe.ZoneOf(far) != probe.ZoneRisk {
		t.Errorf("near %.2f (%v), far %.2f (%v)", near, probe.ZoneOf(near), far, probe.ZoneOf(far))
	}
	if _, err := probe.DeltaS(ctx, failing{}, q, "x"); !errors.Is(err, errTool) {
		t.Errorf("embedder failure: err = %v", err)
	}
}

var errTool = errors.New("tool down")

type failing struct{}

func (failing) Name() string { return "failing" }
func (failing) Dim() int     { return 1 }
func (failing) Embed(context.Context, []string) ([][]float32, error) {
	return nil, errTool
}

func TestObserve(t *testing.T) {
	ab := []string{"doc-1", "doc-2"}
	cd := []string{"doc-3", "doc-4"}
	r := func(ds float64, docs []string, ans string) probe.Round {
		return probe.Round{DeltaS: ds, TopDocs: docs, Answer: ans}
	}
	tests := []struct {
		name   string
		rounds []probe.Round
		want   probe.Lambda
	}{
		{"empty is no evidence", nil, probe.Chaotic},
		{"one healthy round", []probe.Round{r(0.3, ab, "A")}, probe.Convergent},
		{"one round at risk", []probe.Round{r(0.7, ab, "A")}, probe.Chaotic},
		{"stable", []probe.Round{r(0.30, ab, "A"), r(0.31, ab, "A"), r(0.30, ab, "A")}, probe.Convergent},
		{"stable, ΔS falling", []probe.Round{r(0.40, ab, "A"), r(0.30, ab, "A"), r(0.20, ab, "A")}, probe.Convergent},
		{"stable but at risk", []probe.Round{r(0.70, ab, "A"), r(0.70, ab, "A"), r(0.70, ab, "A")}, probe.Chaotic},
		{"ΔS creeping up", []probe.Round{r(0.20, ab, "A"), r(0.26, ab, "A"), r(0.33, ab, "A")}, probe.Divergent},
		{"docs drifting away", []probe.Round{
			r(0.30, []string{"a", "b", "c", "d"}, "A"), r(0.30, []string{"a", "b", "c", "x"}, "A"),
			r(0.30, []string{"a", "b", "x", "y"}, "B"), r(0.30, []string{"a", "x", "y", "z"}, "C"),
		}, probe.Divergent},
		{"oscillating A B A", []probe.Round{r(0.30, ab, "A"), r(0.35, cd, "B"), r(0.30, ab, "A")}, probe.Recursive},
		{"loop A B C A", []probe.Round{r(0.30, ab, "A"), r(0.50, cd, "B"), r(0.32, []string{"doc-9"}, "C"), r(0.30, ab, "A")}, probe.Recursive},
		{"no pattern", []probe.Round{r(0.30, ab, "A"), r(0.50, cd, "B"), r(0.20, []string{"doc-1", "doc-9"}, "C"), r(0.40, []string{"doc-7"}, "D")}, probe.Chaotic},
		{"oscillating mostly at risk", []probe.Round{r(0.70, ab, "A"), r(0.80, cd, "B"), r(0.65, ab, "A")}, probe.Chaotic},
		{"one wobble in the answer", []probe.Round{r(0.30, ab, "A"), r(0.30, ab, "A'"), r(0.30, ab, "A'")}, probe.Divergent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := probe.Observe(tt.rounds, probe.RiskFrom); got != tt.want {
				t.Errorf("Observe = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLambdaText(t *testing.T) {
	for _, l := range []probe.Lambda{probe.Convergent, probe.Divergent, probe.Recursive, probe.Chaotic} {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		var back, bySymbol probe.Lambda
		if err := json.Unmarshal(b, &back); err != nil || back != l {
			t.Errorf("%v round-trips as %s to %v (%v)", l, b, back, err)
		}
		if err := bySymbol.UnmarshalText([]byte(l.Symbol())); err != nil || bySymbol != l {
			t.Errorf("symbol %q parses to %v (%v)", l.Symbol(), bySymbol, err)
		}
	}
	if probe.Convergent.Symbol() != "→" || probe.Chaotic.String() != "chaotic" {
		t.Error("names and symbols")
	}
	if _, err := json.Marshal(probe.Lambda(0)); err == nil {
		t.Error("the zero Lambda marshals")
	}
}

func TestDualhome(t *testing.T) {
	c := func(ids ...string) []contract.Chunk {
		var out []contract.Chunk
		for _, id := range ids {
			out = append(out, contract.Chunk{DocID: "d", ChunkID: id})
		}
		return out
	}
	tests := []struct {
		name string
		a, b []contract.Chunk
		k    int
		want float64
	}{
		{"identical", c("1", "2", "3"), c("1", "2", "3"), 3, 1},
		{"order does not matter", c("1", "2", "3"), c("3", "1", "2"), 3, 1},
		{"two of four", c("1", "2", "3", "4"), c("1", "9", "2", "8"), 4, 0.5},
		{"only top k counts", c("1", "2", "3"), c("1", "3", "2"), 2, 0.5},
		{"disjoint", c("1", "2"), c("3", "4"), 2, 0},
		{"a empty", nil, c("1"), 5, 0},
		{"b short", c("1", "2"), c("1"), 5, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := probe.Dualhome(tt.a, tt.b, tt.k); got != tt.want {
				t.Errorf("Dualhome = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	ctx := context.Background()
	kb, err := corpus.Load()
	if err != nil {
		t.Fatal(err)
	}
	e, err := probe.Ruler(kb)
	if err != nil {
		t.Fatal(err)
	}
	p := corpus.Probe{ID: "p1", Question: "How many availability zones does each region have?", DocIDs: []string{"doc-2"},
		Answer: "Each region consists of three availability zones"}
	good := contract.AskResponse{
		Answer:    "Each region consists of three availability zones.",
		Citations: []contract.Citation{{DocID: "doc-2", ChunkID: "doc-2#0"}},
		Chunks: []contract.Chunk{
			{DocID: "doc-2", ChunkID: "doc-2#0", Text: "Each region consists of three availability zones placed 40 km apart."},
			{DocID: "doc-5", ChunkID: "doc-5#1", Text: "Lens is billed per gigabyte."},
			{DocID: "doc-2", ChunkID: "doc-2#1", Text: "Zones fail independently."},
		},
		IndexHash: "ih-1",
	}
	r, err := probe.Evaluate(ctx, e, p, good, nil, probe.RiskFrom)
	if err != nil {
		t.Fatal(err)
	}
	if !r.CitesGold || r.Coverage != 1 || r.Zone() != probe.ZoneStable || r.Lambda != probe.Convergent || r.IndexHash != "ih-1" {
		t.Errorf("good answer: %+v", r)
	}
	if got := r.TopDocs; len(got) != 2 || got[0] != "doc-2" || got[1] != "doc-5" {
		t.Errorf("TopDocs = %v", got)
	}
	if r.Grounded != 1 {
		t.Errorf("good answer grounded %v, want 1", r.Grounded)
	}
	// An answer that echoes the question: the retrieved context is the good
	// one, so ΔS does not move, and the answer carries too little of the gold.
	echo := good
	echo.Answer = p.Question
	re, err := probe.Evaluate(ctx, e, p, echo, nil, probe.RiskFrom)
	if err != nil {
		t.Fatal(err)
	}
	if re.Grounded >= probe.CoverageMin {
		t.Errorf("an echo of the question is grounded %.2f, want < %.2f", re.Grounded, probe.CoverageMin)
	}

	// A broken region: wrong doc, nothing of the gold answer.
	bad := contract.AskResponse{
		Answer:    "Lens is billed per gigabyte.",
		Citations: []contract.Citation{{DocID: "doc-5", ChunkID: "doc-5#1"}},
		Chunks:    []contract.Chunk{{DocID: "doc-5", ChunkID: "doc-5#1", Text: "Lens is billed per gigabyte."}},
	}
	rb, err := probe.Evaluate(ctx, e, p, bad, []probe.Round{r.Round()}, probe.RiskFrom)
	if err != nil {
		t.Fatal(err)
	}
	if rb.CitesGold || rb.Coverage != 0 || rb.Zone() != probe.ZoneRisk || rb.Lambda == probe.Convergent {
		t.Errorf("bad answer not flagged: %+v", rb)
	}

	empty, err := probe.Evaluate(ctx, e, p, contract.AskResponse{}, nil, probe.RiskFrom)
	if err != nil || empty.DeltaS != 1 || empty.Lambda != probe.Chaotic {
		t.Errorf("nothing retrieved: %+v, %v", empty, err)
	}
	if _, err := probe.Evaluate(ctx, failing{}, p, good, nil, probe.RiskFrom); !errors.Is(err, errTool) {
		t.Errorf("embedder failure: err = %v", err)
	}
}
