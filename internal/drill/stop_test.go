package drill

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/regiondrill/regiondrill/internal/plan"
)

func TestHTTPAlarmTripsOnFailure(t *testing.T) {
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	e := New(Options{Plan: plan.Default()})
	sc := plan.StopCondition{Metric: plan.StopHTTP, URL: srv.URL}
	if v, ok, _ := e.stopValue(context.Background(), sc, nil, nil); !ok || v != 0 {
		t.Fatalf("healthy alarm: %v %v", v, ok)
	}
	fail.Store(true)
	if v, ok, _ := e.stopValue(context.Background(), sc, nil, nil); !ok || v != 1 {
		t.Fatalf("failing alarm not seen: %v %v", v, ok)
	}
	srv.Close()
	if v, ok, _ := e.stopValue(context.Background(), sc, nil, nil); !ok || v != 1 {
		t.Fatalf("unreachable alarm not seen: %v %v", v, ok)
	}
}

func TestPrometheusQueryValue(t *testing.T) {
	var value atomic.Value
	value.Store("0.01")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" || r.FormValue("query") != `rate(errors_total[30s])` { // GET or POST form
			http.Error(w, "bad query", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,%q]}]}}`, value.Load())
	}))
	defer srv.Close()
	e := New(Options{Plan: plan.Default()})
	sc := plan.StopCondition{Metric: plan.StopPrometheus, URL: srv.URL, Query: `rate(errors_total[30s])`, Above: 0.5}
	if v, ok, why := e.stopValue(context.Background(), sc, nil, nil); !ok || v != 0.01 {
		t.Fatalf("value %v ok %v (%s)", v, ok, why)
	}
	value.Store("3.5")
	if v, _, _ := e.stopValue(context.Background(), sc, nil, nil); v != 3.5 {
		t.Fatalf("value %v, want 3.5", v)
	}
	sc.Query = "nonsense"
	if _, ok, _ := e.stopValue(context.Background(), sc, nil, nil); ok {
		t.Fatal("a failed query produced a value")
	}
}
