package load

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// Outcome is what the client knows about a logical write.
type Outcome uint8

const (
	OutcomeUnsent        Outcome = iota // never sent
	OutcomeAcked                        // some attempt got a 2xx: the target promised durability
	OutcomeFailed                       // every attempt was definitely refused before acceptance
	OutcomeIndeterminate                // some attempt may have been applied (5xx, timeout, 409, cut off) and none was acked
)

var outcomeNames = [...]string{"unsent", "acked", "failed", "indeterminate"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// MarshalText writes the outcome name.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads an outcome name.
func (o *Outcome) UnmarshalText(b []byte) error {
	for i, n := range outcomeNames {
		if n == string(b) {
			*o = Outcome(i)
			return nil
		}
	}
	return fmt.Errorf("load: unknown outcome %q", b)
}

// WriteAttempt is everything the client did for one logical write: all its
// retries and its replay share the key and the exact body bytes.
type WriteAttempt struct {
	ID        uint64  `json:"id"`
	Key       string  `json:"key"`
	Tenant    string  `json:"tenant"`
	EventID   string  `json:"event_id"`
	Rev       int     `json:"rev"`
	BodyHash  string  `json:"body_hash"` // hex sha256 of the body bytes sent
	Outcome   Outcome `json:"outcome"`
	AckedBy   string  `json:"acked_by,omitempty"`
	Attempts  int     `json:"attempts"`
	Replayed  bool    `json:"replayed,omitempty"`
	FirstSent int64   `json:"first_sent"` // ns since run start
	LastEnd   int64   `json:"last_end"`   // ns since run start; 0 if no attempt ended
}

// writeState is a write in progress. body never changes once built.
type writeState struct {
	mu      sync.Mutex
	session *session // the client that sent it: its retries and replay go as that client, even after it left
	body    []byte
	keyVal  []string // {a.Key}, the Idempotency-Key header value
	a       WriteAttempt
	acked   bool
	unknown bool
	sent    bool
}

// newWrite builds the write with the deterministic key, event id and body
// derived from the seed and the write id.
func newWrite(seed int64, id uint64, tenant string, session *session) (*writeState, error) {
	req := contract.WriteRequest{
		Tenant:  tenant,
		EventID: fmt.Sprintf("ev-%d-%d", seed, id),
		Rev:     1,
		Payload: fmt.Sprintf("drill write %d of run %d", id, seed),
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("load: encode write %d: %w", id, err)
	}
	sum := sha256.Sum256(body)
	key := WriteKey(seed, id)
	return &writeState{
		session: session,
		body:    body,
		keyVal:  []string{key},
		a: WriteAttempt{
			ID:       id,
			Key:      key,
			Tenant:   tenant,
			EventID:  req.EventID,
			Rev:      req.Rev,
			BodyHash: hex.EncodeToString(sum[:]),
		},
	}, nil
}

// WriteKey is the Idempotency-Key of write id in a run with this seed.
func WriteKey(seed int64, id uint64) string { return fmt.Sprintf("w-%d-%d", seed, id) }

// begin notes an attempt about to be sent and returns its attempt number.
func (w *writeState) begin(start int64, replay bool) uint8 {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.a.Attempts
	w.a.Attempts++
	if !w.sent {
		w.sent = true
		w.a.FirstSent = start
	}
	if replay {
		w.a.Replayed = true
	}
	if n > 255 {
		n = 255
	}
	return uint8(n)
}

// end folds an attempt's result into the write's outcome.
func (w *writeState) end(rec Record, ackedBy string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rec.End > w.a.LastEnd {
		w.a.LastEnd = rec.End
	}
	switch {
	case rec.Status >= 200 && rec.Status < 300:
		if !w.acked {
			w.acked = true
			w.a.AckedBy = ackedBy
		}
	case definiteRefusal(rec):
	default:
		w.unknown = true
	}
}

// definiteRefusal reports whether an attempt certainly was not applied:
// nothing was delivered (dial or TLS failure) or the target refused it with
// a 4xx other than 409 (409 means the key is in flight somewhere).
func definiteRefusal(rec Record) bool {
	switch rec.Err {
	case ErrConnect, ErrTLS:
		return true
	}
	return rec.Status >= 400 && rec.Status < 500 && rec.Status != 409
}

func (w *writeState) snapshot() WriteAttempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.a
	switch {
	case !w.sent:
		a.Outcome = OutcomeUnsent
	case w.acked:
		a.Outcome = OutcomeAcked
	case w.unknown:
		a.Outcome = OutcomeIndeterminate
	default:
		a.Outcome = OutcomeFailed
	}
	return a
}
