package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// RejectReason classifies a refused request.
type RejectReason uint8

// Why the sink refuses a request (all answered 401 but RejectBody, 400).
const (
	RejectHeaders   RejectReason = iota // a signature header is missing
	RejectTimestamp                     // timestamp unreadable or outside the tolerance
	RejectSignature                     // no signature verifies under an accepted key
	RejectBody                          // body unreadable or over MaxBody
	numRejectReasons
)

var rejectNames = [numRejectReasons]string{"missing_headers", "timestamp", "signature", "body"}

func (r RejectReason) String() string {
	if r < numRejectReasons {
		return rejectNames[r]
	}
	return fmt.Sprintf("reject(%d)", uint8(r))
}

// MarshalText writes the reason's name.
func (r RejectReason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a reason's name.
func (r *RejectReason) UnmarshalText(b []byte) error {
	for i, n := range rejectNames {
		if n == string(b) {
			*r = RejectReason(i)
			return nil
		}
	}
	return fmt.Errorf("webhook: unknown reject reason %q", b)
}

func reasonOf(err error) RejectReason {
	switch {
	case errors.Is(err, ErrMissingHeaders):
		return RejectHeaders
	case errors.Is(err, ErrTimestamp):
		return RejectTimestamp
	default:
		return RejectSignature
	}
}

// Rejection is one request the sink refused. Its strings are clipped to 128
// bytes: a record costs the same whatever the request carried.
type Rejection struct {
	ID         string       `json:"id"`
	Region     string       `json:"region"`
	Reason     RejectReason `json:"reason"`
	Detail     string       `json:"detail"`
	Bytes      int64        `json:"bytes"` // body bytes read
	ReceivedAt time.Time    `json:"received_at"`
}

// Report is GET /deliveries. Rejected holds the most recent rejections
// (RecentRejections at most); the counters cover all of them.
type Report struct {
	Deliveries    []contract.Delivery    `json:"deliveries"`
	Duplicates    int                    `json:"duplicates"` // deliveries of an id already accepted
	Replays       int                    `json:"replays"`    // requests that repeated an accepted one
	Rejected      []Rejection            `json:"rejected"`
	RejectedTotal int64                  `json:"rejected_total"`
	RejectedBytes int64                  `json:"rejected_bytes"` // body bytes read from rejected requests
	RejectedBy    map[RejectReason]int64 `json:"rejected_by_reason"`
}

// Limits of the sink: what it reads of a request and what it keeps of
// rejections. Memory held for rejections is at most RecentRejections records
// of fixed size plus the counters, however many arrive.
const (
	MaxBody          = 256 << 10 // bytes of a request body read; the spec recommends payloads under 20 KB
	MaxHeaderBytes   = 64 << 10  // request header bytes the sink's server reads
	RecentRejections = 256       // rejections kept in full, the most recent
)

// Sink is the third-party receiver: it verifies every delivery, records it,
// and answers 2xx to duplicates and replays too (idempotent receiver) while
// counting them apart.
//
// A replay is a request whose signed content (webhook-id, timestamp, body) the
// sink has already accepted: only someone resending captured bytes, within
// the tolerance, produces one, since the emitter signs a fresh attempt id
// into every body it sends. A duplicate is a second accepted delivery of one
// webhook-id with different signed content: the system delivered the event
// again (a retry, or another region).
type Sink struct {
	clock     func() time.Time
	tolerance time.Duration

	mu         sync.Mutex
	keys       Keys
	deliveries []contract.Delivery
	seen       map[string]bool  // webhook ids accepted
	signed     map[[32]byte]int // digest of accepted signed content → index in deliveries
	replays    int
	rejects    [RecentRejections]Rejection
	rejectNext int // next slot of rejects to write
	rejectN    int64
	rejectB    int64
	rejectBy   [numRejectReasons]int64
	onAccept   func(http.Header, []byte)
	srv        *http.Server
}

// NewSink returns a sink accepting keys; clock nil means time.Now,
// tolerance 0 means DefaultTolerance.
func NewSink(keys Keys, clock func() time.Time, tolerance time.Duration) *Sink {
	if clock == nil {
		clock = time.Now
	}
	return &Sink{keys: keys, clock: clock, tolerance: tolerance, seen: map[string]bool{}, signed: map[[32]byte]int{}}
}

// SetKeys swaps the accepted key set (rotation).
func (s *Sink) SetKeys(keys Keys) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

// ServeHTTP answers GET /deliveries and accepts POSTs on any other path.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/deliveries" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Report())
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	id, region := r.Header.Get(HeaderID), r.Header.Get(HeaderRegion)
	buf := bodies.Get().(*bytes.Buffer)
	defer bodies.Put(buf)
	buf.Reset()
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBody))
	body := buf.Bytes() // only hashes of it outlive the request
	now := s.clock()
	if err != nil {
		s.reject(Rejection{ID: id, Region: region, Reason: RejectBody, Detail: err.Error(), Bytes: int64(len(body)), ReceivedAt: now})
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	keys := s.keys
	s.mu.Unlock()
	kid, err := Verify(keys, r.Header, body, now, s.tolerance)
	if err != nil {
		s.reject(Rejection{ID: id, Region: region, Reason: reasonOf(err), Detail: err.Error(), Bytes: int64(len(body)), ReceivedAt: now})
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p struct{ Delivery Attempt }
	_ = json.Unmarshal(body, &p) // a body without an attempt is still a delivery
	if p.Delivery.Region != "" {
		region = p.Delivery.Region
	}
	digest := signedDigest(id, r.Header.Get(HeaderTimestamp), body)
	sum := sha256.Sum256(body)
	s.mu.Lock()
	if i, ok := s.signed[digest]; ok {
		s.deliveries[i].Replays++
		s.replays++
	} else {
		s.signed[digest] = len(s.deliveries)
		s.deliveries = append(s.deliveries, contract.Delivery{ID: id, Region: region, KID: kid, ReceivedAt: now,
			BodyHash: hex.EncodeToString(sum[:]), Attempt: p.Delivery.ID, Duplicate: s.seen[id]})
		s.seen[id] = true
	}
	observe := s.onAccept
	s.mu.Unlock()
	if observe != nil {
		observe(r.Header, body)
	}
	w.WriteHeader(http.StatusNoContent)
}

// OnAccept registers f to see each request the sink accepts, replays
// included, as it arrived: what someone on the path could capture. f must
// copy what it keeps; the body's buffer is reused.
func (s *Sink) OnAccept(f func(hdr http.Header, body []byte)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onAccept = f
}

// bodies recycles request body buffers: a flood of requests reuses a few.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// signedDigest identifies a request by what its signature covers.
func signedDigest(id, ts string, body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// reject counts a refused request and keeps it in the ring of recent ones.
func (s *Sink) reject(rj Rejection) {
	rj.ID, rj.Region, rj.Detail = clip(rj.ID), clip(rj.Region), clip(rj.Detail)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejects[s.rejectNext] = rj
	s.rejectNext = (s.rejectNext + 1) % RecentRejections
	s.rejectN++
	s.rejectB += rj.Bytes
	s.rejectBy[rj.Reason]++
}

// Deliveries returns every accepted delivery in arrival order.
func (s *Sink) Deliveries() []contract.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// Report returns deliveries, counts and the recent rejections.
func (s *Sink) Report() Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Report{Deliveries: slices.Clone(s.deliveries), Replays: s.replays, RejectedTotal: s.rejectN,
		RejectedBytes: s.rejectB, RejectedBy: map[RejectReason]int64{}}
	if r.Deliveries == nil {
		r.Deliveries = []contract.Delivery{}
	}
	for _, d := range r.Deliveries {
		if d.Duplicate {
			r.Duplicates++
		}
	}
	kept := min(s.rejectN, RecentRejections)
	r.Rejected = make([]Rejection, 0, kept)
	for i := range int(kept) { // oldest first
		r.Rejected = append(r.Rejected, s.rejects[(s.rejectNext-int(kept)+i+RecentRejections)%RecentRejections])
	}
	for reason, n := range s.rejectBy {
		if n > 0 {
			r.RejectedBy[RejectReason(reason)] = n
		}
	}
	return r
}

// Start binds addr ("" means 127.0.0.1:0), then serves; it returns the base URL.
func (s *Sink) Start(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sink listen: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, MaxHeaderBytes: MaxHeaderBytes}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops a sink started with Start.
func (s *Sink) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sink close: %w", err)
	}
	return nil
}

var _ http.Handler = (*Sink)(nil)
