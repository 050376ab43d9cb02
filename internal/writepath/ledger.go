package writepath

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errNoLedger means the region has no ledger configured: it never applies.
var errNoLedger = errors.New("no ledger configured")

// ledger is the client side of the global dedupe ledger: one KV entry per
// idempotency key, created once, never expiring.
type ledger struct {
	nc *nats.Conn
	mu sync.Mutex
	kv jetstream.KeyValue
}

// claimState is where a ledger entry stands.
type claimState string

const (
	claimTaken   claimState = "claimed" // the applier may be storing it now
	claimApplied claimState = "applied" // stored by the claimant
)

// claim is the value of a ledger entry.
type claim struct {
	Key    string     `json:"key"`
	Region string     `json:"region"`
	Epoch  uint64     `json:"epoch"`
	State  claimState `json:"state"`
}

func newLedger(nc *nats.Conn) *ledger { return &ledger{nc: nc} }

func (l *ledger) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	if l.nc == nil {
		return nil, errNoLedger
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kv != nil {
		return l.kv, nil
	}
	js, err := jetstream.New(l.nc)
	if err != nil {
		return nil, fmt.Errorf("ledger jetstream: %w", err)
	}
	kv, err := js.KeyValue(ctx, LedgerBucket)
	if err != nil {
		return nil, fmt.Errorf("ledger bucket: %w", err)
	}
	l.kv = kv
	return kv, nil
}

// ledgerKey maps any idempotency key to a valid KV key.
func ledgerKey(key string) string { return "k" + base64.RawURLEncoding.EncodeToString([]byte(key)) }

// claim creates the entry for c.Key if absent. It returns mine=true with the
// entry's revision when the caller may apply: it created the entry now; an
// earlier attempt by the same region created it (the answer was lost; the
// caller checks its own store); or the holder claimed it at an older epoch
// and never marked it applied (a fenced primary that died mid-apply), taken
// over by compare-and-set. mine=false means the write is already applied or
// owned by a current applier: a dedupe hit.
func (l *ledger) claim(ctx context.Context, c claim) (mine bool, rev uint64, err error) {
	kv, err := l.bucket(ctx)
	if err != nil {
		return false, 0, err
	}
	c.State = claimTaken
	v, err := json.Marshal(c)
	if err != nil {
		return false, 0, err
	}
	rev, err = kv.Create(ctx, ledgerKey(c.Key), v)
	if err == nil {
		return true, rev, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return false, 0, fmt.Errorf("ledger create: %w", err)
	}
	e, err := kv.Get(ctx, ledgerKey(c.Key))
	if err != nil {
		return false, 0, fmt.Errorf("ledger get: %w", err)
	}
	var held claim
	if err := json.Unmarshal(e.Value(), &held); err != nil {
		return false, 0, fmt.Errorf("ledger decode: %w", err)
	}
	switch {
	case held.Region == c.Region:
		return true, e.Revision(), nil
	case held.State == claimTaken && held.Epoch < c.Epoch:
		rev, err := kv.Update(ctx, ledgerKey(c.Key), v, e.Revision())
		if err != nil {
			return false, 0, fmt.Errorf("ledger take over: %w", err)
		}
		return true, rev, nil
	}
	return false, 0, nil
}

// markApplied records that the claimant stored the write.
func (l *ledger) markApplied(ctx context.Context, c claim, rev uint64) error {
	kv, err := l.bucket(ctx)
	if err != nil {
		return err
	}
	c.State = claimApplied
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := kv.Update(ctx, ledgerKey(c.Key), v, rev); err != nil {
		return fmt.Errorf("ledger mark applied: %w", err)
	}
	return nil
}
