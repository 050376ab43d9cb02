package region

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	authFailures *prometheus.CounterVec
	purges       prometheus.Counter
	funcs        []prometheus.Collector
}

func newMetrics(r *Region) *metrics {
	labels := prometheus.Labels{"region": r.cfg.Name}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regiondrill_region_requests_total", Help: "Requests served by route and status.", ConstLabels: labels,
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "regiondrill_region_request_duration_seconds", Help: "Request latency by route.", ConstLabels: labels,
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regiondrill_region_auth_failures_total", Help: "Refused tokens by kind and key id.", ConstLabels: labels,
		}, []string{"kind", "kid"}),
		purges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "regiondrill_region_cache_purges_total", Help: "Cache purge calls.", ConstLabels: labels,
		}),
	}
	gauge := func(name, help string, f func() float64) {
		m.funcs = append(m.funcs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f))
	}
	counter := func(name, help string, f func() float64) {
		m.funcs = append(m.funcs, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, f))
	}
	counter("regiondrill_region_cache_hits_total", "Answer cache hits.", func() float64 { return float64(r.cache.Stats().Hits) })
	counter("regiondrill_region_cache_misses_total", "Answer cache misses.", func() float64 { return float64(r.cache.Stats().Misses) })
	gauge("regiondrill_region_cache_entries", "Answer cache entries.", func() float64 { return float64(r.cache.Stats().Entries) })
	counter("regiondrill_region_cold_starts_total", "Instances booted.", func() float64 { return float64(r.pool.Stats().ColdStarts) })
	counter("regiondrill_region_cold_served_total", "Requests that waited on a cold start.", func() float64 { return float64(r.pool.Stats().ColdServed) })
	gauge("regiondrill_region_instances", "Warm instances.", func() float64 { return float64(r.pool.Stats().Ready) })
	gauge("regiondrill_region_ready", "1 when the region reports ready.", func() float64 {
		if r.ready.Load() {
			return 1
		}
		return 0
	})
	return m
}

func (m *metrics) register(reg *prometheus.Registry, extra ...prometheus.Collector) error {
	all := append([]prometheus.Collector{m.requests, m.latency, m.authFailures, m.purges}, m.funcs...)
	for _, c := range append(all, extra...) {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}
