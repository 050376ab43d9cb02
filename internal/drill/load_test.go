package drill

import (
	"context"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/load"
)

// baseOf is a Traffic that sends nothing and keeps the configuration the
// engine gave it.
type baseOf struct{ base load.Config }

func (b *baseOf) Run(_ context.Context, env TrafficEnv) error { b.base = env.Base; return nil }
func (b *baseOf) Records() []load.Record                      { return nil }
func (b *baseOf) Writes() []load.WriteAttempt                 { return nil }

// The plan's load.session_s is the load's session life, the same for the
// local generator and the agents (which get this configuration).
func TestLoadTakesSessionLife(t *testing.T) {
	kb, err := corpus.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		load string
		want time.Duration
	}{
		{"", 10 * time.Second},
		{`,"load":{"session_s":2.5}`, 2500 * time.Millisecond},
		{`,"load":{"session_s":0}`, 0},
	} {
		e, _ := newFake(t).engine(`{"regions":["us-east","eu-west"],"evacuate":"us-east"` + c.load + `}`)
		tr := &baseOf{}
		e.o.Corpus, e.o.Traffic = kb, tr
		<-e.startLoad(t.Context())
		if tr.base.SessionLife != c.want || tr.base.Sessions != 40 {
			t.Errorf("plan%s: load with %d sessions lasting %v, want 40 lasting %v", c.load, tr.base.Sessions, tr.base.SessionLife, c.want)
		}
	}
}
