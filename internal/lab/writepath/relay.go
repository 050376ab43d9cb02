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
// message must stay queued (or the loop ends), it naks and returns. A
// message that can never be applied goes to the dead-letter stream, and one
// that must wait for another applier goes to the back of the queue: neither
// holds up the messages behind it.
func (p *Path) hold(ctx context.Context, msg jetstream.Msg, stop func(State) bool, step func(context.Context, State) error) {
	backoff := p.cfg.RetryMin
	for {
		st, changed := p.snapshot()
		if stop(st) {
			_ = msg.Nak()
			return
		}
		err := step(ctx, st)
		var perm permanentError
		switch {
		case err == nil:
			if err := msg.Ack(); err != nil {
				p.log.Warn("ack", "err", err)
			}
			return
		case errors.As(err, &perm):
			p.deadLetter(ctx, msg, err)
			return
		case errors.Is(err, errDeferred):
			if p.requeue(ctx, msg) {
				return
			}
		case errors.Is(err, errSteppedDown):
			if now := p.State(); now.Primary != st.Primary || now.Epoch != st.Epoch {
				continue // the region stepped down: handle it again at once
			}
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
			return p.forward(ctx, msg, s, &prog)
		})
	}
}

// progress is how far apply got with one message across retries.
type progress struct {
	committing bool  // a commit was sent (its answer may have been lost)
	committed  bool  // this region committed the key in the ledger
	claim      claim // the committed entry
}

// Outcomes of one apply attempt that are not plain transient errors.
var (
	// errSteppedDown: the ledger's fence names a newer primary; this region
	// adopted it and the message is handled again as a follower.
	errSteppedDown = errors.New("a newer primary holds the fence")
	// errDeferred: another applier of the current epoch holds the claim; the
	// message goes to the back of the queue instead of blocking it.
	errDeferred = errors.New("claim held by another current applier")
)

// permanentError marks a message that can never be applied; it goes to the
// dead-letter stream instead of holding up the queue.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// apply runs the ledger protocol of docs/WRITEPATH.md for one queued write:
// read the fence (step down if it names a newer primary, raise it if this
// region's epoch is newer), claim the key, commit the claim by
// compare-and-set, then store the write and queue its webhook event. Only the
// region whose commit won stores the write, so a primary fenced off
// mid-apply can never store what its successor applied.
func (p *Path) apply(ctx context.Context, msg jetstream.Msg, st State, prog *progress) error {
	key := msg.Headers().Get(hdrKey)
	body := msg.Data()
	var req contract.WriteRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return permanentError{fmt.Errorf("undecodable write %q: %w", key, err)}
	}
	if p.cfg.Faults.NoDedupe {
		return p.store(ctx, key, body, req, claim{Key: key, Region: p.cfg.Region, Epoch: st.Epoch, AppliedAt: p.clock()})
	}
	if prog.committed {
		return p.store(ctx, key, body, req, prog.claim)
	}
	if have, err := p.st.hasKey(key); err != nil {
		return fmt.Errorf("store lookup: %w", err)
	} else if have {
		p.met.deduped.Add(1)
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	mine := claim{Key: key, Region: p.cfg.Region, Epoch: st.Epoch, State: claimTaken}
	// The fence is read while the claim is first tried: a claim made by a
	// region that then finds itself fenced is left uncommitted, and the
	// newer primary takes it over (an older epoch's claim).
	fenced := make(chan error, 1)
	go func() { fenced <- p.checkFence(lctx, st) }()
	rev, err := p.ledger.putClaim(lctx, mine, 0)
	if ferr := <-fenced; ferr != nil {
		return ferr
	}
	for attempt := 0; ; attempt++ {
		switch {
		case err == nil:
		case !errors.Is(err, errConflict):
			return err
		case attempt >= 8:
			return fmt.Errorf("claim of %q: %w", key, errConflict)
		default:
			var done bool
			if rev, done, err = p.claimAgain(lctx, key, body, req, mine); done || err != nil && !errors.Is(err, errConflict) {
				return err // decided: stored, deduped, deferred, or an error
			} else if err != nil {
				continue // raced again
			}
		}
		if p.applyHook != nil {
			p.applyHook(key, "claimed")
		}
		commit := mine
		commit.State, commit.AppliedAt = claimCommitted, p.clock()
		prog.committing = true
		if _, err = p.ledger.putClaim(lctx, commit, rev); err == nil {
			prog.committed, prog.claim = true, commit
			return p.store(ctx, key, body, req, commit)
		}
		// a lost race (read it again) or an error (the commit may have
		// landed: the retry reads it)
	}
}

// claimAgain reads key's entry after a lost race and decides: store it (our
// own earlier commit), drop it (another's commit), defer it (done, or an
// error), or take the claim over by compare-and-set (the revision to commit
// on; errConflict when that race is lost too).
func (p *Path) claimAgain(ctx context.Context, key string, body []byte, req contract.WriteRequest, mine claim) (rev uint64, done bool, err error) {
	c, rev, found, err := p.ledger.getClaim(ctx, key)
	if err != nil {
		return 0, true, err
	}
	switch {
	case !found:
		rev = 0
	case c.State == claimCommitted && c.Region == p.cfg.Region:
		// committed by this region earlier (an answer lost, a crash before
		// the store): finish it
		return 0, true, p.store(ctx, key, body, req, c)
	case c.State == claimCommitted:
		p.met.deduped.Add(1)
		return 0, true, nil
	case c.Epoch > mine.Epoch:
		// a newer primary exists; the next attempt reads its fence
		return 0, true, fmt.Errorf("claim of %q at epoch %d, above ours (%d)", key, c.Epoch, mine.Epoch)
	case c.Region != p.cfg.Region && c.Epoch == mine.Epoch:
		return 0, true, errDeferred
	}
	// absent, ours, or an uncommitted claim of an older epoch (its holder
	// was fenced off and can no longer commit it)
	rev, err = p.ledger.putClaim(ctx, mine, rev)
	return rev, false, err
}

// checkFence compares this region's view with the ledger's fence: a newer
// fence is adopted (the region steps down before applying anything); an
// older one is raised to this region's epoch.
func (p *Path) checkFence(ctx context.Context, st State) error {
	f, _, err := p.ledger.readFence(ctx)
	if err != nil {
		return err
	}
	switch {
	case f.Epoch > st.Epoch || f.Epoch == st.Epoch && f.Primary != "" && f.Primary != p.cfg.Region:
		p.adopt(f)
		return fmt.Errorf("fence: %s at epoch %d: %w", f.Primary, f.Epoch, errSteppedDown)
	case f.Epoch < st.Epoch || f.Primary == "":
		cur, err := p.ledger.raiseFence(ctx, fence{Primary: p.cfg.Region, Epoch: st.Epoch})
		if errors.Is(err, ErrStaleEpoch) {
			p.adopt(cur)
			return fmt.Errorf("fence: %s at epoch %d: %w", cur.Primary, cur.Epoch, errSteppedDown)
		}
		return err
	}
	return nil
}

// adopt records a newer primary read from the ledger's fence.
func (p *Path) adopt(f fence) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.Epoch < p.epoch || f.Epoch == p.epoch && f.Primary == p.primary {
		return
	}
	if err := p.st.saveFencing(fencing{Primary: f.Primary, Epoch: f.Epoch}); err != nil {
		p.log.Error("save adopted fence", "err", err)
	}
	p.log.Info("stepped down to the ledger's fence", "primary", f.Primary, "epoch", f.Epoch)
	p.primary, p.epoch = f.Primary, f.Epoch
	p.notifyLocked()
}

// store makes a committed write visible in this region: its webhook event is
// queued (deduped by event id), then the write is appended to the store.
// Safe to repeat: a key already stored is left alone.
func (p *Path) store(ctx context.Context, key string, body []byte, req contract.WriteRequest, c claim) error {
	if !p.cfg.Faults.NoDedupe {
		if have, err := p.st.hasKey(key); err != nil {
			return fmt.Errorf("store lookup: %w", err)
		} else if have {
			return nil
		}
	}
	ev := Event{
		ID:        EventID(req.EventID, req.Rev),
		Key:       key,
		Tenant:    req.Tenant,
		EventID:   req.EventID,
		Rev:       req.Rev,
		Payload:   req.Payload,
		AppliedBy: p.cfg.Region,
		Epoch:     c.Epoch,
		AppliedAt: c.AppliedAt,
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
		Epoch:     c.Epoch,
		AppliedAt: c.AppliedAt,
	}); err != nil {
		return fmt.Errorf("store append: %w", err)
	}
	p.met.applied.Add(1)
	return nil
}

// forward hands a queued write to the primary's inbox; success means the
// primary queued it durably. A write this region committed while it was
// primary (it stepped down between the commit and the store, or crashed) is
// stored here instead: the ledger names this region as its only applier.
func (p *Path) forward(ctx context.Context, msg jetstream.Msg, st State, prog *progress) error {
	if c, ok, err := p.ownCommit(ctx, msg, prog); err != nil {
		return err
	} else if ok {
		var req contract.WriteRequest
		if err := json.Unmarshal(msg.Data(), &req); err != nil {
			return permanentError{fmt.Errorf("undecodable write: %w", err)}
		}
		return p.store(ctx, c.Key, msg.Data(), req, c)
	}
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

// ownCommit reports whether this region committed msg's key in the ledger.
// Only a message delivered before (this region may have been primary for it)
// costs a ledger read.
func (p *Path) ownCommit(ctx context.Context, msg jetstream.Msg, prog *progress) (claim, bool, error) {
	if prog.committed {
		return prog.claim, true, nil
	}
	if p.cfg.Faults.NoDedupe || p.ledger.nc == nil {
		return claim{}, false, nil
	}
	if md, err := msg.Metadata(); !prog.committing && err == nil && md.NumDelivered <= 1 {
		return claim{}, false, nil
	}
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, _, found, err := p.ledger.getClaim(lctx, msg.Headers().Get(hdrKey))
	if err != nil {
		return claim{}, false, err
	}
	return c, found && c.State == claimCommitted && c.Region == p.cfg.Region, nil
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

// maxDeferrals bounds how often one message goes to the back of the queue
// before it is set aside as a dead letter.
const maxDeferrals = 100

// requeue puts a copy of msg at the back of its queue and acks the original;
// false when it could not (the caller keeps holding the message).
func (p *Path) requeue(ctx context.Context, msg jetstream.Msg) bool {
	h := nats.Header{}
	for k, v := range msg.Headers() {
		h[k] = v
	}
	n, _ := strconv.Atoi(h.Get(hdrDeferrals))
	if n >= maxDeferrals {
		p.deadLetter(ctx, msg, fmt.Errorf("deferred %d times: %w", n, errDeferred))
		return true
	}
	h.Set(hdrDeferrals, strconv.Itoa(n+1))
	if _, err := p.publish(ctx, p.writesQ, msg.Data(), h, ""); err != nil {
		p.log.Warn("requeue", "err", err)
		return false
	}
	if err := msg.Ack(); err != nil {
		p.log.Warn("ack requeued", "err", err)
	}
	return true
}

// deadLetter moves msg to the region's dead-letter stream with the reason;
// health reports the count and GET /writes/dead lists them.
func (p *Path) deadLetter(ctx context.Context, msg jetstream.Msg, why error) {
	h := nats.Header{}
	for k, v := range msg.Headers() {
		h[k] = v
	}
	h.Set(hdrReason, why.Error())
	p.log.Error("dead letter", "key", h.Get(hdrKey), "err", why)
	if _, err := p.publish(ctx, p.deadQ, msg.Data(), h, ""); err != nil {
		p.log.Error("dead letter publish", "err", err)
		_ = msg.Nak()
		return
	}
	if err := msg.Ack(); err != nil {
		p.log.Warn("ack dead letter", "err", err)
	}
}
