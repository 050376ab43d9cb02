package edge_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/edge"
)

// BenchmarkServe measures the proxy path: client → edge (real listener) →
// trivial backend, keep-alive on both legs.
func BenchmarkServe(b *testing.B) {
	rg := newRegionB(b)
	r, err := edge.New(edge.Config{Backends: []edge.Backend{{Name: "r1", URL: rg.URL}}})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	r.CheckNow(context.Background())
	front := httptest.NewServer(r)
	defer front.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := `{"tenant":"t","question":"q"}`
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(front.URL+"/ask", "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func newRegionB(b *testing.B) *httptest.Server {
	h := `{"region":"r1","ready":true,"role":"primary","epoch":1,"index_hash":"h","schema_rev":"s","model_tag":"m"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			_, _ = io.WriteString(w, h)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set(contract.HeaderRegion, "r1")
		_, _ = io.WriteString(w, `{"answer":"ok"}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}
