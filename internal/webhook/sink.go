package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Delivery is one accepted delivery as the sink recorded it.
type Delivery struct {
	ID         string    `json:"id"`
	Region     string    `json:"region"`
	KID        string    `json:"kid"`
	ReceivedAt time.Time `json:"received_at"`
	BodyHash   string    `json:"body_hash"`
	Duplicate  bool      `json:"duplicate"` // the id was accepted before
}

// Rejection is one delivery the sink refused.
type Rejection struct {
	ID         string    `json:"id"`
	Region     string    `json:"region"`
	Reason     string    `json:"reason"`
	ReceivedAt time.Time `json:"received_at"`
}

// Report is GET /deliveries.
type Report struct {
	Deliveries []Delivery  `json:"deliveries"`
	Rejected   []Rejection `json:"rejected"`
	Duplicates int         `json:"duplicates"` // deliveries of an id already accepted
}

// Sink is the third-party receiver: it verifies every delivery, records it,
// and answers 2xx to duplicates too (idempotent receiver) while counting them.
type Sink struct {
	clock     func() time.Time
	tolerance time.Duration

	mu         sync.Mutex
	keys       Keys
	deliveries []Delivery
	rejected   []Rejection
	seen       map[string]bool
	srv        *http.Server
}

// NewSink returns a sink accepting keys; clock nil means time.Now,
// tolerance 0 means DefaultTolerance.
func NewSink(keys Keys, clock func() time.Time, tolerance time.Duration) *Sink {
	if clock == nil {
		clock = time.Now
	}
	return &Sink{keys: keys, clock: clock, tolerance: tolerance, seen: map[string]bool{}}
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
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	id, region := r.Header.Get(HeaderID), r.Header.Get(HeaderRegion)
	kid, err := Verify(s.keys, r.Header, body, now, s.tolerance)
	if err != nil {
		s.rejected = append(s.rejected, Rejection{ID: id, Region: region, Reason: err.Error(), ReceivedAt: now})
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	sum := sha256.Sum256(body)
	d := Delivery{ID: id, Region: region, KID: kid, ReceivedAt: now, BodyHash: hex.EncodeToString(sum[:]), Duplicate: s.seen[id]}
	s.seen[id] = true
	s.deliveries = append(s.deliveries, d)
	w.WriteHeader(http.StatusNoContent)
}

// Deliveries returns every accepted delivery in arrival order.
func (s *Sink) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// Report returns deliveries, rejections and the duplicate count.
func (s *Sink) Report() Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Report{Deliveries: slices.Clone(s.deliveries), Rejected: slices.Clone(s.rejected)}
	if r.Deliveries == nil {
		r.Deliveries = []Delivery{}
	}
	if r.Rejected == nil {
		r.Rejected = []Rejection{}
	}
	for _, d := range r.Deliveries {
		if d.Duplicate {
			r.Duplicates++
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
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
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
