package drill

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// closeout reads what the judge needs from the target at the very end: the
// client's write attempts, every region's store and the webhook sink.
func (e *Engine) closeout(ctx context.Context) {
	// Let queues drain after the restore before the final read.
	deadline := e.now().Add(plan.Seconds(e.p.Phases.DrainTimeoutS))
	for zeros := 0; zeros < 3 && e.now().Before(deadline); {
		if e.backlog(ctx) == 0 {
			zeros++
		} else {
			zeros = 0
		}
		time.Sleep(250 * time.Millisecond)
	}
	if e.rec != nil {
		recs := e.rec.Records()
		e.record(journal.RegionsIndex, "", event.RegionsIndex(e.rec.Regions()))
		for i := 0; i < len(recs); i += batchSize {
			e.record(journal.Records, "", load.Batch(recs[i:min(i+batchSize, len(recs))]))
		}
	}
	if e.gen != nil {
		recordBatches(e, journal.Writes, e.gen.Writes())
	}
	var stores []contract.Writes
	for _, r := range e.sortedRegions() {
		w, err := e.t.Writes(ctx, r)
		if err != nil {
			e.record(journal.StoreError, "", event.StoreError(r+": "+err.Error()))
			continue
		}
		stores = append(stores, w)
	}
	if len(stores) == 0 {
		e.record(journal.Stores, "", stores)
	}
	for _, s := range stores { // a region's store may span several events
		for i := 0; i == 0 || i < len(s.Writes); i += batchSize {
			part := contract.Writes{Region: s.Region, Writes: s.Writes[i:min(i+batchSize, len(s.Writes))]}
			e.record(journal.Stores, "", []contract.Writes{part})
		}
		// what is still queued or was set aside, in events of their own
		for i := 0; i < len(s.Queued); i += batchSize {
			part := contract.Writes{Region: s.Region, Writes: []contract.StoredWrite{}, Queued: s.Queued[i:min(i+batchSize, len(s.Queued))]}
			e.record(journal.Stores, "", []contract.Writes{part})
		}
		for i := 0; i < len(s.Dead); i += batchSize {
			part := contract.Writes{Region: s.Region, Writes: []contract.StoredWrite{}, Dead: s.Dead[i:min(i+batchSize, len(s.Dead))]}
			e.record(journal.Stores, "", []contract.Writes{part})
		}
	}
	switch ds, err := e.t.Deliveries(ctx); {
	case e.p.Waives(plan.WaiveSink):
		e.record(journal.DeliveriesWaived, "", event.DeliveriesWaived("targets.waive names sink"))
	case err != nil:
		e.record(journal.DeliveriesError, "", event.DeliveriesError(err.Error()))
	default:
		sort.Slice(ds, func(i, j int) bool { return ds[i].ReceivedAt.Before(ds[j].ReceivedAt) })
		recordBatches(e, journal.Webhooks, ds)
	}
	if err := e.j.Flush(); err != nil {
		err = fmt.Errorf("journal: flush: %w", err)
		e.journalErr.CompareAndSwap(nil, &err)
	}
}

// batchSize bounds the items of one bulk journal event, so every journal
// line stays small whatever the size of the run.
const batchSize = 5000

// recordBatches journals items in events of at most batchSize, at least one.
func recordBatches[T any](e *Engine, typ journal.Type, items []T) {
	for i := 0; i == 0 || i < len(items); i += batchSize {
		e.record(typ, "", items[i:min(i+batchSize, len(items))])
	}
}
