package drill

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// fakeTarget is a target over HTTP with every part in one test server:
// regions at /<region>, the lab edge's weights and lock at /_edge, and a
// fault API at /faults. Tests change its state and break its parts.
type fakeTarget struct {
	t       *testing.T
	mu      sync.Mutex
	health  map[string]contract.Health
	down    map[string]bool // regions whose /health fails
	weights map[string]int
	faults  []contract.Fault
	calls   []string // admin calls: "region path body"
	// faultsGETFails fails this many GET /faults before answering again.
	faultsGETFails int
	// lockFails fails POST /_edge/lock with 503 while true.
	lockFails bool
	// lockHolder, when set, holds the lock: POST answers 409.
	lockHolder string
	renewals   int // fault renewals seen
	// outOfRotation lists regions the edge's status says are out of rotation.
	outOfRotation map[string]bool
	// rebuildHash is the index hash a rebuild leaves (else the analyzer's).
	rebuildHash string
	srv         *httptest.Server
}

func newFake(t *testing.T) *fakeTarget {
	f := &fakeTarget{t: t, down: map[string]bool{}, weights: map[string]int{"us-east": 50, "eu-west": 50},
		health: map[string]contract.Health{"us-east": healthy("us-east"), "eu-west": healthy("eu-west")}}
	for r, h := range f.health {
		h.Primary, h.Epoch, h.K, h.MinInstances = "us-east", 1, 10, 2
		if r == "us-east" {
			h.Role = contract.RolePrimary
		}
		f.health[r] = h
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTarget) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	reply := func(v any) { _ = json.NewEncoder(w).Encode(v) }
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
	switch {
	case r.URL.Path == "/_edge/weights" && r.Method == http.MethodGet:
		reply(f.weights)
	case r.URL.Path == "/_edge/weights":
		_ = json.NewDecoder(r.Body).Decode(&f.weights)
	case r.URL.Path == "/_edge/status":
		type backend struct {
			Name       string `json:"name"`
			InRotation bool   `json:"in_rotation"`
		}
		var bs []backend
		for name := range f.health {
			bs = append(bs, backend{name, !f.outOfRotation[name]})
		}
		reply(bs)
	case r.URL.Path == "/_edge/lock" && r.Method == http.MethodGet:
		reply(map[string]string{"owner": f.lockHolder})
	case r.URL.Path == "/_edge/lock":
		switch {
		case f.lockFails:
			w.WriteHeader(http.StatusServiceUnavailable)
		case f.lockHolder != "" && r.Method == http.MethodPost:
			w.WriteHeader(http.StatusConflict)
			reply(map[string]string{"error": "held", "owner": f.lockHolder})
		}
	case r.URL.Path == "/faults" && r.Method == http.MethodGet:
		if f.faultsGETFails > 0 {
			f.faultsGETFails--
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		reply(f.faults)
	case strings.HasPrefix(r.URL.Path, "/faults/"):
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/faults/"), "/renew")
		for i, x := range f.faults {
			if x.ID == id {
				if r.Method == http.MethodDelete {
					f.faults = append(f.faults[:i], f.faults[i+1:]...)
				} else {
					f.renewals++
				}
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
	case len(parts) == 2 && parts[1] == "health":
		h, ok := f.health[parts[0]]
		if !ok || f.down[parts[0]] {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		reply(h)
	case len(parts) == 2 && strings.HasPrefix(parts[1], "admin/"):
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		b, _ := json.Marshal(body)
		f.calls = append(f.calls, parts[0]+" /"+parts[1]+" "+string(b))
		f.admin(parts[0], parts[1], body)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// admin applies an admin call to the region's health as the lab would.
func (f *fakeTarget) admin(region, path string, body map[string]any) {
	h := f.health[region]
	switch path {
	case "admin/scale":
		if v, ok := body["min_instances"].(float64); ok {
			h.MinInstances = int(v)
		}
		if v, ok := body["k"].(float64); ok {
			h.K = int(v)
			if v == 0 {
				h.K = 10 // the index's own
			}
		}
	case "admin/rebuild":
		h.Analyzer, _ = body["analyzer"].(string)
		h.IndexHash = map[string]string{"en": "ih-1"}[h.Analyzer] // healthy()'s index
		if h.IndexHash == "" {
			h.IndexHash = "ih-" + h.Analyzer
		}
		if f.rebuildHash != "" {
			h.IndexHash = f.rebuildHash
		}
	case "admin/freeze":
		h.Frozen, _ = body["frozen"].(bool)
	case "admin/promote":
		p, _ := body["primary"].(string)
		e, _ := body["epoch"].(float64)
		h.Primary, h.Epoch = p, uint64(e)
		h.Role = contract.RoleFollower
		if p == region {
			h.Role = contract.RolePrimary
		}
	}
	f.health[region] = h
}

func (f *fakeTarget) set(region string, change func(*contract.Health)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.health[region]
	change(&h)
	f.health[region] = h
}

func (f *fakeTarget) adminCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// engine returns an engine on the fake with a journal, snapshotted.
func (f *fakeTarget) engine(planJSON string) (*Engine, string) {
	f.t.Helper()
	if planJSON == "" {
		planJSON = `{"regions":["us-east","eu-west"],"evacuate":"us-east"}`
	}
	p, err := plan.Parse([]byte(planJSON), "p.json")
	if err != nil {
		f.t.Fatal(err)
	}
	ep := adapter.Endpoints{Edge: f.srv.URL, Faults: f.srv.URL, Token: "admin-token-for-tests",
		Regions: map[string]string{"us-east": f.srv.URL + "/us-east", "eu-west": f.srv.URL + "/eu-west"},
		Proxies: map[string][]string{"us-east": {"us-east", "us-east-egress"}, "eu-west": {"eu-west", "eu-west-egress"}}}
	path := filepath.Join(f.t.TempDir(), "journal.jsonl")
	j, err := journal.Create(path, time.Now(), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = j.Close() })
	e := New(Options{Plan: p, Target: adapter.New(ep), Journal: j, Owner: "test drill"})
	if e.snap, err = e.snapshot(f.t.Context()); err != nil {
		f.t.Fatal(err)
	}
	e.epoch = e.snap.Epoch
	return e, path
}

func journalHas(t *testing.T, path, typ, substr string) bool {
	t.Helper()
	evs, err := journal.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if string(ev.Type) == typ && strings.Contains(string(ev.Data), substr) {
			return true
		}
	}
	return false
}
