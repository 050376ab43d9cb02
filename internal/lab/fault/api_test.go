package fault

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

func TestHandlerRequiresToken(t *testing.T) {
	clk := newClock()
	in := newInjector(t, clk.Now)
	g := newGreeter(t)
	if _, err := in.AddProxy("r1", g.ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	existing, err := in.Apply(Spec{Kind: Blackhole, Targets: []string{"r1"}, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	before := in.Active()
	h := in.Handler("s3cret")
	spec := `{"kind":"blackhole","targets":["r1"],"lease":"5s"}`
	mutations := []struct{ method, path, body string }{
		{"POST", "/faults", spec},
		{"POST", "/faults/" + existing + "/renew", `{"lease":"1h"}`},
		{"DELETE", "/faults/" + existing, ""},
	}
	auths := []struct{ name, header string }{
		{"none", ""},
		{"wrong", "Bearer nope"},
		{"prefix of token", "Bearer s3cre"},
		{"not bearer", "s3cret"},
	}
	for _, m := range mutations {
		for _, a := range auths {
			t.Run(m.method+" "+m.path+" "+a.name, func(t *testing.T) {
				req := httptest.NewRequest(m.method, m.path, strings.NewReader(m.body))
				if a.header != "" {
					req.Header.Set("Authorization", a.header)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401", rec.Code)
				}
				after := in.Active()
				if len(after) != 1 || !after[0].ExpiresAt.Equal(before[0].ExpiresAt) {
					t.Fatalf("unauthorised request changed faults: %+v", after)
				}
			})
		}
	}
	// An empty configured token refuses even an empty bearer.
	req := httptest.NewRequest("DELETE", "/faults/"+existing, nil)
	req.Header.Set("Authorization", "Bearer ")
	rec := httptest.NewRecorder()
	in.Handler("").ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || len(in.Active()) != 1 {
		t.Fatalf("empty token: status %d, faults %d", rec.Code, len(in.Active()))
	}
}

func TestHandlerLifecycle(t *testing.T) {
	clk := newClock()
	in := newInjector(t, clk.Now)
	g := newGreeter(t)
	if _, err := in.AddProxy("r1", g.ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	h := in.Handler("tok")
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := do("POST", "/faults", `{"kind":"latency","targets":["r1"],"latency":"20ms","lease":"5s"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("apply: %d %s", rec.Code, rec.Body)
	}
	var created struct{ ID string }
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.ID == "" {
		t.Fatalf("apply body %s: %v", rec.Body, err)
	}
	if rec := do("POST", "/faults", `{"kind":"flood","targets":["r1"]}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("bad kind: %d", rec.Code)
	}
	if rec := do("POST", "/faults", `{"kind":"blackhole","targets":["zz"]}`); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown proxy: %d", rec.Code)
	}
	if rec := do("POST", "/faults", `{"kind":"blackhole","targets":["r1"],"extra":1}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d", rec.Code)
	}
	clk.Advance(4 * time.Second)
	if rec := do("POST", "/faults/"+created.ID+"/renew", `{"lease":"10s"}`); rec.Code != http.StatusNoContent {
		t.Fatalf("renew: %d %s", rec.Code, rec.Body)
	}
	if got, want := in.Active()[0].ExpiresAt, clk.Now().Add(10*time.Second); !got.Equal(want) {
		t.Fatalf("expires %v, want %v", got, want)
	}
	list := httptest.NewRecorder()
	h.ServeHTTP(list, httptest.NewRequest("GET", "/faults", nil))
	var faults []contract.Fault
	if err := json.Unmarshal(list.Body.Bytes(), &faults); err != nil || len(faults) != 1 || faults[0].Kind != string(Latency) {
		t.Fatalf("list: %s %v", list.Body, err)
	}
	for i := range 2 {
		if rec := do("DELETE", "/faults/"+created.ID, ""); rec.Code != http.StatusNoContent {
			t.Fatalf("delete #%d: %d", i+1, rec.Code)
		}
	}
	if len(in.Active()) != 0 {
		t.Fatal("fault survived delete")
	}
	if rec := do("POST", "/faults/"+created.ID+"/renew", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("renew removed: %d", rec.Code)
	}
}

func TestKindsRegistryHasHelp(t *testing.T) {
	for _, k := range Kinds() {
		if k.Help() == "" || len(registry[k].toxics(Spec{Latency: time.Millisecond})) == 0 {
			t.Errorf("kind %s lacks help or toxics", k)
		}
	}
	if Kind("nope").Valid() {
		t.Error("unknown kind valid")
	}
}
