package drill

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/measure"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// alarmClient reads external alarms (HTTP and Prometheus stop conditions).
var alarmClient = &http.Client{Timeout: 2 * time.Second}

// stopValue measures one stop condition now. ok is false when the value
// could not be read (the reason is returned), which never trips a stop.
func (e *Engine) stopValue(ctx context.Context, sc plan.StopCondition, recs []load.Record, hs map[string]contract.Health) (v float64, ok bool, why string) {
	now := int64(0)
	for i := range recs {
		now = max(now, recs[i].Sched)
	}
	from := now - int64(3*time.Second)
	switch sc.Metric {
	case plan.StopErrorRate:
		return measure.ErrorRate(recs, from, now, measure.AllRegions), true, ""
	case plan.StopP95:
		return measure.Latency(recs, from, now, measure.AllRegions).P95, true, ""
	case plan.StopBacklog:
		for _, h := range hs {
			v += float64(h.Queue.Backlog)
		}
		return v, true, ""
	case plan.StopWriteLoss:
		return e.liveWriteLoss(ctx, hs)
	case plan.StopHTTP:
		return httpAlarm(ctx, sc.URL)
	case plan.StopPrometheus:
		base := sc.URL
		if base == "" && e.p.Targets != nil {
			base = e.p.Targets.Prometheus.URL
		}
		return adapter.PromQuery(ctx, base, sc.Query)
	}
	return 0, false, fmt.Sprintf("unknown metric %q", sc.Metric)
}

// httpAlarm is 1 when a GET of u fails or answers non-2xx, else 0.
func httpAlarm(ctx context.Context, u string) (float64, bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, false, err.Error()
	}
	resp, err := alarmClient.Do(req)
	if err != nil {
		return 1, true, err.Error()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return 1, true, resp.Status
	}
	return 0, true, ""
}

// liveWriteLoss counts acknowledged writes that no store holds while every
// queue is empty (nothing in flight could still deliver them). While any
// queue holds messages, loss cannot be told from delay: no value.
func (e *Engine) liveWriteLoss(ctx context.Context, hs map[string]contract.Health) (float64, bool, string) {
	if (e.gen == nil && e.o.Traffic == nil) || len(hs) < len(e.p.Regions) {
		return 0, false, "not every region readable"
	}
	for _, h := range hs {
		if h.Queue.Backlog > 0 {
			return 0, false, "queues not empty"
		}
	}
	held := map[string]bool{}
	for _, r := range e.p.Regions {
		w, err := e.t.Writes(ctx, r)
		if err != nil {
			return 0, false, err.Error()
		}
		for _, s := range w.Writes {
			held[s.Key] = true
		}
	}
	lost := 0
	for _, a := range e.writes() {
		if a.Outcome == load.OutcomeAcked && !held[a.Key] {
			lost++
		}
	}
	return float64(lost), true, ""
}

// checkStops evaluates the plan's stop conditions; the first one that stays
// above its threshold for its duration trips the drill.
func (e *Engine) checkStops(hs map[string]contract.Health, over map[int]time.Time) {
	if len(e.p.StopConditions) == 0 || e.tripped.Load() {
		return
	}
	recs := e.records()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for i, sc := range e.p.StopConditions {
		v, ok, _ := e.stopValue(ctx, sc, recs, hs)
		if !ok || v <= sc.Above {
			delete(over, i)
			continue
		}
		since, seen := over[i]
		if !seen {
			since = e.now()
			over[i] = since
		}
		if e.now().Sub(since) >= plan.Seconds(sc.ForS) {
			why := fmt.Sprintf("%s %.3f above %.3f for %.0fs", sc.Metric, v, sc.Above, sc.ForS)
			e.tripped.Store(true)
			e.record(journal.Stop, "", event.Stop{Condition: string(sc.Metric), Value: v, Above: sc.Above})
			select {
			case e.stop <- why:
			default:
			}
			return
		}
	}
}
