package load_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/load"
)

// clients is a target that tells sessions apart: it issues each session id
// its own token, notes the paths each id sent in arrival order, and answers
// with the id as the region, so every record names the client it went out
// as (the generator interns the region of each response).
type clients struct {
	mu      sync.Mutex
	paths   map[string][]string // session id -> request paths, in arrival order
	badAuth []string            // requests that carried another session's token
}

func (c *clients) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	id := r.Header.Get(contract.HeaderSession)
	c.mu.Lock()
	if c.paths == nil {
		c.paths = map[string][]string{}
	}
	c.paths[id] = append(c.paths[id], r.URL.Path)
	if got := r.Header.Get("Authorization"); r.URL.Path != "/token" && got != "Bearer tok-"+id {
		c.badAuth = append(c.badAuth, fmt.Sprintf("%s %s with %q", id, r.URL.Path, got))
	}
	c.mu.Unlock()
	w.Header().Set(contract.HeaderRegion, id)
	switch r.URL.Path {
	case "/token":
		json.NewEncoder(w).Encode(map[string]string{"token": "tok-" + id, "kid": "k1"})
	case "/ask":
		json.NewEncoder(w).Encode(contract.AskResponse{Region: id, Answer: "a"})
	case "/write":
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(contract.WriteAck{Key: r.Header.Get(contract.HeaderIdempotencyKey), Region: id, Status: "queued"})
	default:
		http.NotFound(w, r)
	}
}

// sessionsSeen checks that each record's Session number and the session id
// the target saw with it (its region) map one to one, with the id made from
// the seed and the number, and returns the id of each number.
func sessionsSeen(t *testing.T, g *load.Generator, recs []load.Record, seed int64) map[uint32]string {
	t.Helper()
	regions := g.Regions()
	byNum, byID := map[uint32]string{}, map[string]uint32{}
	for _, r := range recs {
		if r.End == 0 || r.Err != load.ErrNone {
			t.Fatalf("request failed: %+v", r)
		}
		id := regions[r.Region]
		if want := fmt.Sprintf("s-%d-%d", seed, r.Session); id != want {
			t.Fatalf("record of session %d went out as %q, want %q: %+v", r.Session, id, want, r)
		}
		if prev, ok := byNum[r.Session]; ok && prev != id {
			t.Fatalf("session %d went out as both %q and %q", r.Session, prev, id)
		}
		if prev, ok := byID[id]; ok && prev != r.Session {
			t.Fatalf("id %q recorded as sessions %d and %d", id, prev, r.Session)
		}
		byNum[r.Session], byID[id] = id, r.Session
	}
	return byNum
}

// With a session life, sessions end and new ones arrive: each new id starts
// with a token fetch of its own, takes a number of its own, and sends no
// request scheduled more than a life after its first.
func TestSessionsChurn(t *testing.T) {
	const (
		seed     = 5
		sessions = 4
		life     = 300 * time.Millisecond
	)
	c := &clients{}
	g, sum, rec := run(t, load.Config{URL: serve(t, c), Rate: 200, Duration: 2 * time.Second, Sessions: sessions,
		SessionLife: life, WriteRatio: 0.2, Seed: seed})
	recs := rec.Records()
	byNum := sessionsSeen(t, g, recs, seed)

	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.badAuth) > 0 {
		t.Errorf("%d requests carried a token not issued to their session, e.g. %s", len(c.badAuth), c.badAuth[0])
	}
	// A life of 300ms over 2s: each of the 4 slots turns over about six
	// times, the first ones early thanks to the stagger.
	if len(c.paths) <= 2*sessions {
		t.Fatalf("target saw %d session ids in 2s with a life of %v, want more than %d", len(c.paths), life, 2*sessions)
	}
	if len(byNum) != len(c.paths) || sum.Tokens != len(c.paths) {
		t.Errorf("records name %d sessions, %d token fetches, target saw %d ids", len(byNum), sum.Tokens, len(c.paths))
	}
	for id, paths := range c.paths {
		if paths[0] != "/token" {
			t.Errorf("session %s began with %s, want a token fetch", id, paths[0])
		}
		for _, p := range paths[1:] {
			if p == "/token" {
				t.Errorf("session %s fetched a second token: %v", id, paths)
				break
			}
		}
	}
	for n := range uint32(sessions) {
		if byNum[n] == "" {
			t.Errorf("first session %d sent nothing", n)
		}
	}
	// Later sessions number on from the first ones, each number once.
	for n := range byNum {
		if n >= uint32(len(byNum)) {
			t.Errorf("session number %d with only %d sessions: numbers skipped", n, len(byNum))
		}
	}

	// Sched is the schedule's own time, so this bound holds however late the
	// requests left; the slack only covers a token fetch, scheduled when it
	// left.
	first, last := map[uint32]int64{}, map[uint32]int64{}
	for _, r := range recs {
		if f, ok := first[r.Session]; !ok || r.Sched < f {
			first[r.Session] = r.Sched
		}
		if r.Kind != load.KindToken && r.Sched > last[r.Session] {
			last[r.Session] = r.Sched
		}
	}
	for n, f := range first {
		if span := time.Duration(last[n] - f); span > life+100*time.Millisecond {
			t.Errorf("session %d (%s) sent requests scheduled %v after its first, life %v", n, byNum[n], span, life)
		}
	}
}

// Without a session life the sessions last the run: ids and numbers as
// they always were.
func TestSessionsLastTheRun(t *testing.T) {
	c := &clients{}
	g, sum, rec := run(t, load.Config{URL: serve(t, c), Rate: 200, Duration: time.Second, Sessions: 4, WriteRatio: 0.2, Seed: 9})
	byNum := sessionsSeen(t, g, rec.Records(), 9)
	if len(byNum) != 4 || sum.Tokens != 4 {
		t.Fatalf("sessions %v, %d token fetches; want 0..3 and 4", byNum, sum.Tokens)
	}
	for n := range uint32(4) {
		if byNum[n] != fmt.Sprintf("s-9-%d", n) {
			t.Errorf("session %d is %q", n, byNum[n])
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.paths) != 4 || len(c.badAuth) > 0 {
		t.Errorf("target saw ids %d (want 4), wrong tokens %v", len(c.paths), c.badAuth)
	}
}

// A replay is its client sending its own write again: it goes out as the
// session that sent the original, even once that session has ended.
func TestReplayKeepsItsSession(t *testing.T) {
	const life = 100 * time.Millisecond
	c := &clients{}
	g, sum, rec := run(t, load.Config{URL: serve(t, c), Rate: 40, Duration: time.Second, Sessions: 2, SessionLife: life,
		WriteRatio: 1, ReplayRatio: 1, ReplayDelay: 250 * time.Millisecond, Seed: 2})
	recs := rec.Records()
	sessionsSeen(t, g, recs, 2)
	if sum.Replays == 0 {
		t.Fatal("no replays sent")
	}
	orig, born := map[uint64]load.Record{}, map[uint32]int64{}
	for _, r := range recs {
		if f, ok := born[r.Session]; !ok || r.Sched < f {
			born[r.Session] = r.Sched
		}
		if r.Kind == load.KindWrite && !r.Replay {
			orig[r.WriteID] = r
		}
	}
	late := 0
	for _, r := range recs {
		if !r.Replay {
			continue
		}
		o, ok := orig[r.WriteID]
		if !ok {
			t.Fatalf("replay of write %d without its original", r.WriteID)
		}
		if r.Session != o.Session {
			t.Errorf("write %d sent by session %d, replayed by %d", r.WriteID, o.Session, r.Session)
		}
		if time.Duration(r.Sched-born[r.Session]) > life {
			late++
		}
	}
	if late == 0 {
		t.Error("no replay went out after its session's life: the test shows nothing")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.badAuth) > 0 {
		t.Errorf("requests with another session's token: %v", c.badAuth)
	}
}

func TestNegativeSessionLife(t *testing.T) {
	_, err := load.New(load.Config{URL: "http://x", Rate: 1, Duration: time.Second, SessionLife: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "session life") {
		t.Fatalf("negative session life: err %v, want one naming the session life", err)
	}
}
