package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/load"
)

const (
	batchMax    = 2048                   // records per message: about 150 kB, well under NATS's 1 MB
	flushEvery  = 200 * time.Millisecond // how stale a record may get before it is published
	writesEvery = time.Second            // how often changed write attempts are published
)

// streamer is the agent's load.Observer: it keeps the records that ended
// and publishes them, with the region table, the writes and the start and
// end of the run, to the run's stream, strictly in order. Each message has
// a stable Nats-Msg-Id, so a publish retried after a lost acknowledgement
// (a NATS server restarting) is stored once.
type streamer struct {
	js      jetstream.JetStream
	subject string
	idBase  string
	writes  func() []load.WriteAttempt

	mu      sync.Mutex
	pending []load.Record // ended, not yet taken; swapped with spare
	regions []string
	kick    chan struct{}

	spare []load.Record // the array the last flush took, for the next swap
	body  []byte        // the last batch's encoding, reused once acknowledged

	startNS   atomic.Int64 // the generator's start by the agent's clock; 0 until it started
	startSent bool
	sentW     map[uint64]load.WriteAttempt
	seq       uint64 // messages published
	records   uint64
	batches   uint64
}

func newStreamer(js jetstream.JetStream, subject, idBase string) *streamer {
	return &streamer{js: js, subject: subject, idBase: idBase, regions: []string{""},
		kick: make(chan struct{}, 1), sentW: map[uint64]load.WriteAttempt{}}
}

// Started is ignored: only records that ended are published.
func (s *streamer) Started(load.Record) {}

// Finished queues the ended record.
func (s *streamer) Finished(r load.Record) {
	s.mu.Lock()
	s.pending = append(s.pending, r)
	full := len(s.pending) >= batchMax
	s.mu.Unlock()
	if full {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// RegionSeen keeps the generator's region table: it goes with every batch.
func (s *streamer) RegionSeen(i uint8, name string) {
	s.mu.Lock()
	for len(s.regions) <= int(i) {
		s.regions = append(s.regions, "")
	}
	s.regions[i] = name
	s.mu.Unlock()
}

// started records the generator's start instant (Unix ns, agent clock).
func (s *streamer) started(ns int64) { s.startNS.CompareAndSwap(0, ns) }

// loop publishes what ended every flushEvery (sooner when a batch is full)
// and the changed writes every writesEvery, until done closes; then it
// publishes everything left and returns. Only ctx ending stops a retry.
func (s *streamer) loop(ctx context.Context, done <-chan struct{}) error {
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	lastW := time.Now()
	for {
		final := false
		select {
		case <-tick.C:
		case <-s.kick:
		case <-done:
			final = true
		}
		if err := s.flushRecords(ctx); err != nil {
			return err
		}
		if final || time.Since(lastW) >= writesEvery {
			lastW = time.Now()
			if err := s.flushWrites(ctx); err != nil {
				return err
			}
		}
		if final {
			return nil
		}
	}
}

// flushRecords publishes the start (once) and every record that ended so
// far, in batches of at most batchMax. It takes them by swapping two
// arrays, and encodes into one buffer: at full rate the agent allocates
// nothing per record for the streaming.
func (s *streamer) flushRecords(ctx context.Context) error {
	if !s.startSent {
		ns := s.startNS.Load()
		if ns == 0 {
			return nil // no record can exist before the start
		}
		b, _ := json.Marshal(Start{StartedNS: ns}) // an int64 always marshals
		if err := s.publish(ctx, KindStart, nil, b); err != nil {
			return err
		}
		s.startSent = true
	}
	s.mu.Lock()
	taken := s.pending
	s.pending = s.spare[:0]
	regions := append([]string(nil), s.regions...) // taken after the records: covers every index in them
	s.mu.Unlock()
	defer func(all []load.Record) { s.spare = all[:0] }(taken)
	if len(taken) == 0 {
		return nil
	}
	table, _ := json.Marshal(regions)
	hdr := map[string]string{RegionsHdr: string(table)}
	for len(taken) > 0 {
		n := min(len(taken), batchMax)
		// The publish has copied the body into the connection's buffer
		// by the time it returns, so the next batch may reuse it.
		s.body = load.Batch(taken[:n]).AppendJSON(s.body[:0])
		if err := s.publish(ctx, KindRecords, hdr, s.body); err != nil {
			return err
		}
		s.records += uint64(n)
		s.batches++
		taken = taken[n:]
	}
	return nil
}

// flushWrites publishes the write attempts that changed since the last
// time (the coordinator keeps the last state of each key).
func (s *streamer) flushWrites(ctx context.Context) error {
	if s.writes == nil {
		return nil
	}
	var changed []load.WriteAttempt
	for _, w := range s.writes() {
		if s.sentW[w.ID] != w {
			changed = append(changed, w)
		}
	}
	for i := 0; i < len(changed); i += batchMax {
		part := changed[i:min(i+batchMax, len(changed))]
		b, err := json.Marshal(part)
		if err != nil {
			return fmt.Errorf("agent: encode writes: %w", err)
		}
		if err := s.publish(ctx, KindWrites, nil, b); err != nil {
			return err
		}
		for _, w := range part {
			s.sentW[w.ID] = w
		}
	}
	return nil
}

// end publishes the last message of the vantage.
func (s *streamer) end(ctx context.Context, e event.VantageEnd) error {
	e.Records, e.Batches, e.Writes = s.records, s.batches, len(s.sentW)
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("agent: encode end: %w", err)
	}
	return s.publish(ctx, KindEnd, nil, b)
}

// publish stores one message in the stream, retrying until it is
// acknowledged or ctx ends.
func (s *streamer) publish(ctx context.Context, kind string, hdr map[string]string, body []byte) error {
	s.seq++
	m := nats.NewMsg(s.subject)
	m.Data = body
	m.Header.Set(jetstream.MsgIDHeader, s.idBase+"-"+strconv.FormatUint(s.seq, 10))
	m.Header.Set(KindHeader, kind)
	for k, v := range hdr {
		m.Header.Set(k, v)
	}
	wait := 100 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.js.PublishMsg(pctx, m)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("agent: publish %s %d: %w", kind, s.seq, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

var (
	_ load.Observer       = (*streamer)(nil)
	_ load.RegionObserver = (*streamer)(nil)
)
