// Package load is an open-model load generator: requests leave on a fixed
// schedule whatever the latency, and latency is measured from the scheduled
// time, so a stalled target shows up as queueing delay instead of hiding it.
package load

import (
	"fmt"
	"sync"
)

// Kind is what a request does.
type Kind uint8

const (
	KindToken Kind = iota // POST /token
	KindAsk               // POST /ask
	KindWrite             // POST /write
)

var kindNames = [...]string{"token", "ask", "write"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MarshalText writes the kind's name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if n == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("load: unknown kind %q", b)
}

// ErrClass is how a request failed, as seen by the client.
type ErrClass uint8

const (
	ErrNone       ErrClass = iota
	ErrConnect             // dial failed: nothing reached the target
	ErrTLS                 // handshake or certificate failure
	ErrTimeout             // the per-request timeout expired
	ErrBodyRead            // connection broke after the request was sent, or the body could not be read
	ErrStatus5xx           // the target answered 5xx
	ErrStatus4xx           // the target answered 4xx other than 401/403
	ErrAuth                // 401 or 403
	ErrToolCall            // the response carried X-Tool-Error
	ErrCanceled            // still in flight when the run ended: outcome unknown
	NumErrClasses          // number of classes, for arrays indexed by class
)

var errNames = [...]string{"none", "connect", "tls", "timeout", "body_read", "5xx", "4xx", "auth", "tool_call", "canceled"}

func (e ErrClass) String() string {
	if int(e) < len(errNames) {
		return errNames[e]
	}
	return fmt.Sprintf("errclass(%d)", uint8(e))
}

// MarshalText writes the class name.
func (e ErrClass) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText reads a class name.
func (e *ErrClass) UnmarshalText(b []byte) error {
	for i, n := range errNames {
		if n == string(b) {
			*e = ErrClass(i)
			return nil
		}
	}
	return fmt.Errorf("load: unknown error class %q", b)
}

// Record is one request attempt. It holds no heap references: regions are
// indexes into the generator's region table (0 = none reported), writes are
// numeric ids.
type Record struct {
	Seq     uint64   `json:"seq"`
	WriteID uint64   `json:"write_id,omitempty"` // logical write, stable across retries and replays; 0 if not a write
	Sched   int64    `json:"sched"`              // ns since run start: when the request was due
	Start   int64    `json:"start"`              // ns since run start: when it was sent
	End     int64    `json:"end"`                // ns since run start: when it ended; 0 while in flight
	Session uint32   `json:"session"`            // the client session that sent it, unique within a run (Config.SessionLife)
	Status  uint16   `json:"status,omitempty"`
	Kind    Kind     `json:"kind"`
	Attempt uint8    `json:"attempt,omitempty"` // 0 for the first try of a write, n for the n-th retry or replay
	Region  uint8    `json:"region,omitempty"`  // X-Region of the response
	Sticky  uint8    `json:"sticky,omitempty"`  // X-Sticky-Region of the response
	Err     ErrClass `json:"err,omitempty"`
	Cold    bool     `json:"cold,omitempty"`
	Cached  bool     `json:"cached,omitempty"`
	Replay  bool     `json:"replay,omitempty"` // a deliberate re-send of a write with the same key and body
}

// Latency is End-Sched in ns, or -1 while in flight.
func (r Record) Latency() int64 {
	if r.End == 0 {
		return -1
	}
	return r.End - r.Sched
}

// Observer receives every request twice: before it is sent (End 0) and when
// it ends. Both methods are called concurrently from many goroutines.
type Observer interface {
	Started(Record)
	Finished(Record)
}

// RegionObserver is an optional capability of an Observer: it learns each
// region name the first time a response reports it, before any record
// carrying its index is delivered.
type RegionObserver interface {
	RegionSeen(index uint8, name string)
}

const chunkSize = 4096

// Recorder is an in-memory Observer. Records are stored by sequence number in
// preallocated chunks, so recording does not allocate per request.
type Recorder struct {
	mu      sync.Mutex
	chunks  []*[chunkSize]Record
	n       uint64 // highest Seq+1 seen
	regions []string
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{regions: []string{""}} }

func (r *Recorder) put(rec Record) {
	r.mu.Lock()
	c := int(rec.Seq / chunkSize)
	for len(r.chunks) <= c {
		r.chunks = append(r.chunks, new([chunkSize]Record))
	}
	r.chunks[c][rec.Seq%chunkSize] = rec
	if rec.Seq+1 > r.n {
		r.n = rec.Seq + 1
	}
	r.mu.Unlock()
}

// Started stores the record as in flight.
func (r *Recorder) Started(rec Record) { r.put(rec) }

// Finished overwrites the in-flight record with its end.
func (r *Recorder) Finished(rec Record) { r.put(rec) }

// RegionSeen keeps the region table.
func (r *Recorder) RegionSeen(index uint8, name string) {
	r.mu.Lock()
	for len(r.regions) <= int(index) {
		r.regions = append(r.regions, "")
	}
	r.regions[index] = name
	r.mu.Unlock()
}

// Records returns a copy of all records in sequence order.
func (r *Recorder) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Record, 0, r.n)
	for i := uint64(0); i < r.n; i++ {
		out = append(out, r.chunks[i/chunkSize][i%chunkSize])
	}
	return out
}

// Regions returns the region table: index i names Record.Region == i.
func (r *Recorder) Regions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.regions...)
}

// regionTable interns region names to small indexes. Index 0 is "no region".
type regionTable struct {
	mu    sync.RWMutex
	index map[string]uint8
	names []string
}

func newRegionTable() *regionTable {
	return &regionTable{index: map[string]uint8{"": 0}, names: []string{""}}
}

// intern returns name's index, calling seen the first time a name is added.
// Past 255 names, new names map to 0.
func (t *regionTable) intern(name string, seen func(uint8, string)) uint8 {
	t.mu.RLock()
	i, ok := t.index[name]
	t.mu.RUnlock()
	if ok {
		return i
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if i, ok := t.index[name]; ok {
		return i
	}
	if len(t.names) > 255 {
		return 0
	}
	i = uint8(len(t.names))
	t.index[name] = i
	t.names = append(t.names, name)
	if seen != nil {
		seen(i, name)
	}
	return i
}

// internBytes is intern for a name held in bytes; it copies them only for
// a new name.
func (t *regionTable) internBytes(name []byte, seen func(uint8, string)) uint8 {
	t.mu.RLock()
	i, ok := t.index[string(name)]
	t.mu.RUnlock()
	if ok {
		return i
	}
	return t.intern(string(name), seen)
}

func (t *regionTable) list() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return append([]string(nil), t.names...)
}

var _ Observer = (*Recorder)(nil)
var _ RegionObserver = (*Recorder)(nil)
