package edge_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/edge"
)

// rebuiltRegion reports index hash "h1" in its health, as it did at the
// last health round, but answers from "h2": its index was rebuilt between
// two rounds.
func rebuiltRegion(t *testing.T, name string) *region {
	t.Helper()
	rg := &region{name: name, release: make(chan struct{})}
	rg.health.Store(&contract.Health{Region: name, Ready: true, Role: contract.RoleFollower, Epoch: 1, Primary: "r1",
		IndexHash: "h1", SchemaRev: "s1", ModelTag: "m1"})
	rg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			_ = json.NewEncoder(w).Encode(rg.health.Load())
			return
		}
		rg.traffic.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set(contract.HeaderIndexHash, "h2")
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(func() { close(rg.release); rg.srv.Close() })
	return rg
}

// The index gate holds on every answer, not only at health rounds: an
// answer from another index than the primary's never reaches a client,
// and its region leaves the rotation at once. With the gate off (the lab's
// edge_ignores_index_hash) those answers go through.
func TestIndexGateOnEveryAnswer(t *testing.T) {
	for _, gate := range []bool{true, false} {
		a := newRegion(t, "r1", contract.RolePrimary, "h1")
		b := rebuiltRegion(t, "r2")
		r, _ := lab(t, func(c *edge.Config) {
			c.Weights = map[string]int{"r1": 10, "r2": 90}
			c.GateIndexHash = edge.Bool(gate)
		}, a, b)
		r.CheckNow(context.Background())
		skewed := 0
		for range 50 {
			rec := send(r, http.MethodPost, "/ask", nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("gate %v: status %d: %s", gate, rec.Code, rec.Body)
			}
			if rec.Header().Get(contract.HeaderIndexHash) == "h2" || rec.Body.String() == "r2" {
				skewed++
			}
		}
		switch {
		case gate && (skewed > 0 || status(r, "r2").InRotation):
			t.Fatalf("gate on: %d answers from the rebuilt index reached the client; r2 in rotation %v", skewed, status(r, "r2").InRotation)
		case gate && b.traffic.Load() != 1:
			t.Fatalf("gate on: r2 was asked %d times; want once, then out of rotation", b.traffic.Load())
		case !gate && skewed == 0:
			t.Fatal("gate off: no answer from the rebuilt index went through; the test proves nothing")
		}
	}
}
