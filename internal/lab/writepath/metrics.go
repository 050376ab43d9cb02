package writepath

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the write path's counters; Collectors exposes them.
type metrics struct {
	accepted, applied, deduped, forwarded, webhooksSent atomic.Int64
	collectors                                          []prometheus.Collector
}

func newMetrics(region string, p *Path) *metrics {
	m := &metrics{}
	labels := prometheus.Labels{"region": region}
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "regiondrill", Subsystem: "writepath", Name: name, Help: help, ConstLabels: labels,
		}, func() float64 { return float64(v.Load()) })
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "regiondrill", Subsystem: "writepath", Name: name, Help: help, ConstLabels: labels,
		}, f)
	}
	m.collectors = []prometheus.Collector{
		counter("writes_accepted_total", "Writes acknowledged as durably queued.", &m.accepted),
		counter("writes_applied_total", "Writes this region applied to its store.", &m.applied),
		counter("writes_deduped_total", "Writes dropped as already applied.", &m.deduped),
		counter("writes_forwarded_total", "Writes handed to the primary's inbox.", &m.forwarded),
		counter("webhooks_sent_total", "Webhook events delivered to the sink.", &m.webhooksSent),
		gauge("backlog", "Messages in the write queue not yet applied or forwarded.", func() float64 {
			return float64(p.Stats().Backlog)
		}),
		gauge("oldest_age_seconds", "Age of the oldest queued write.", func() float64 {
			return p.Stats().OldestAgeSeconds
		}),
	}
	return m
}

// Collectors returns the write path's Prometheus collectors, labeled by region.
func (p *Path) Collectors() []prometheus.Collector { return p.met.collectors }
