package drill

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
)

// purgeTenant is the tenant the purge evidence is cached under: no client
// asks as it, so its entries change only by the purge.
const purgeTenant = "regiondrill-purge"

// purgeWithEvidence purges region's cache with the evidence around it. The
// hot questions are cached under purgeTenant first, so the purge has known
// entries to remove whatever the cache's freshness window and the clients'
// traffic did meanwhile.
// The evidence is journaled (event.CachePurge) whatever happens.
func (e *Engine) purgeWithEvidence(ctx context.Context, d *drillRun, step event.Step, region string) error {
	ev := event.CachePurge{Drill: d.letter, Region: region, Asked: len(e.hotQuestions())}
	defer func() { e.record(journal.CachePurge, step, ev) }()
	var errs []error
	if err := e.t.Do(ctx, adapter.Action{Kind: adapter.Warm, Region: region, Tenant: purgeTenant, Questions: e.hotQuestions()}); err != nil {
		errs = append(errs, fmt.Errorf("warm before the purge: %w", err))
	}
	ev.EntriesBefore = e.cacheEntries(ctx, region, &errs)
	ev.HitsBefore = e.askCached(ctx, region, &ev, &errs)
	d.Mark(event.MarkPurge, "purge "+region)
	err := e.apply(ctx, step, adapter.Action{Kind: adapter.Purge, Region: region}, nil, "purge the region's cache")
	ev.AtMS = e.j.Since()
	if err != nil {
		ev.Error = errors.Join(append(errs, err)...).Error()
		return err
	}
	ev.EntriesAfter = e.cacheEntries(ctx, region, &errs)
	ev.HitsAfter = e.askCached(ctx, region, &ev, &errs)
	if len(errs) > 0 {
		ev.Error = errors.Join(errs...).Error()
	}
	return nil
}

func (e *Engine) cacheEntries(ctx context.Context, region string, errs *[]error) int {
	h, err := e.t.Health(ctx, region)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("cache entries: %w", err))
		return -1
	}
	return h.Cache.Entries
}

// askCached asks region the hot questions as purgeTenant through its cache and counts the
// answers its X-Cache header calls hits.
func (e *Engine) askCached(ctx context.Context, region string, ev *event.CachePurge, errs *[]error) int {
	hits := 0
	for _, q := range e.hotQuestions() {
		_, seen, err := e.t.AskSeen(ctx, region, e.token, contract.AskRequest{Tenant: purgeTenant, Question: q})
		switch {
		case err != nil:
			*errs = append(*errs, fmt.Errorf("ask %s: %w", region, err))
			return hits
		case seen.Cache == "":
			ev.Unlabelled++
		case seen.Cache == "hit":
			hits++
		}
	}
	return hits
}

// indexTrafficRate is how often drill C's sessions ask (per second, all together).
const indexTrafficRate = 10

// startIndexTraffic starts drill C's client sessions; the returned func
// stops them and journals what they saw (event.IndexTraffic; idempotent).
func (e *Engine) startIndexTraffic(ctx context.Context, d *drillRun) func() {
	ctx, cancel := context.WithCancel(ctx)
	it := event.IndexTraffic{Drill: d.letter, Skewed: d.evac, FromMS: e.j.Since()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	const sessions = 4
	probes := e.o.Corpus.Probes
	wg.Go(func() {
		tokens := make([]string, sessions)
		tick := time.NewTicker(time.Second / indexTrafficRate)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			s := n % sessions
			sid := fmt.Sprintf("regiondrill-%s-%d", d.letter, s)
			if tokens[s] == "" {
				tok, err := e.t.EdgeToken(ctx, sid)
				if err != nil {
					continue
				}
				tokens[s] = tok
			}
			q := probes[n%len(probes)].Question
			wg.Go(func() {
				actx, acancel := context.WithTimeout(ctx, e.p.RequestTimeout())
				defer acancel()
				_, seen, err := e.t.AskEdge(actx, sid, tokens[s], contract.AskRequest{Tenant: "probe", Question: q, NoCache: true})
				a := event.SeenAsk{AtMS: e.j.Since(), Session: s, Status: seen.Status, Region: seen.Region, IndexHash: seen.IndexHash}
				if err != nil {
					if ctx.Err() != nil {
						return // stopped: not an answer
					}
					a.Err = err.Error()
				}
				mu.Lock()
				it.Asks = append(it.Asks, a)
				mu.Unlock()
			})
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			it.ToMS = e.j.Since()
			e.record(journal.IndexTraffic, "", it)
		})
	}
}

// rotation reads which regions the router has in rotation; nil when the
// router has no status to read, or it did not answer in time.
func (e *Engine) rotation(ctx context.Context) map[string]bool {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	in, err := e.t.Rotation(ctx)
	if err != nil || len(in) == 0 {
		return nil
	}
	return in
}
