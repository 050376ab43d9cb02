package writepath

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errNoLedger means the region has no ledger configured: it never applies.
var errNoLedger = errors.New("no ledger configured")

// errConflict means a compare-and-set on the ledger lost to another writer;
// the caller reads the entry again and decides anew.
var errConflict = errors.New("ledger entry changed under us")

// ledger is the client side of the global ledger: the fence (who is primary
// at which epoch) and one entry per idempotency key, created once, never
// expiring. It is the one place every applier agrees on, so both exactly-once
// and fencing rest on its compare-and-set (docs/WRITEPATH.md).
type ledger struct {
	nc *nats.Conn
	mu sync.Mutex
	kv jetstream.KeyValue
}

// claimState is where a ledger entry stands.
type claimState string

const (
	claimTaken     claimState = "claimed"   // reserved by an applier that has not committed
	claimCommitted claimState = "committed" // the write took effect; the claimant stores it
)

// claim is the value of a key's ledger entry.
type claim struct {
	Key       string     `json:"key"`
	Region    string     `json:"region"`
	Epoch     uint64     `json:"epoch"`
	State     claimState `json:"state"`
	AppliedAt time.Time  `json:"applied_at,omitzero"` // commit time (committed only)
}

// fence is the ledger's record of the primary: raised by every promotion
// (compare-and-set, never lowered) and read before every apply.
type fence struct {
	Primary string `json:"primary"`
	Epoch   uint64 `json:"epoch"`
}

// fenceKey is the ledger entry of the fence; no key entry can collide with
// it (they all start with "k").
const fenceKey = "fence"

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

// ledgerKey maps any idempotency key to a short valid KV key (a hash, so a
// long key can never exceed what the broker accepts on a subject).
func ledgerKey(key string) string {
	s := sha256.Sum256([]byte(key))
	return "k" + base64.RawURLEncoding.EncodeToString(s[:])
}

// get reads the entry at k into v; found=false when there is none.
func (l *ledger) get(ctx context.Context, k string, v any) (rev uint64, found bool, err error) {
	kv, err := l.bucket(ctx)
	if err != nil {
		return 0, false, err
	}
	e, err := kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("ledger get: %w", err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, false, fmt.Errorf("ledger decode %s: %w", k, err)
	}
	return e.Revision(), true, nil
}

// put writes v at k: created when rev is 0, else compare-and-set on rev. A
// lost race is errConflict.
func (l *ledger) put(ctx context.Context, k string, v any, rev uint64) (uint64, error) {
	kv, err := l.bucket(ctx)
	if err != nil {
		return 0, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	if rev == 0 {
		rev, err = kv.Create(ctx, k, b)
	} else {
		rev, err = kv.Update(ctx, k, b, rev)
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return 0, errConflict
	case err != nil:
		return 0, fmt.Errorf("ledger put: %w", err)
	}
	return rev, nil
}

// readFence returns the fence; a ledger without one reads as epoch 0.
func (l *ledger) readFence(ctx context.Context) (fence, uint64, error) {
	var f fence
	rev, _, err := l.get(ctx, fenceKey, &f)
	return f, rev, err
}

// raiseFence records want as the primary unless the fence already holds a
// newer epoch (ErrStaleEpoch, with the fence it holds). Raising to the value
// it already holds is a no-op.
func (l *ledger) raiseFence(ctx context.Context, want fence) (fence, error) {
	for {
		cur, rev, err := l.readFence(ctx)
		if err != nil {
			return fence{}, err
		}
		switch {
		case cur == want:
			return cur, nil
		case cur.Epoch >= want.Epoch:
			return cur, fmt.Errorf("fence holds %s at epoch %d, not below %d: %w", cur.Primary, cur.Epoch, want.Epoch+1, ErrStaleEpoch)
		}
		if _, err := l.put(ctx, fenceKey, want, rev); !errors.Is(err, errConflict) {
			return want, err
		}
	}
}

// getClaim reads key's entry.
func (l *ledger) getClaim(ctx context.Context, key string) (claim, uint64, bool, error) {
	var c claim
	rev, found, err := l.get(ctx, ledgerKey(key), &c)
	return c, rev, found, err
}

// putClaim creates (rev 0) or compare-and-sets key's entry.
func (l *ledger) putClaim(ctx context.Context, c claim, rev uint64) (uint64, error) {
	return l.put(ctx, ledgerKey(c.Key), c, rev)
}
