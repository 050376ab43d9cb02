package drill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/probe"
)

// A probe whose ask fails is asked again, up to probeRetries times after a
// pause that doubles, so one transient timeout does not count. A region that
// is down stops being retried once the set's budget of retries is spent. A
// probe that still fails is counted for itself alone: it never wipes the
// answers of the others.
const (
	probeRetries     = 2
	probeBackoff     = 200 * time.Millisecond // before the first retry
	probeRetryBudget = 6                      // retries per region and round
)

// probeSet is one region's answers to a probe set: results[i] answers
// probe i when errs[i] is nil.
type probeSet struct {
	ids     []string
	results []probe.Result
	errs    []error
}

func newProbeSet(probes []corpus.Probe) probeSet {
	s := probeSet{results: make([]probe.Result, len(probes)), errs: make([]error, len(probes))}
	for _, p := range probes {
		s.ids = append(s.ids, p.ID)
	}
	return s
}

// ok reports whether probe i was answered.
func (s probeSet) ok(i int) bool { return i < len(s.errs) && s.errs[i] == nil }

// answered lists the answered probes' results in probe order.
func (s probeSet) answered() []probe.Result {
	var out []probe.Result
	for i := range s.results {
		if s.ok(i) {
			out = append(out, s.results[i])
		}
	}
	return out
}

// unanswered counts the probes that failed.
func (s probeSet) unanswered() int {
	n := 0
	for _, err := range s.errs {
		if err != nil {
			n++
		}
	}
	return n
}

// tooFew reports whether more than a quarter of the set went unanswered:
// then what was answered cannot stand for the set.
func (s probeSet) tooFew() bool { return s.unanswered() > len(s.errs)/4 }

// failures describes the probes that failed, "" when none did.
func (s probeSet) failures() string {
	var parts []string
	for i, err := range s.errs {
		if err != nil && len(parts) < 3 {
			parts = append(parts, s.ids[i]+": "+err.Error())
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d probes unanswered after %d retries: %s", s.unanswered(), len(s.errs), probeRetries, strings.Join(parts, "; "))
}

// errNoProbeAnswered: not one probe of a set was answered.
var errNoProbeAnswered = errors.New("no probe answered")

// askProbe asks probe p in a region and scores the answer, retrying a
// failure while the tries and the shared budget last.
func (e *Engine) askProbe(ctx context.Context, region string, p corpus.Probe, prev []probe.Round, budget *atomic.Int32) (probe.Result, error) {
	for try := 0; ; try++ {
		resp, err := e.t.Ask(ctx, region, e.token, contract.AskRequest{Tenant: "probe", Question: p.Question, K: e.p.RAGProbe.K, NoCache: true})
		if err == nil {
			var res probe.Result
			if res, err = probe.Evaluate(ctx, e.o.Embedder, p, resp, prev, e.p.RAGProbe.DeltaSRisk); err == nil {
				return res, nil
			}
		}
		if try == probeRetries || e.tripped.Load() || ctx.Err() != nil || budget.Add(-1) < 0 {
			return probe.Result{}, fmt.Errorf("%w (%d tries)", err, try+1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(probeBackoff << try):
		}
	}
}
