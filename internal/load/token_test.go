package load_test

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/load"
)

// flakyTokens is a target whose token endpoint answers 503 to its first
// refuse fetches, as a region cut off mid-fetch would fail them, and which
// refuses with 401 any call without a token it issued.
type flakyTokens struct {
	mu        sync.Mutex
	refuse    int
	fetches   int
	tokenless int // calls other than /token that came without a token
}

func (f *flakyTokens) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set(contract.HeaderRegion, "r1")
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/token" {
		f.fetches++
		if f.fetches <= f.refuse {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"token": "t", "kid": "k1"})
		return
	}
	if r.Header.Get("Authorization") != "Bearer t" {
		f.tokenless++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.URL.Path == "/write" {
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(contract.WriteAck{Key: r.Header.Get(contract.HeaderIdempotencyKey), Region: "r1", Status: "queued"})
		return
	}
	json.NewEncoder(w).Encode(contract.AskResponse{Region: "r1", Answer: "a"})
}

// A session that cannot get a token sends nothing without one: its
// requests fail as the fetch failed (503 here), never as a 401 the target
// did not cause, and a write not delivered is neither acked nor doubtful.
func TestNoTokenNoRequest(t *testing.T) {
	f := &flakyTokens{refuse: 6}
	g, _, rec := run(t, load.Config{URL: serve(t, f), Rate: 100, Duration: time.Second, Sessions: 4,
		WriteRatio: 0.3, MaxRetries: 3, Seed: 3})
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokenless > 0 {
		t.Fatalf("%d requests went out without a token", f.tokenless)
	}
	unsent, ok := 0, 0
	for _, r := range rec.Records() {
		if r.Kind == load.KindToken {
			continue
		}
		switch {
		case r.Err == load.ErrAuth:
			t.Fatalf("a request failed as an auth refusal: %+v", r)
		case r.Err == load.ErrStatus5xx && r.Status == http.StatusServiceUnavailable:
			unsent++
		case r.Err == load.ErrNone:
			ok++
		}
	}
	if unsent == 0 || ok == 0 {
		t.Fatalf("%d requests failed with their token fetch, %d went through: want some of each", unsent, ok)
	}
	for _, w := range g.Writes() {
		if w.Outcome != load.OutcomeAcked {
			t.Errorf("write %s: %s after %d attempts; only undelivered attempts failed", w.Key, w.Outcome, w.Attempts)
		}
	}
}
