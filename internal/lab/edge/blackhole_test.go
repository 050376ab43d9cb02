package edge_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/edge"
	"github.com/regiondrill/regiondrill/internal/lab/fault"
)

// TestBlackholeThroughToxiproxy puts real fault proxies between the edge and
// the regions, blackholes one, and checks it leaves rotation within about
// FailAfter × HealthTimeout (3 s) with default health settings and gets no
// traffic after; removal brings it back.
func TestBlackholeThroughToxiproxy(t *testing.T) {
	a := newRegion(t, "r1", contract.RolePrimary, "h1")
	b := newRegion(t, "r2", contract.RoleFollower, "h1")
	inj := fault.New(nil, nil)
	defer inj.Close()
	var backends []edge.Backend
	for _, rg := range []*region{a, b} {
		addr, err := inj.AddProxy(rg.name, strings.TrimPrefix(rg.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		backends = append(backends, edge.Backend{Name: rg.name, URL: "http://" + addr})
	}
	r, err := edge.New(edge.Config{Backends: backends, Hysteresis: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Start(context.Background())
	if !status(r, "r2").InRotation {
		t.Fatalf("r2 not in rotation: %+v", status(r, "r2"))
	}
	id, err := inj.Apply(fault.Spec{Kind: fault.Blackhole, Targets: []string{"r2"}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for status(r, "r2").InRotation {
		if time.Since(start) > 4500*time.Millisecond {
			t.Fatal("blackholed region still in rotation after 4.5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("blackholed region out after %v", time.Since(start))
	before := b.traffic.Load()
	for range 50 {
		if rec := send(r, http.MethodPost, "/ask", nil); rec.Code != http.StatusOK || rec.Header().Get(contract.HeaderRegion) != "r1" {
			t.Fatalf("during blackhole: %d from %q", rec.Code, rec.Header().Get(contract.HeaderRegion))
		}
	}
	if got := b.traffic.Load(); got != before {
		t.Fatalf("blackholed region got %d requests", got-before)
	}
	if err := inj.Remove(id); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for !status(r, "r2").InRotation {
		if time.Since(start) > 3*time.Second {
			t.Fatalf("region not back after removal: %+v", status(r, "r2"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
