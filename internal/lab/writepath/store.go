package writepath

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	bolt "go.etcd.io/bbolt"
)

// store is the region's durable local state: idempotency records, the
// applied-write log (in apply order) and the last known fencing state.
type store struct {
	db *bolt.DB
}

var (
	bucketIdem   = []byte("idempotency")
	bucketWrites = []byte("writes")
	bucketByKey  = []byte("writes_by_key")
	bucketMeta   = []byte("meta")
	metaFencing  = []byte("fencing")
)

// idemState is where an idempotency record stands.
type idemState string

const (
	idemInFlight idemState = "in_flight"
	idemDone     idemState = "done"
)

// idemRecord is what the accepting region remembers about one key.
type idemRecord struct {
	State    idemState `json:"state"`
	BodyHash string    `json:"body_hash"`
	Status   int       `json:"status,omitempty"`
	Body     []byte    `json:"body,omitempty"`
}

// fencing is the persisted primary and epoch.
type fencing struct {
	Primary string `json:"primary"`
	Epoch   uint64 `json:"epoch"`
}

func openStore(dir string) (*store, error) {
	db, err := bolt.Open(filepath.Join(dir, "region.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// Concurrent writes share one transaction and one fsync (Batch); a
	// lone write waits at most this long for company.
	db.MaxBatchDelay = 2 * time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketIdem, bucketWrites, bucketByKey, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		// An in-flight record left by a crash has no answer to replay: drop it
		// so the client can retry (the stream and the ledger still dedupe).
		idem := tx.Bucket(bucketIdem)
		var stale [][]byte
		if err := idem.ForEach(func(k, v []byte) error {
			var r idemRecord
			if json.Unmarshal(v, &r) != nil || r.State == idemInFlight {
				stale = append(stale, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range stale {
			if err := idem.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("init store: %w", err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

// errIdemConflict and friends are the outcomes of beginning a keyed request.
var (
	errIdemMismatch = errors.New("idempotency key reused with a different body")
	errIdemInFlight = errors.New("idempotency key in flight")
)

// beginIdem reserves key for a request whose body hashes to bodyHash. It
// returns the finished record when the key already completed.
func (s *store) beginIdem(key, bodyHash string) (*idemRecord, error) {
	var done *idemRecord
	err := s.db.Batch(func(tx *bolt.Tx) error {
		done = nil // Batch may run this again alone
		b := tx.Bucket(bucketIdem)
		if v := b.Get([]byte(key)); v != nil {
			var r idemRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode idempotency record: %w", err)
			}
			switch {
			case r.BodyHash != bodyHash:
				return errIdemMismatch
			case r.State == idemInFlight:
				return errIdemInFlight
			}
			done = &r
			return nil
		}
		v, err := json.Marshal(idemRecord{State: idemInFlight, BodyHash: bodyHash})
		if err != nil {
			return err
		}
		return b.Put([]byte(key), v)
	})
	return done, err
}

// finishIdem stores the answer to replay for key.
func (s *store) finishIdem(key, bodyHash string, status int, body []byte) error {
	v, err := json.Marshal(idemRecord{State: idemDone, BodyHash: bodyHash, Status: status, Body: body})
	if err != nil {
		return err
	}
	return s.db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucketIdem).Put([]byte(key), v) })
}

// abortIdem forgets an in-flight key whose request failed before it was durable.
func (s *store) abortIdem(key string) error {
	return s.db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucketIdem).Delete([]byte(key)) })
}

// hasKey reports whether a queued (non-direct) write with key was applied here.
func (s *store) hasKey(key string) (bool, error) {
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketByKey).Get([]byte(key)) != nil
		return nil
	})
	return ok, err
}

// appendWrite adds w to the apply log.
func (s *store) appendWrite(w contract.StoredWrite) error {
	v, err := json.Marshal(w)
	if err != nil {
		return err
	}
	// Update, not Batch: the relay applies one write at a time, and a lone
	// Batch call would wait MaxBatchDelay for company that never comes.
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWrites)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		k := binary.BigEndian.AppendUint64(nil, seq)
		if err := b.Put(k, v); err != nil {
			return err
		}
		if w.Direct {
			return nil
		}
		return tx.Bucket(bucketByKey).Put([]byte(w.Key), k)
	})
}

// writes lists the apply log in order.
func (s *store) writes() ([]contract.StoredWrite, error) {
	out := []contract.StoredWrite{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketWrites).ForEach(func(_, v []byte) error {
			var w contract.StoredWrite
			if err := json.Unmarshal(v, &w); err != nil {
				return err
			}
			out = append(out, w)
			return nil
		})
	})
	return out, err
}

func (s *store) loadFencing() (fencing, error) {
	var f fencing
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(metaFencing); v != nil {
			return json.Unmarshal(v, &f)
		}
		return nil
	})
	return f, err
}

func (s *store) saveFencing(f fencing) error {
	v, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaFencing, v) })
}
