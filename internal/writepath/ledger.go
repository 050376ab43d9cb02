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

// claim is the value of a ledger entry.
type claim struct {
	Key    string `json:"key"`
	Region string `json:"region"`
	Epoch  uint64 `json:"epoch"`
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

// claim creates the entry for c.Key if absent. It returns true when the
// caller may apply: it created the entry now, or an earlier attempt by the
// same region created it (the answer was lost) — the caller then checks its
// own store. It returns false when another region holds the claim.
func (l *ledger) claim(ctx context.Context, c claim) (bool, error) {
	kv, err := l.bucket(ctx)
	if err != nil {
		return false, err
	}
	v, err := json.Marshal(c)
	if err != nil {
		return false, err
	}
	_, err = kv.Create(ctx, ledgerKey(c.Key), v)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return false, fmt.Errorf("ledger create: %w", err)
	}
	e, err := kv.Get(ctx, ledgerKey(c.Key))
	if err != nil {
		return false, fmt.Errorf("ledger get: %w", err)
	}
	var held claim
	if err := json.Unmarshal(e.Value(), &held); err != nil {
		return false, fmt.Errorf("ledger decode: %w", err)
	}
	return held.Region == c.Region, nil
}
