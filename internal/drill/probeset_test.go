package drill

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/embed"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// probeRegionAgainst runs a probe set against one local region whose /ask
// fails a question as many times as fails says (-1: always), and answers it
// with its gold answer otherwise. It returns the set and the asks made.
func probeRegionAgainst(t *testing.T, n int, fails func(q string) int) (probeSet, int, error) {
	t.Helper()
	kb, err := corpus.Load()
	if err != nil {
		t.Fatal(err)
	}
	gold := map[string]corpus.Probe{}
	for _, p := range kb.Probes {
		gold[p.Question] = p
	}
	var mu sync.Mutex
	seen, asks := map[string]int{}, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req contract.AskRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		seen[req.Question]++
		asks++
		try := seen[req.Question]
		mu.Unlock()
		if f := fails(req.Question); f < 0 || try <= f {
			http.Error(w, "transient", http.StatusServiceUnavailable)
			return
		}
		p := gold[req.Question]
		_ = json.NewEncoder(w).Encode(contract.AskResponse{Region: "us-east", Answer: p.Answer, IndexHash: "ih-1",
			Citations: []contract.Citation{{DocID: p.DocIDs[0]}}, Chunks: []contract.Chunk{{DocID: p.DocIDs[0], Text: p.Answer}}})
	}))
	t.Cleanup(srv.Close)
	p, err := plan.Parse([]byte(`{"regions":["us-east","eu-west"],"evacuate":"us-east"}`), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	e := New(Options{Plan: p, Corpus: kb, Embedder: embed.NewHash(embed.DefaultHashOptions),
		Target: adapter.New(adapter.Endpoints{Regions: map[string]string{"us-east": srv.URL}})})
	set, err := e.probeRegion(context.Background(), "us-east", n, 2)
	return set, asks, err
}

func TestProbeErrorIsRetried(t *testing.T) {
	kb, _ := corpus.Load()
	flaky := kb.Probes[1].Question
	set, _, err := probeRegionAgainst(t, 6, func(q string) int {
		if q == flaky {
			return 1 // one transient failure, then answers
		}
		return 0
	})
	if err != nil || set.unanswered() != 0 || len(set.answered()) != 6 {
		t.Fatalf("one transient error: err %v, %d unanswered: %s", err, set.unanswered(), set.failures())
	}
}

func TestProbeErrorCountsForThatProbeAlone(t *testing.T) {
	kb, _ := corpus.Load()
	broken := kb.Probes[2]
	set, _, err := probeRegionAgainst(t, 8, func(q string) int {
		if q == broken.Question {
			return -1
		}
		return 0
	})
	if err != nil {
		t.Fatal(err)
	}
	if set.unanswered() != 1 || len(set.answered()) != 7 || set.ok(2) || set.tooFew() {
		t.Fatalf("%d unanswered, %d answered: %s", set.unanswered(), len(set.answered()), set.failures())
	}
	if !strings.Contains(set.failures(), broken.ID) || !strings.Contains(set.failures(), "3 tries") {
		t.Fatalf("failures %q do not name %s and its tries", set.failures(), broken.ID)
	}
}

// A region that answers nothing fails the set, and costs at most the
// retry budget in extra asks per round.
func TestProbeRetriesAreBudgeted(t *testing.T) {
	set, asks, err := probeRegionAgainst(t, 8, func(string) int { return -1 })
	if !errors.Is(err, errNoProbeAnswered) || set.unanswered() != 8 {
		t.Fatalf("err %v, %d unanswered", err, set.unanswered())
	}
	if asks > 8+probeRetryBudget {
		t.Fatalf("%d asks for 8 probes: the retry budget of %d was not kept", asks, probeRetryBudget)
	}
}
