package writepath

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/regiondrill/regiondrill/internal/contract"
)

// errNoPrimary means a follower does not know where to forward.
var errNoPrimary = errors.New("no reachable primary known")

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fetchOne waits up to a second for the next message of q; nil if none.
func fetchOne(ctx context.Context, q *queue) jetstream.Msg {
	fctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	batch, err := q.cons.Fetch(1, jetstream.FetchContext(fctx))
	if err != nil {
		if ctx.Err() == nil {
			// broker hiccup: do not spin
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		return nil
	}
	for m := range batch.Messages() {
		return m
	}
	return nil
}

// hold runs step on msg until it succeeds, backing off between attempts and
// re-reading the state each time. It acks on success. When stop says the
// message must stay queued (or the loop ends), it naks and returns.
func (p *Path) hold(ctx context.Context, msg jetstream.Msg, stop func(State) bool, step func(context.Context, State) error) {
	backoff := p.cfg.RetryMin
	for {
		st, changed := p.snapshot()
		if stop(st) {
			_ = msg.Nak()
			return
		}
		err := step(ctx, st)
		if err == nil {
			if err := msg.Ack(); err != nil {
				p.log.Warn("ack", "err", err)
			}
			return
		}
		p.log.Debug("retry held message", "subject", msg.Subject(), "err", err)
		select {
		case <-ctx.Done():
			_ = msg.Nak()
			return
		case <-changed:
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, p.cfg.RetryMax)
		_ = msg.InProgress()
	}
}

// relayLoop applies (primary) or forwards (follower) queued writes in order.
// A frozen region leaves them queued.
func (p *Path) relayLoop(ctx context.Context) {
	for ctx.Err() == nil {
		st, changed := p.snapshot()
		if st.Frozen {
			select {
			case <-ctx.Done():
			case <-changed:
			}
			continue
		}
		msg := fetchOne(ctx, p.writesQ)
		if msg == nil {
			continue
		}
		var prog progress
		p.hold(ctx, msg, func(s State) bool { return s.Frozen }, func(ctx context.Context, s State) error {
			if s.Role == contract.RolePrimary {
				return p.apply(ctx, msg, s, &prog)
			}
			return p.forward(ctx, msg, s)
		})
	}
}

// progress is how far apply got with one message across retries.
type progress struct {
	stored bool
	claim  claim
	rev    uint64 // ledger revision of our claim
}

// apply claims the key in the global ledger, then stores the write and
// queues its webhook event. A key already claimed elsewhere is a dedupe hit.
func (p *Path) apply(ctx context.Context, msg jetstream.Msg, st State, prog *progress) error {
	if prog.stored {
		return p.markApplied(ctx, prog)
	}
	key := msg.Headers().Get(hdrKey)
	body := msg.Data()
	var req contract.WriteRequest
	if err := json.Unmarshal(body, &req); err != nil {
		p.log.Error("drop undecodable write", "key", key, "err", err)
		return nil
	}
	if !p.cfg.Faults.NoDedupe {
		have, err := p.st.hasKey(key)
		if err != nil {
			return fmt.Errorf("store lookup: %w", err)
		}
		if have {
			p.met.deduped.Add(1)
			return nil
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c := claim{Key: key, Region: p.cfg.Region, Epoch: st.Epoch}
		mine, rev, err := p.ledger.claim(cctx, c)
		cancel()
		if err != nil {
			return err
		}
		prog.claim, prog.rev = c, rev
		if !mine {
			p.met.deduped.Add(1)
			return nil
		}
	}
	now := p.clock()
	ev := Event{
		ID:        EventID(req.EventID, req.Rev),
		Key:       key,
		Tenant:    req.Tenant,
		EventID:   req.EventID,
		Rev:       req.Rev,
		Payload:   req.Payload,
		AppliedBy: p.cfg.Region,
		Epoch:     st.Epoch,
		AppliedAt: now,
	}
	// The event is queued before the write is stored: a retry after a failed
	// store append re-queues it under the same message id (deduped).
	mode := emitNormal
	if p.cfg.Faults.WebhooksFromAll {
		mode = emitAll
	}
	if err := p.enqueueEvent(ctx, ev, mode); err != nil {
		return err
	}
	if err := p.st.appendWrite(contract.StoredWrite{
		Key:       key,
		Tenant:    req.Tenant,
		BodyHash:  sha256Hex(body),
		AppliedBy: p.cfg.Region,
		Epoch:     st.Epoch,
		AppliedAt: now,
	}); err != nil {
		return fmt.Errorf("store append: %w", err)
	}
	p.met.applied.Add(1)
	prog.stored = true
	if p.cfg.Faults.NoDedupe {
		return nil
	}
	return p.markApplied(ctx, prog)
}

func (p *Path) markApplied(ctx context.Context, prog *progress) error {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return p.ledger.markApplied(cctx, prog.claim, prog.rev)
}

// forward hands a queued write to the primary's inbox; success means the
// primary queued it durably.
func (p *Path) forward(ctx context.Context, msg jetstream.Msg, st State) error {
	if st.Primary == "" {
		return errNoPrimary
	}
	h := http.Header{}
	for _, k := range []string{hdrKey, hdrOrigin, hdrAcceptedAt} {
		if v := msg.Headers().Get(k); v != "" {
			h.Set(k, v)
		}
	}
	h.Set(hdrEpoch, strconv.FormatUint(st.Epoch, 10))
	if err := p.post(ctx, st.Primary, "/internal/inbox", h, msg.Data()); err != nil {
		return err
	}
	p.met.forwarded.Add(1)
	return nil
}

// post sends body to a peer's internal endpoint and wants a 2xx.
func (p *Path) post(ctx context.Context, region, path string, h http.Header, body []byte) error {
	base := p.cfg.PeerURL(region)
	if base == "" {
		return fmt.Errorf("peer %s: %w", region, errNoPrimary)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("peer %s: %w", region, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(contract.HeaderRegion, p.cfg.Region)
	if p.cfg.InternalToken != "" {
		req.Header.Set("Authorization", "Bearer "+p.cfg.InternalToken)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("peer %s: %w", region, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("peer %s%s: status %d", region, path, resp.StatusCode)
	}
	return nil
}

// publish puts data on q durably (synchronous publish ack).
func (p *Path) publish(ctx context.Context, q *queue, data []byte, hdr nats.Header, msgID string) (*jetstream.PubAck, error) {
	m := &nats.Msg{Subject: q.subject, Data: data, Header: hdr}
	var opts []jetstream.PublishOpt
	if msgID != "" && !p.cfg.Faults.NoDedupe {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ack, err := p.js.PublishMsg(pctx, m, opts...)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", q.subject, err)
	}
	return ack, nil
}
