package writepath_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/regiondrill/regiondrill/internal/lab/writepath"
)

func TestCollectorsCountByRegion(t *testing.T) {
	l := newLab(t, writepath.Faults{}, "eu")
	eu := l.start("eu", nil)
	reg := prometheus.NewRegistry()
	for _, c := range eu.path.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	body := writeBody("m", 1, "x")
	mustAccept(t, eu.url, "m-1", body)
	mustAccept(t, eu.url, "m-1", body) // replay: not a new acceptance
	waitFor(t, "applied", func() bool { return len(l.stored("m-1")) == 1 })
	l.settled()

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != "eu" {
				t.Fatalf("%s labels = %v, want region=eu", mf.GetName(), m.GetLabel())
			}
			got[mf.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"regiondrill_writepath_writes_accepted_total":  1,
		"regiondrill_writepath_writes_applied_total":   1,
		"regiondrill_writepath_writes_deduped_total":   0,
		"regiondrill_writepath_writes_forwarded_total": 0,
		"regiondrill_writepath_webhooks_sent_total":    1,
		"regiondrill_writepath_backlog":                0,
		"regiondrill_writepath_oldest_age_seconds":     0,
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
}
