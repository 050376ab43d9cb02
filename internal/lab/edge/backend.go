package edge

import (
	"math"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// backend is the router's state for one region. Fields under "guarded by
// Router.mu" change only with that lock held; the atomics are read on the
// request path without locks.
type backend struct {
	name string
	url  *url.URL
	pool *pool // idle keep-alive connections for traffic

	// guarded by Router.mu
	weight      int
	healthy     bool // active checks, after FailAfter and hysteresis
	ejected     bool // passive: real traffic failed FailAfter times in a row
	everUp      bool // first admission skips hysteresis
	checkFails  int  // consecutive active transport failures
	goodSince   time.Time
	health      *contract.Health // last decoded health
	lastCheck   time.Time
	lastErr     string
	contractOK  bool
	contractWhy string
	stranded    bool // weighted 0 once under Config.StrandEvacuated: never back in rotation

	inRotation   atomic.Bool // weight>0 && available
	available    atomic.Bool // healthy && !ejected && contractOK
	served       atomic.Uint64
	passiveFails atomic.Int32  // consecutive failed attempts of real traffic
	ewmaBits     atomic.Uint64 // float64 seconds

	// metrics, resolved once
	reqByClass [6]prometheus.Counter // 1xx..5xx, [0] = no response
	latency    prometheus.Observer
}

const ewmaAlpha = 0.3

func (b *backend) observe(d time.Duration) {
	x := d.Seconds()
	for {
		old := b.ewmaBits.Load()
		v := x
		if old != 0 {
			v = math.Float64frombits(old)*(1-ewmaAlpha) + x*ewmaAlpha
		}
		if b.ewmaBits.CompareAndSwap(old, math.Float64bits(v)) {
			return
		}
	}
}

func (b *backend) ewma() time.Duration {
	return time.Duration(math.Float64frombits(b.ewmaBits.Load()) * float64(time.Second))
}

// BackendStatus is the router's view of one backend.
type BackendStatus struct {
	Name           string           `json:"name"`
	URL            string           `json:"url"`
	Weight         int              `json:"weight"`
	Healthy        bool             `json:"healthy"`
	Ejected        bool             `json:"ejected"`
	InRotation     bool             `json:"in_rotation"`
	ContractOK     bool             `json:"contract_ok"`
	ContractReason string           `json:"contract_reason,omitempty"`
	LastCheck      time.Time        `json:"last_check"`
	LastError      string           `json:"last_error,omitempty"`
	LastHealth     *contract.Health `json:"last_health,omitempty"`
	EWMALatency    time.Duration    `json:"ewma_latency_ns"`
	Served         uint64           `json:"served"`
}
