// Package edge is the lab's edge router: one port in front of every region,
// routing by weight or latency, with session stickiness, a contract-aware
// active health gate, passive ejection, hysteresis and one safe retry.
package edge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// Errors of the router.
var (
	ErrNoServingRegion = errors.New("change leaves no healthy region with weight > 0")
	ErrUnknownBackend  = errors.New("unknown backend")
	ErrBadWeight       = errors.New("weight must not be negative")
)

// rotation is an immutable snapshot of the in-rotation backends.
type rotation struct {
	backends []*backend
	weights  []int
	total    int
}

// Router routes traffic to regions. Create with New, then Start.
type Router struct {
	cfg       Config
	gateIndex bool
	backends  []*backend
	byName    map[string]*backend
	probes    *http.Transport // health checks only; traffic uses each backend's pool
	metrics   *metrics
	control   http.Handler

	mu        sync.Mutex // guards backend fields so marked, and ref
	ref       *contract.Health
	refIndex  atomic.Pointer[string] // ref's INDEX_HASH, read on every answer (indexgate.go)
	rot       atomic.Pointer[rotation]
	rngMu     sync.Mutex
	rng       *rand.Rand
	sessions  sessions
	bufs      sync.Pool
	stopLoop  context.CancelFunc
	loopDone  chan struct{}
	startOnce sync.Once
	lock      lockState
}

// New validates cfg, fills defaults and returns a router with every backend
// out of rotation until the first health round (Start runs one at once).
func New(cfg Config) (*Router, error) {
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Router{
		cfg:       cfg,
		gateIndex: *cfg.GateIndexHash,
		byName:    map[string]*backend{},
		rng:       cfg.Rand,
		metrics:   newMetrics(),
		sessions:  sessions{m: map[string]stick{}},
	}
	r.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	r.probes = &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	for _, bc := range cfg.Backends {
		u, _ := url.Parse(bc.URL) // validated
		b := &backend{name: bc.Name, url: u, pool: newPool(u), weight: DefaultWeight}
		if w, ok := cfg.Weights[bc.Name]; ok {
			b.weight = w
		}
		r.metrics.bind(b)
		r.backends = append(r.backends, b)
		r.byName[b.name] = b
	}
	r.control = r.controlHandler()
	r.mu.Lock()
	r.rebuildLocked()
	r.mu.Unlock()
	return r, nil
}

// rebuildLocked recomputes availability and the rotation snapshot. Caller holds r.mu.
func (r *Router) rebuildLocked() {
	rot := &rotation{}
	for _, b := range r.backends {
		avail := b.healthy && !b.ejected && b.contractOK
		in := avail && b.weight > 0 && !b.stranded
		b.available.Store(avail)
		b.inRotation.Store(in)
		r.metrics.state(b, avail, in)
		if in {
			rot.backends = append(rot.backends, b)
			rot.weights = append(rot.weights, b.weight)
			rot.total += b.weight
		}
	}
	r.rot.Store(rot)
}

// pick chooses an in-rotation backend other than exclude, or nil.
func (r *Router) pick(exclude *backend) *backend {
	rot := r.rot.Load()
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	a := r.weighted(rot, exclude)
	if a == nil || r.cfg.Mode != ModeLatency {
		return a
	}
	b := r.weighted(rot, a, exclude)
	if b != nil && b.ewma() < a.ewma() {
		return b
	}
	return a
}

// weighted draws by weight, skipping the excluded backends. Caller holds rngMu.
func (r *Router) weighted(rot *rotation, exclude ...*backend) *backend {
	total := rot.total
	for i, b := range rot.backends {
		for _, x := range exclude {
			if b == x {
				total -= rot.weights[i]
				break
			}
		}
	}
	if total <= 0 {
		return nil
	}
	n := r.rng.IntN(total)
outer:
	for i, b := range rot.backends {
		for _, x := range exclude {
			if b == x {
				continue outer
			}
		}
		if n < rot.weights[i] {
			return b
		}
		n -= rot.weights[i]
	}
	return nil
}

// Weights returns a copy of the current weights.
func (r *Router) Weights() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.backends))
	for _, b := range r.backends {
		out[b.name] = b.weight
	}
	return out
}

// SetWeights changes the weights of the named backends (others keep theirs).
// It refuses, changing nothing, unknown names, negative weights, and any
// change after which no available backend has weight > 0.
func (r *Router) SetWeights(w map[string]int) error {
	var errs []error
	for name, v := range w {
		if _, ok := r.byName[name]; !ok {
			errs = append(errs, fmt.Errorf("%q: %w", name, ErrUnknownBackend))
		}
		if v < 0 {
			errs = append(errs, fmt.Errorf("%q: %d: %w", name, v, ErrBadWeight))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	serving := false
	for _, b := range r.backends {
		weight := b.weight
		if v, ok := w[b.name]; ok {
			weight = v
		}
		if weight > 0 && b.available.Load() && !b.stranded {
			serving = true
		}
	}
	if !serving {
		return ErrNoServingRegion
	}
	for name, v := range w {
		b := r.byName[name]
		b.weight = v
		b.stranded = b.stranded || (r.cfg.StrandEvacuated && v == 0)
	}
	r.rebuildLocked()
	r.cfg.Logger.Info("edge weights set", "weights", w)
	return nil
}

// Status reports every backend, in configuration order.
func (r *Router) Status() []BackendStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]BackendStatus, 0, len(r.backends))
	for _, b := range r.backends {
		var h *contract.Health
		if b.health != nil {
			c := *b.health
			h = &c
		}
		out = append(out, BackendStatus{
			Name: b.name, URL: b.url.String(), Weight: b.weight,
			Healthy: b.healthy, Ejected: b.ejected,
			InRotation: b.inRotation.Load(), ContractOK: b.contractOK, ContractReason: b.contractWhy,
			LastCheck: b.lastCheck, LastError: b.lastErr, LastHealth: h,
			EWMALatency: b.ewma(), Served: b.served.Load(),
		})
	}
	return out
}

// Start runs one health round now, then one every HealthInterval until ctx
// ends or Close. Calling it again does nothing.
func (r *Router) Start(ctx context.Context) {
	r.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(ctx)
		r.stopLoop = cancel
		r.loopDone = make(chan struct{})
		r.CheckNow(ctx)
		go func() {
			defer close(r.loopDone)
			t := time.NewTicker(r.cfg.HealthInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					r.CheckNow(ctx)
				}
			}
		}()
	})
}

// Close stops the health loop and closes idle upstream connections;
// connections in use close when their request ends.
func (r *Router) Close() {
	r.startOnce.Do(func() {}) // a later Start does nothing
	if r.stopLoop != nil {
		r.stopLoop()
		<-r.loopDone
	}
	r.probes.CloseIdleConnections()
	for _, b := range r.backends {
		b.pool.close()
	}
}

var _ http.Handler = (*Router)(nil)
