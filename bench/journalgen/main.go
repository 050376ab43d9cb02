// Command journalgen inflates a real drill journal to at least N client
// requests, so the checker and report can be measured on a journal of that
// size (issue 7, goal 5). Every request record is copied k times with its
// own sequence number; every write is copied with its own key and event id,
// and so are the stores' entries and the webhook deliveries of that write, so
// the copy classifies and reconciles exactly as the original did, k times
// over. Everything else (steps, changes, checks, probes, health) is kept as is.
package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	_ "github.com/regiondrill/regiondrill/internal/kind" // the drill kinds a journaled plan names
	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// batch is how many records one records event carries, as the engine writes them.
const batch = 5000

func main() {
	in := flag.String("in", "", "journal.jsonl of a real drill")
	out := flag.String("out", "", "where to write the inflated journal (must not exist)")
	n := flag.Int("requests", 1_000_000, "at least this many request records")
	flag.Parse()
	if err := run(*in, *out, *n); err != nil {
		fmt.Fprintln(os.Stderr, "journalgen:", err)
		os.Exit(1)
	}
}

func run(in, out string, want int) error {
	if in == "" || out == "" || want <= 0 {
		return errors.New("-in, -out and -requests > 0 are required")
	}
	evs, err := journal.ReadFile(in)
	if err != nil {
		return err
	}
	var (
		p     *plan.Plan
		recs  []load.Record
		first = -1 // index of the first records event: the inflated batches go there
	)
	for i, ev := range evs {
		switch ev.Type {
		case journal.RunStart:
			var rs event.RunStart
			if err := ev.Decode(&rs); err != nil {
				return fmt.Errorf("run_start: %w", err)
			}
			if p, err = plan.Decode(rs.Plan, "plan.json"); err != nil {
				return fmt.Errorf("run_start plan: %w", err)
			}
		case journal.Records:
			var rs load.Batch
			if err := ev.Decode(&rs); err != nil {
				return fmt.Errorf("event %d: %w", ev.Seq, err)
			}
			recs = append(recs, rs...)
			if first < 0 {
				first = i
			}
		}
	}
	if p == nil || len(recs) == 0 {
		return errors.New(in + ": no run_start or no request records")
	}
	k := (want + len(recs) - 1) / len(recs)
	// Written through the journal's own writer, chained and sealed as a
	// drill's journal is (with a key of its own: reports do not verify).
	var rs event.RunStart
	if err := evs[0].Decode(&rs); err != nil {
		return fmt.Errorf("run_start: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	var atMS int64
	w, err := journal.Create(out, rs.Origin, func() time.Time { return rs.Origin.Add(time.Duration(atMS) * time.Millisecond) },
		journal.SealWith(journal.NewKey(key)))
	if err != nil {
		return err
	}
	seq := 0
	emit := func(ev journal.Event, data any) error {
		seq++
		atMS = ev.At
		if data == nil && len(ev.Data) > 0 {
			data = ev.Data
		}
		_, err := w.Append(ev.Type, ev.Step, ev.ID, data)
		return err
	}
	for i, ev := range evs {
		switch {
		case ev.Type == journal.Records && i != first:
			continue
		case ev.Type == journal.Records:
			err = inflateRecords(recs, k, func(b []load.Record) error { return emit(ev, load.Batch(b)) })
		case ev.Type == journal.Writes:
			var ws []load.WriteAttempt
			if err = ev.Decode(&ws); err == nil {
				err = batches(inflateWrites(ws, k), func(b []load.WriteAttempt) error { return emit(ev, b) })
			}
		case ev.Type == journal.Stores:
			var ss []contract.Writes
			if err = ev.Decode(&ss); err == nil {
				for _, s := range inflateStores(ss, k) {
					err = errors.Join(err, batches(s.Writes, func(b []contract.StoredWrite) error {
						return emit(ev, []contract.Writes{{Region: s.Region, Writes: b}})
					}))
				}
			}
		case ev.Type == journal.Webhooks:
			var ds []contract.Delivery
			if err = ev.Decode(&ds); err == nil {
				err = batches(inflateDeliveries(p, evs, ds, k), func(b []contract.Delivery) error { return emit(ev, b) })
			}
		default:
			err = emit(ev, nil)
		}
		if err != nil {
			w.Close()
			os.Remove(out)
			return fmt.Errorf("event %d (%s): %w", ev.Seq, ev.Type, err)
		}
	}
	if err := w.Close(); err != nil {
		os.Remove(out)
		return err
	}
	fmt.Printf("%d requests (%d x %d), %d events\n", len(recs)*k, len(recs), k, seq)
	return nil
}

// batches hands items to out in runs of at most batch, as the engine journals them.
func batches[T any](items []T, out func([]T) error) error {
	for i := 0; i == 0 || i < len(items); i += batch {
		if err := out(items[i:min(i+batch, len(items))]); err != nil {
			return err
		}
	}
	return nil
}

func copyKey(s string, c int) string {
	if c == 0 {
		return s
	}
	return s + "~" + strconv.Itoa(c)
}

func copyID(id uint64, k, c int) uint64 {
	if id == 0 {
		return 0
	}
	return (id-1)*uint64(k) + uint64(c) + 1
}

// inflateRecords hands out k copies of every record, in batches, in
// sequence order. Copy c of a record is sent c ns after the original.
func inflateRecords(recs []load.Record, k int, out func([]load.Record) error) error {
	b := make([]load.Record, 0, batch)
	for _, r := range recs {
		for c := range k {
			x := r
			x.Seq = r.Seq*uint64(k) + uint64(c)
			x.WriteID = copyID(r.WriteID, k, c)
			x.Sched += int64(c)
			x.Start += int64(c)
			if x.End != 0 {
				x.End += int64(c)
			}
			b = append(b, x)
			if len(b) == batch {
				if err := out(b); err != nil {
					return err
				}
				b = b[:0]
			}
		}
	}
	if len(b) > 0 {
		return out(b)
	}
	return nil
}

func inflateWrites(ws []load.WriteAttempt, k int) []load.WriteAttempt {
	out := make([]load.WriteAttempt, 0, len(ws)*k)
	for _, w := range ws {
		for c := range k {
			x := w
			x.ID = copyID(w.ID, k, c)
			x.Key = copyKey(w.Key, c)
			x.EventID = copyKey(w.EventID, c)
			out = append(out, x)
		}
	}
	return out
}

func inflateStores(ss []contract.Writes, k int) []contract.Writes {
	out := make([]contract.Writes, len(ss))
	for i, s := range ss {
		out[i] = contract.Writes{Region: s.Region, Writes: make([]contract.StoredWrite, 0, len(s.Writes)*k)}
		for _, w := range s.Writes {
			for c := range k {
				x := w
				x.Key = copyKey(w.Key, c)
				out[i].Writes = append(out[i].Writes, x)
			}
		}
	}
	return out
}

// inflateDeliveries copies each delivery with the webhook id its write's
// copy would carry under the plan's dedupe key. A delivery whose id matches
// no write (a stray) is copied under a suffixed id.
func inflateDeliveries(p *plan.Plan, evs []journal.Event, ds []contract.Delivery, k int) []contract.Delivery {
	byID := map[string]load.WriteAttempt{}
	for _, ev := range evs {
		if ev.Type != journal.Writes {
			continue
		}
		var ws []load.WriteAttempt // the source journal may hold several batches
		if ev.Decode(&ws) == nil {
			for _, w := range ws {
				byID[webhookID(p, w)] = w
			}
		}
	}
	out := make([]contract.Delivery, 0, len(ds)*k)
	for _, d := range ds {
		w, ok := byID[d.ID]
		for c := range k {
			x := d
			if ok {
				w2 := w
				w2.EventID = copyKey(w.EventID, c)
				x.ID = webhookID(p, w2)
			} else {
				x.ID = copyKey(d.ID, c)
			}
			out = append(out, x)
		}
	}
	return out
}

func webhookID(p *plan.Plan, w load.WriteAttempt) string {
	return p.DedupeKey(map[string]string{"event_id": w.EventID, "rev": strconv.Itoa(w.Rev), "tenant": w.Tenant})
}
