package edge

import "github.com/prometheus/client_golang/prometheus"

// metrics are the router's Prometheus collectors.
type metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	ejections *prometheus.CounterVec
	// ejectionsHeld counts ejections not made because the backend was the
	// last one in rotation.
	ejectionsHeld *prometheus.CounterVec
	healthy       *prometheus.GaugeVec
	inRot         *prometheus.GaugeVec
}

var classes = [6]string{"error", "1xx", "2xx", "3xx", "4xx", "5xx"}

func newMetrics() *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regiondrill_edge_requests_total",
			Help: "Upstream attempts by backend and status class (error: no response).",
		}, []string{"backend", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "regiondrill_edge_upstream_seconds",
			Help:    "Time to upstream response headers, by backend.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"backend"}),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regiondrill_edge_ejections_total",
			Help: "Passive ejections after consecutive failed attempts, by backend.",
		}, []string{"backend"}),
		ejectionsHeld: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regiondrill_edge_ejections_held_total",
			Help: "Passive ejections not made because the backend was the last one in rotation, by backend.",
		}, []string{"backend"}),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "regiondrill_edge_backend_available",
			Help: "1 when the backend passes health, contract gate and is not ejected.",
		}, []string{"backend"}),
		inRot: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "regiondrill_edge_backend_in_rotation",
			Help: "1 when the backend is available and has weight > 0.",
		}, []string{"backend"}),
	}
}

// bind resolves a backend's per-request series once, so the request path
// does no label lookups.
func (m *metrics) bind(b *backend) {
	for i, c := range classes {
		b.reqByClass[i] = m.requests.WithLabelValues(b.name, c)
	}
	b.latency = m.latency.WithLabelValues(b.name)
	m.ejections.WithLabelValues(b.name)
	m.ejectionsHeld.WithLabelValues(b.name)
}

func (m *metrics) state(b *backend, avail, in bool) {
	m.healthy.WithLabelValues(b.name).Set(b2f(avail))
	m.inRot.WithLabelValues(b.name).Set(b2f(in))
}

func (b *backend) count(status int) {
	i := status / 100
	if i < 1 || i > 5 {
		i = 0
	}
	b.reqByClass[i].Inc()
}

func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// Collectors returns the router's Prometheus collectors for registration.
func (r *Router) Collectors() []prometheus.Collector {
	m := r.metrics
	return []prometheus.Collector{m.requests, m.latency, m.ejections, m.ejectionsHeld, m.healthy, m.inRot}
}
