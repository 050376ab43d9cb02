package edge_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/edge"
)

func TestWeightsRespected(t *testing.T) {
	a := newRegion(t, "r1", contract.RolePrimary, "h1")
	b := newRegion(t, "r2", contract.RoleFollower, "h1")
	for _, mode := range []edge.Mode{edge.ModeWeights, edge.ModeLatency} {
		t.Run(string(mode), func(t *testing.T) {
			r, _ := lab(t, func(c *edge.Config) {
				c.Mode = mode
				c.Weights = map[string]int{"r1": 80, "r2": 20}
			}, a, b)
			r.CheckNow(context.Background())
			counts := map[string]int{}
			const n = 1000
			for range n {
				rec := send(r, http.MethodPost, "/ask", nil)
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				counts[rec.Header().Get(contract.HeaderRegion)]++
			}
			share := float64(counts["r1"]) / n
			if mode == edge.ModeWeights && math.Abs(share-0.8) > 0.05 {
				t.Fatalf("r1 share %.3f, want 0.80±0.05 (%v)", share, counts)
			}
			if counts["r2"] == 0 && mode == edge.ModeWeights {
				t.Fatalf("r2 never served: %v", counts)
			}
			if err := r.SetWeights(map[string]int{"r1": 0}); err != nil {
				t.Fatal(err)
			}
			for range 50 {
				if got := send(r, http.MethodPost, "/ask", nil).Header().Get(contract.HeaderRegion); got != "r2" {
					t.Fatalf("weight 0 region served: %s", got)
				}
			}
		})
	}
}

func TestSetWeightsRefusesNoServingRegion(t *testing.T) {
	a := newRegion(t, "r1", contract.RolePrimary, "h1")
	b := newRegion(t, "r2", contract.RoleFollower, "h1")
	r, _ := lab(t, func(c *edge.Config) { c.HealthTimeout = 100 * time.Millisecond }, a, b)
	r.CheckNow(context.Background())
	cases := []struct {
		name string
		w    map[string]int
		want error
	}{
		{"all zero", map[string]int{"r1": 0, "r2": 0}, edge.ErrNoServingRegion},
		{"unknown name", map[string]int{"r9": 10}, edge.ErrUnknownBackend},
		{"negative", map[string]int{"r1": -1}, edge.ErrBadWeight},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := r.Weights()
			if err := r.SetWeights(tc.w); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if after := r.Weights(); after["r1"] != before["r1"] || after["r2"] != before["r2"] {
				t.Fatalf("refused change applied: %v → %v", before, after)
			}
		})
	}
	// Only the unhealthy region would keep weight: refused too.
	b.hang.Store(true)
	for range edge.DefaultFailAfter {
		r.CheckNow(context.Background())
	}
	if err := r.SetWeights(map[string]int{"r1": 0}); !errors.Is(err, edge.ErrNoServingRegion) {
		t.Fatalf("weight only on a dead region: %v", err)
	}
}

func TestHangLeavesRotationAndReturnsAfterHysteresis(t *testing.T) {
	a := newRegion(t, "r1", contract.RolePrimary, "h1")
	b := newRegion(t, "r2", contract.RoleFollower, "h1")
	// Real clock and the real loop with default interval/timeout.
	r, err := edge.New(edge.Config{
		Backends:   []edge.Backend{{Name: "r1", URL: a.srv.URL}, {Name: "r2", URL: b.srv.URL}},
		Hysteresis: 400 * time.Millisecond, TryTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Start(context.Background())
	if !status(r, "r2").InRotation {
		t.Fatalf("r2 not in rotation after first round: %+v", status(r, "r2"))
	}
	b.hang.Store(true)
	hungAt := time.Now()
	for status(r, "r2").InRotation { // after FailAfter × HealthTimeout, 3 s
		if time.Since(hungAt) > 4500*time.Millisecond {
			t.Fatal("hung backend still in rotation after 4.5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("out of rotation after %v", time.Since(hungAt))
	before := b.traffic.Load()
	for range 100 {
		if rec := send(r, http.MethodPost, "/ask", nil); rec.Code != http.StatusOK || rec.Header().Get(contract.HeaderRegion) != "r1" {
			t.Fatalf("after ejection: %d from %q", rec.Code, rec.Header().Get(contract.HeaderRegion))
		}
	}
	b.hang.Store(false)
	if got := b.traffic.Load(); got != before {
		t.Fatalf("hung backend got %d requests after leaving rotation", got-before)
	}
	healedAt := time.Now()
	for !status(r, "r2").InRotation {
		if time.Since(healedAt) > 3*time.Second {
			t.Fatal("healed backend never returned")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if took := time.Since(healedAt); took < 400*time.Millisecond {
		t.Fatalf("returned after %v, before the 400ms hysteresis", took)
	}
}

func TestHysteresisNoFlapping(t *testing.T) {
	a := newRegion(t, "r1", contract.RolePrimary, "h1")
	b := newRegion(t, "r2", contract.RoleFollower, "h1")
	r, clk := lab(t, func(c *edge.Config) { c.HealthTimeout = 100 * time.Millisecond }, a, b)
	ctx := context.Background()
	r.CheckNow(ctx)
	b.setHealth(func(h *contract.Health) { h.Ready = false })
	r.CheckNow(ctx)
	if status(r, "r2").InRotation {
		t.Fatal("not-ready region stayed in rotation")
	}
	b.setHealth(func(h *contract.Health) { h.Ready = true })
	steps := []struct {
		advance time.Duration
		ready   bool
		want    bool
	}{
		{0, true, false},               // good since now
		{6 * time.Second, true, false}, // 6s < 10s
		{1 * time.Second, false, false},
		{1 * time.Second, true, false}, // streak restarts here
		{9 * time.Second, true, false}, // 9s of the new streak
		{1 * time.Second, true, true},  // 10s: back
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		b.setHealth(func(h *contract.Health) { h.Ready = s.ready })
		r.CheckNow(ctx)
		if got := status(r, "r2").InRotation; got != s.want {
			t.Fatalf("step %d: in rotation %v, want %v", i, got, s.want)
		}
	}
}

func TestHealthGate(t *testing.T) {
	cases := []struct {
		name      string
		break_    func(rg *region)
		gateIndex bool
		want      bool
		reason    string
	}{
		{"healthy", func(*region) {}, true, true, ""},
		{"index hash mismatch", func(rg *region) { rg.setHealth(func(h *contract.Health) { h.IndexHash = "other" }) }, true, false, "index_hash"},
		{"index hash mismatch, gate off", func(rg *region) { rg.setHealth(func(h *contract.Health) { h.IndexHash = "other" }) }, false, true, ""},
		{"schema mismatch, gate off", func(rg *region) { rg.setHealth(func(h *contract.Health) { h.SchemaRev = "s2" }) }, false, false, "schema_rev"},
		{"model mismatch", func(rg *region) { rg.setHealth(func(h *contract.Health) { h.ModelTag = "m2" }) }, true, false, "model_tag"},
		{"bare 200", func(rg *region) { rg.bare.Store(true) }, true, false, ""},
		{"missing field", func(rg *region) { rg.setHealth(func(h *contract.Health) { h.SchemaRev = "" }) }, true, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newRegion(t, "r1", contract.RolePrimary, "h1")
			b := newRegion(t, "r2", contract.RoleFollower, "h1")
			tc.break_(b)
			r, _ := lab(t, func(c *edge.Config) { c.GateIndexHash = edge.Bool(tc.gateIndex) }, a, b)
			r.CheckNow(context.Background())
			st := status(r, "r2")
			if st.InRotation != tc.want {
				t.Fatalf("in rotation %v, want %v (%+v)", st.InRotation, tc.want, st)
			}
			if !strings.Contains(st.ContractReason, tc.reason) {
				t.Fatalf("reason %q lacks %q", st.ContractReason, tc.reason)
			}
			if !status(r, "r1").InRotation {
				t.Fatal("primary out of rotation")
			}
			if !tc.want {
				for range 30 {
					if send(r, http.MethodPost, "/ask", nil).Header().Get(contract.HeaderRegion) == "r2" {
						t.Fatal("gated region served traffic")
					}
				}
			}
		})
	}
}

func TestReferenceFollowsHighestEpochPrimary(t *testing.T) {
	a := newRegion(t, "r1", contract.RolePrimary, "h1")
	b := newRegion(t, "r2", contract.RoleFollower, "h2")
	r, _ := lab(t, nil, a, b)
	ctx := context.Background()
	r.CheckNow(ctx)
	if status(r, "r2").InRotation {
		t.Fatal("r2 with h2 admitted while primary r1 has h1")
	}
	// r2 is promoted with a higher epoch; r1 still claims primary at epoch 1.
	b.setHealth(func(h *contract.Health) { h.Role, h.Epoch = contract.RolePrimary, 2 })
	r.CheckNow(ctx)
	if !status(r, "r2").InRotation || status(r, "r1").InRotation {
		t.Fatalf("after promotion: r1 %+v r2 %+v", status(r, "r1"), status(r, "r2"))
	}
}

func TestStickinessAndRepin(t *testing.T) {
	a := newRegion(t, "r1", contract.RolePrimary, "h1")
	b := newRegion(t, "r2", contract.RoleFollower, "h1")
	r, clk := lab(t, nil, a, b)
	ctx := context.Background()
	r.CheckNow(ctx)
	hdr := map[string]string{contract.HeaderSession: "sess-1"}
	first := send(r, http.MethodPost, "/ask", hdr)
	home := first.Header().Get(contract.HeaderStickyRegion)
	if home == "" || first.Header().Get(contract.HeaderRegion) != home {
		t.Fatalf("sticky headers: %v", first.Header())
	}
	if c := first.Header().Get("Set-Cookie"); !strings.Contains(c, contract.StickyCookie+"=sess-1") {
		t.Fatalf("cookie %q", c)
	}
	for range 30 {
		if got := send(r, http.MethodPost, "/ask", hdr).Header().Get(contract.HeaderRegion); got != home {
			t.Fatalf("session moved from %s to %s", home, got)
		}
	}
	// The cookie alone keeps the session too.
	if got := send(r, http.MethodGet, "/x", map[string]string{"Cookie": contract.StickyCookie + "=sess-1"}).Header().Get(contract.HeaderRegion); got != home {
		t.Fatalf("cookie session served by %s, want %s", got, home)
	}
	// Home leaves rotation: the session re-pins and says so.
	other := map[string]string{"r1": "r2", "r2": "r1"}[home]
	if err := r.SetWeights(map[string]int{home: 0}); err != nil {
		t.Fatal(err)
	}
	rec := send(r, http.MethodPost, "/ask", hdr)
	if rec.Header().Get(contract.HeaderRegion) != other || rec.Header().Get(contract.HeaderStickyRegion) != other {
		t.Fatalf("re-pin: served %q sticky %q, want %s", rec.Header().Get(contract.HeaderRegion), rec.Header().Get(contract.HeaderStickyRegion), other)
	}
	// Home returns: the session stays on its new region.
	if err := r.SetWeights(map[string]int{home: 100}); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if got := send(r, http.MethodPost, "/ask", hdr).Header().Get(contract.HeaderRegion); got != other {
			t.Fatalf("re-pinned session moved back to %s", got)
		}
	}
	// After StickTTL idle the pin lapses (draw again; just check it still serves).
	clk.Advance(edge.DefaultStickTTL + time.Second)
	if rec := send(r, http.MethodPost, "/ask", hdr); rec.Code != http.StatusOK {
		t.Fatalf("after ttl: %d", rec.Code)
	}
}

func TestPinHeader(t *testing.T) {
	a := newRegion(t, "r1", contract.RolePrimary, "h1")
	b := newRegion(t, "r2", contract.RoleFollower, "h1")
	r, _ := lab(t, nil, a, b)
	r.CheckNow(context.Background())
	if err := r.SetWeights(map[string]int{"r2": 0}); err != nil {
		t.Fatal(err)
	}
	pin := func(name string) *httptest.ResponseRecorder {
		return send(r, http.MethodPost, "/ask", map[string]string{contract.HeaderRegionPin: name})
	}
	if rec := pin("r2"); rec.Code != http.StatusOK || rec.Header().Get(contract.HeaderRegion) != "r2" {
		t.Fatalf("pin to weight-0 healthy region: %d %q", rec.Code, rec.Header().Get(contract.HeaderRegion))
	}
	if rec := pin("nope"); rec.Code != http.StatusMisdirectedRequest {
		t.Fatalf("unknown pin: %d", rec.Code)
	}
	b.setHealth(func(h *contract.Health) { h.IndexHash = "bad" })
	r.CheckNow(context.Background())
	rec := pin("r2")
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "r2") || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("pin to gated region: %d %s", rec.Code, rec.Body)
	}
}

func TestRetryOnConnectError(t *testing.T) {
	a := newRegion(t, "r1", contract.RolePrimary, "h1")
	b := newRegion(t, "r2", contract.RoleFollower, "h1")
	r, _ := lab(t, func(c *edge.Config) { c.FailAfter = 100 }, a, b) // no ejection: every pick may hit the dead one
	r.CheckNow(context.Background())
	b.srv.CloseClientConnections()
	b.srv.Listener.Close() // connection refused from now on
	for i := range 40 {
		rec := send(r, http.MethodPost, "/ask", nil)
		if rec.Code != http.StatusOK || rec.Header().Get(contract.HeaderRegion) != "r1" {
			t.Fatalf("ask #%d: %d %s", i, rec.Code, rec.Body)
		}
	}
	// A write without an idempotency key is not retried: some must fail.
	failed := 0
	for range 40 {
		if send(r, http.MethodPost, "/write", nil).Code == http.StatusBadGateway {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("non-idempotent writes were retried")
	}
	for range 20 {
		if rec := send(r, http.MethodPost, "/write", map[string]string{contract.HeaderIdempotencyKey: "k"}); rec.Code != http.StatusOK {
			t.Fatalf("keyed write: %d", rec.Code)
		}
	}
}

func TestPassiveEjection(t *testing.T) {
	a := newRegion(t, "r1", contract.RolePrimary, "h1")
	b := newRegion(t, "r2", contract.RoleFollower, "h1")
	r, _ := lab(t, nil, a, b)
	r.CheckNow(context.Background())
	b.srv.Listener.Close()
	b.srv.CloseClientConnections()
	for range 40 {
		send(r, http.MethodPost, "/ask", nil)
	}
	if st := status(r, "r2"); !st.Ejected || st.InRotation {
		t.Fatalf("refusing backend not ejected: %+v", st)
	}
}

// Failed traffic never ejects the last region in rotation: when every region
// times out at once (a stalled machine), the first is ejected and the other
// keeps serving; only the active health check can take the last one out.
func TestPassiveEjectionSparesTheLastRegion(t *testing.T) {
	a := newRegion(t, "r1", contract.RolePrimary, "h1")
	b := newRegion(t, "r2", contract.RoleFollower, "h1")
	r, _ := lab(t, nil, a, b)
	r.CheckNow(context.Background())
	for _, reg := range []*region{a, b} {
		reg.srv.Listener.Close()
		reg.srv.CloseClientConnections()
	}
	for range 40 {
		send(r, http.MethodPost, "/ask", nil)
	}
	s1, s2 := status(r, "r1"), status(r, "r2")
	if s1.Ejected == s2.Ejected {
		t.Fatalf("want exactly one region ejected: r1 %+v, r2 %+v", s1, s2)
	}
	if !s1.InRotation && !s2.InRotation {
		t.Fatal("passive ejection left no region in rotation")
	}
}

func TestNoBackend503AndBodyLimit(t *testing.T) {
	a := newRegion(t, "r1", contract.RolePrimary, "h1")
	r, _ := lab(t, nil, a)
	rec := send(r, http.MethodPost, "/ask", nil) // no health round yet
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("no rotation: %d %v", rec.Code, rec.Header())
	}
	r.CheckNow(context.Background())
	big := httptestRequest(http.MethodPost, "/ask", strings.Repeat("x", edge.MaxBodyBytes+1))
	if rec := serve(r, big); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("big body: %d", rec.Code)
	}
	big = httptestRequest(http.MethodPost, "/ask", strings.Repeat("x", edge.MaxBodyBytes+1))
	big.ContentLength = -1
	if rec := serve(r, big); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("big chunked body: %d", rec.Code)
	}
}

func TestControlAPI(t *testing.T) {
	a := newRegion(t, "r1", contract.RolePrimary, "h1")
	b := newRegion(t, "r2", contract.RoleFollower, "h1")
	r, _ := lab(t, nil, a, b)
	r.CheckNow(context.Background())
	put := func(auth, body string) int {
		req := httptestRequest(http.MethodPut, "/_edge/weights", body)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return serve(r, req).Code
	}
	for _, auth := range []string{"", "Bearer wrong", "tok", "Bearer to"} {
		if code := put(auth, `{"r1":0}`); code != http.StatusUnauthorized {
			t.Fatalf("auth %q: %d", auth, code)
		}
		if r.Weights()["r1"] != edge.DefaultWeight {
			t.Fatalf("unauthorised PUT changed weights: %v", r.Weights())
		}
	}
	if code := put("Bearer tok", `{"r1":0,"r2":0}`); code != http.StatusConflict {
		t.Fatalf("all-zero PUT: %d", code)
	}
	if code := put("Bearer tok", `{"r9":1}`); code != http.StatusBadRequest {
		t.Fatalf("unknown PUT: %d", code)
	}
	if code := put("Bearer tok", `{"r1":30}`); code != http.StatusOK || r.Weights()["r1"] != 30 {
		t.Fatalf("PUT: %d %v", code, r.Weights())
	}
	if rec := serve(r, httptestRequest(http.MethodGet, "/_edge/status", "")); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"in_rotation":true`) {
		t.Fatalf("status: %d %s", rec.Code, rec.Body)
	}
	// A router without a token refuses every mutation.
	r2, _ := lab(t, func(c *edge.Config) { c.Token = "" }, a, b)
	req := httptestRequest(http.MethodPut, "/_edge/weights", `{"r1":5}`)
	req.Header.Set("Authorization", "Bearer ")
	if code := serve(r2, req).Code; code != http.StatusUnauthorized {
		t.Fatalf("tokenless router: %d", code)
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := edge.New(edge.Config{
		Backends: []edge.Backend{{Name: "a", URL: "nope"}, {Name: "a", URL: "http://x"}},
		Mode:     "random", Weights: map[string]int{"zz": -1},
	})
	for _, want := range []string{"backends[0].url", "backends[1].name", "mode", "weights.zz"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if !errors.Is(err, edge.ErrConfig) {
		t.Errorf("not ErrConfig: %v", err)
	}
}
