package writepath

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Event is the webhook event of one applied write.
type Event struct {
	ID        string    `json:"id"` // hex sha256(event_id + rev): the sink's dedupe key
	Key       string    `json:"key"`
	Tenant    string    `json:"tenant"`
	EventID   string    `json:"event_id"`
	Rev       int       `json:"rev"`
	Payload   string    `json:"payload"`
	AppliedBy string    `json:"applied_by"`
	Epoch     uint64    `json:"epoch"`
	AppliedAt time.Time `json:"applied_at"`
}

// EventID is the plan's dedupe_key: hex sha256(event_id + rev).
func EventID(eventID string, rev int) string {
	return sha256Hex([]byte(eventID + strconv.Itoa(rev)))
}

// emitMode says how a queued event is routed.
type emitMode string

const (
	emitNormal emitMode = ""     // deliver if in emit_from, else forward to a region that is
	emitAll    emitMode = "all"  // fault: deliver here and copy to every region
	emitHere   emitMode = "here" // fault copy: deliver here whatever the policy
)

// errNoEmitter means the emit policy names no region to deliver from.
var errNoEmitter = errors.New("emit policy names no other region")

func (p *Path) enqueueEvent(ctx context.Context, ev Event, mode emitMode) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	h := nats.Header{}
	if mode != emitNormal {
		h.Set(hdrEmit, string(mode))
	}
	_, err = p.publish(ctx, p.hooksQ, data, h, ev.ID)
	return err
}

// emitLoop drains the webhook stream: it delivers events when this region
// is in emit_from and hands them to one that is otherwise, so no delivery
// comes from a region outside the policy (unless WebhooksFromAll).
func (p *Path) emitLoop(ctx context.Context) {
	for ctx.Err() == nil {
		msg := fetchOne(ctx, p.hooksQ)
		if msg == nil {
			continue
		}
		p.emit(ctx, msg)
	}
}

func (p *Path) emit(ctx context.Context, msg jetstream.Msg) {
	var ev Event
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		p.log.Error("drop undecodable event", "err", err)
		_ = msg.Term()
		return
	}
	mode := emitMode(msg.Headers().Get(hdrEmit))
	if mode == emitAll {
		p.fanOut(ctx, ev)
		mode = emitHere
	}
	p.hold(ctx, msg, func(State) bool { return false }, func(ctx context.Context, st State) error {
		if mode == emitHere || slices.Contains(st.EmitFrom, p.cfg.Region) {
			return p.deliver(ctx, ev)
		}
		for _, r := range st.EmitFrom {
			if r == p.cfg.Region {
				continue
			}
			// the first region of the policy emits; one event, one delivery
			return p.post(ctx, r, "/internal/webhook", http.Header{}, msg.Data())
		}
		return errNoEmitter
	})
}

func (p *Path) deliver(ctx context.Context, ev Event) error {
	if p.cfg.Webhook == nil {
		return errors.New("no webhook sender configured")
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.cfg.Webhook.Deliver(dctx, ev); err != nil {
		return fmt.Errorf("deliver %s: %w", ev.ID, err)
	}
	p.met.webhooksSent.Add(1)
	return nil
}

// fanOut is the WebhooksFromAll fault: one best-effort copy to every other
// region, each told to deliver it regardless of the policy.
func (p *Path) fanOut(ctx context.Context, ev Event) {
	data, err := json.Marshal(ev)
	if err != nil {
		return
	}
	st, _ := p.snapshot()
	targets := slices.Clone(p.cfg.Regions)
	if len(targets) == 0 {
		targets = append(slices.Clone(st.EmitFrom), st.Primary)
	}
	slices.Sort(targets)
	for _, r := range slices.Compact(targets) {
		if r == p.cfg.Region || r == "" {
			continue
		}
		h := http.Header{}
		h.Set(hdrEmit, string(emitHere))
		if err := p.post(ctx, r, "/internal/webhook", h, data); err != nil {
			p.log.Warn("webhook fan-out", "peer", r, "err", err)
		}
	}
}
