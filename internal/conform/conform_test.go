package conform_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/conform"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab"
	"github.com/regiondrill/regiondrill/internal/plan"
)

func startLab(t *testing.T, mis ...lab.Misconfig) lab.Endpoints {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l, err := lab.Start(ctx, lab.Config{Regions: []string{"us-east", "eu-west"}, Misconfigure: mis})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.Endpoints()
}

func regionURLs(ep lab.Endpoints) []string {
	var out []string
	for _, u := range ep.Regions {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

func find(t *testing.T, rep conform.Report, check conform.CheckName) []conform.Result {
	t.Helper()
	var out []conform.Result
	for _, r := range rep.Results {
		if r.Check == check {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s result in %+v", check, rep.Results)
	}
	return out
}

func TestLab(t *testing.T) {
	t.Run("healthy lab passes", func(t *testing.T) {
		t.Parallel()
		ep := startLab(t)
		rep := conform.Run(context.Background(), conform.Config{Regions: regionURLs(ep), Token: ep.Token})
		for _, r := range rep.Results {
			if !r.Pass {
				t.Errorf("%s %s %s: %s", r.Name, r.Check, r.Endpoint, r.Message)
			}
		}
		if !rep.OK() || len(rep.RuledOut()) != 0 {
			t.Fatalf("OK = %v, ruled out %v", rep.OK(), rep.RuledOut())
		}
		// 5 checks + 8 admin endpoints per region
		if got := len(rep.Results); got != 2*13 {
			t.Fatalf("%d results, want 26", got)
		}
	})
	t.Run("purge_noop fails the purge check", func(t *testing.T) {
		t.Parallel()
		ep := startLab(t, lab.PurgeNoop)
		rep := conform.Run(context.Background(), conform.Config{Regions: regionURLs(ep), Token: ep.Token})
		if rep.OK() {
			t.Fatal("a lab whose purge does nothing passed")
		}
		for _, r := range find(t, rep, conform.CheckPurge) {
			if r.Pass || !strings.Contains(r.Message, "the purge does nothing") || !strings.Contains(r.Message, `"purged":1`) {
				t.Errorf("%s purge: pass=%v %q", r.Name, r.Pass, r.Message)
			}
			if conform.Letters(r.RulesOut) != "C,E" {
				t.Errorf("rules out %v, want C and E", r.RulesOut)
			}
		}
		for _, r := range rep.Results {
			if r.Check != conform.CheckPurge && !r.Pass {
				t.Errorf("only purge should fail, %s %s: %s", r.Check, r.Endpoint, r.Message)
			}
		}
	})
	t.Run("no token: purge not checked", func(t *testing.T) {
		t.Parallel()
		ep := startLab(t)
		rep := conform.Run(context.Background(), conform.Config{Regions: regionURLs(ep)[:1], WritesWait: 100 * time.Millisecond})
		r := find(t, rep, conform.CheckPurge)[0]
		if r.Pass || !strings.Contains(r.Message, "no admin token") {
			t.Fatalf("purge without a token: %+v", r)
		}
	})
}

// fakeRegion serves a health body built by edit from a complete one, and
// answers every other path with the given handler (404 when nil).
func fakeRegion(t *testing.T, health func(map[string]any) []byte, other http.HandlerFunc) string {
	t.Helper()
	h := contract.Health{Region: "fake", Ready: true, Role: contract.RolePrimary, Epoch: 1, Primary: "fake",
		IndexHash: "abc", Metric: "cosine", Analyzer: "standard", Embedder: "hash", BuildTS: time.Unix(0, 0).UTC(),
		EmitFrom: []string{"fake"}}
	b, _ := json.Marshal(h)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	body := health(m)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			_, _ = w.Write(body)
			return
		}
		if other == nil {
			http.NotFound(w, r)
			return
		}
		other(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func marshal(m map[string]any) []byte { b, _ := json.Marshal(m); return b }

func TestHealth(t *testing.T) {
	for _, tc := range []struct {
		name   string
		health func(map[string]any) []byte
		want   []string
	}{
		{"complete", marshal, nil},
		{"index_hash removed", func(m map[string]any) []byte { delete(m, "index_hash"); return marshal(m) },
			[]string{"missing field index_hash (string; used by index_hash_equal, contracts_equal, index_hash)"}},
		{"nested field removed", func(m map[string]any) []byte {
			delete(m["queue"].(map[string]any), "backlog")
			return marshal(m)
		}, []string{"missing field queue.backlog (integer; used by queue_empty"}},
		{"epoch as a string", func(m map[string]any) []byte { m["epoch"] = "1"; return marshal(m) },
			[]string{`field epoch is a string ("1"), want non-negative integer`}},
		{"build_ts not a time", func(m map[string]any) []byte { m["build_ts"] = "yesterday"; return marshal(m) },
			[]string{`field build_ts is "yesterday", want RFC 3339 string`}},
		{"env not an object", func(m map[string]any) []byte { m["env"] = "prod"; return marshal(m) },
			[]string{"field env is a string", "env_parity"}},
		{"bare 200", func(map[string]any) []byte { return nil }, []string{"bare 200"}},
		{"bare 200 with text", func(map[string]any) []byte { return []byte("OK") }, []string{"bare 200", `"OK"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := fakeRegion(t, tc.health, nil)
			rep := conform.Run(context.Background(), conform.Config{Regions: []string{u}, WritesWait: time.Millisecond})
			r := find(t, rep, conform.CheckHealth)[0]
			if tc.want == nil {
				if !r.Pass {
					t.Fatalf("complete health failed: %s", r.Message)
				}
				return
			}
			if r.Pass {
				t.Fatalf("health passed: %s", r.Message)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Message, w) {
					t.Errorf("message %q lacks %q", r.Message, w)
				}
			}
			if len(r.RulesOut) != len(plan.Drills()) {
				t.Errorf("a broken health rules out every drill, got %v", r.RulesOut)
			}
			if rep.OK() {
				t.Error("report OK with a broken health")
			}
		})
	}
}

func TestAdminEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"missing", nil, "endpoint missing"},
		{"open", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("{}")) }, "anyone can change this region"},
		{"guarded", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := fakeRegion(t, marshal, tc.handler)
			rep := conform.Run(context.Background(), conform.Config{Regions: []string{u}, WritesWait: time.Millisecond})
			for _, r := range find(t, rep, conform.CheckAdmin) {
				if tc.want == "" {
					if !r.Pass {
						t.Errorf("%s: %s", r.Endpoint, r.Message)
					}
					continue
				}
				if r.Pass || !strings.Contains(r.Message, tc.want) || !strings.Contains(r.Message, r.Endpoint) {
					t.Errorf("%s: pass=%v %q", r.Endpoint, r.Pass, r.Message)
				}
				if r.Endpoint == "/admin/promote" && conform.Letters(r.RulesOut) != "A,B,D,E" {
					t.Errorf("promote rules out %s", conform.Letters(r.RulesOut))
				}
			}
		})
	}
}

// writeRegion is a fake region with a working /token and /ask and a write
// endpoint whose idempotency is broken in the given way.
func writeRegion(t *testing.T, broken string) string {
	var seq atomic.Int64
	return fakeRegion(t, marshal, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			_, _ = w.Write([]byte(`{"token":"t"}`))
		case "/ask":
			_, _ = w.Write([]byte(`{"answer":"a","citations":[],"chunks":[],"index_hash":"abc"}`))
		case "/write":
			key := r.Header.Get(contract.HeaderIdempotencyKey)
			if key == "" && broken != "no key accepted" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			n := seq.Add(1)
			if broken != "new sequence" {
				n = 1
			}
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"key":%q,"sequence":%d}`, key, n)
		case "/writes":
			_, _ = w.Write([]byte(`{"region":"fake","writes":[]}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
}

func TestIdempotencyAndWrites(t *testing.T) {
	for _, tc := range []struct{ broken, want string }{
		{"new sequence", "replay with the same key and body answered HTTP 202"},
		{"other body accepted", "same key with a different body answered HTTP 202"},
		{"no key accepted", "want 400"},
	} {
		t.Run(tc.broken, func(t *testing.T) {
			u := writeRegion(t, tc.broken)
			rep := conform.Run(context.Background(), conform.Config{Regions: []string{u}, WritesWait: 50 * time.Millisecond, Poll: 10 * time.Millisecond})
			if r := find(t, rep, conform.CheckAsk)[0]; !r.Pass {
				t.Fatalf("ask: %s", r.Message)
			}
			r := find(t, rep, conform.CheckIdempotency)[0]
			if r.Pass || !strings.Contains(r.Message, tc.want) {
				t.Fatalf("idempotency: pass=%v %q, want %q", r.Pass, r.Message, tc.want)
			}
			w := find(t, rep, conform.CheckWrites)[0]
			if w.Pass || !strings.Contains(w.Message, "does not list the accepted write conform-") {
				t.Fatalf("writes: pass=%v %q", w.Pass, w.Message)
			}
		})
	}
}

func TestAskFields(t *testing.T) {
	u := fakeRegion(t, marshal, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			_, _ = w.Write([]byte(`{"token":"t"}`))
		case "/ask":
			_, _ = w.Write([]byte(`{"answer":"a","citations":{}}`))
		default:
			http.NotFound(w, r)
		}
	})
	rep := conform.Run(context.Background(), conform.Config{Regions: []string{u}, WritesWait: time.Millisecond})
	r := find(t, rep, conform.CheckAsk)[0]
	for _, w := range []string{"field citations is an object, want array", "missing field chunks", "missing field index_hash"} {
		if r.Pass || !strings.Contains(r.Message, w) {
			t.Errorf("ask message %q lacks %q", r.Message, w)
		}
	}
}

func TestWriteTable(t *testing.T) {
	u := fakeRegion(t, func(m map[string]any) []byte { delete(m, "index_hash"); return marshal(m) }, nil)
	rep := conform.Run(context.Background(), conform.Config{Regions: []string{u}, WritesWait: time.Millisecond})
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, w := range []string{"REGION", "health", "MISSING", "A,B,C,D,E", "index_hash", "drills ruled out: A,B,C,D,E", "/admin/rotate"} {
		if !strings.Contains(out, w) {
			t.Errorf("table lacks %q:\n%s", w, out)
		}
	}
}
