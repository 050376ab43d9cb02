package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// probe is the outcome of one active check.
type probe struct {
	health   *contract.Health // decoded, all required fields present
	err      error            // why the check failed
	answered bool             // the region answered (so a failure is definitive)
	stalled  bool             // no answer, but the check's own timer fired late: see stalled
	took     time.Duration
}

// lateSlack is how much later than its timeout a check that got no answer
// may end and still count as a miss.
const lateSlack = 250 * time.Millisecond

// stalled reports whether a check that got no answer after took was held up
// by this process rather than by the region: its timer should have ended it
// at timeout, so it could not run either, and neither could a region in the
// same process (the lab). Such a check says nothing about the region.
func stalled(took, timeout time.Duration) bool { return took > timeout+lateSlack }

// CheckNow runs one active health round over every backend concurrently and
// applies the results. The background loop calls it; tests call it directly.
func (r *Router) CheckNow(ctx context.Context) {
	probes := make([]probe, len(r.backends))
	var wg sync.WaitGroup
	for i, b := range r.backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			probes[i] = r.probe(ctx, b)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // shutting down: a cancelled round says nothing about regions
	}
	r.apply(probes)
}

func (r *Router) probe(ctx context.Context, b *backend) probe {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.HealthTimeout)
	defer cancel()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url.JoinPath("/health").String(), nil)
	if err != nil {
		return probe{err: err}
	}
	resp, err := r.probes.RoundTrip(req)
	if err != nil {
		took := time.Since(start)
		return probe{err: err, took: took, stalled: stalled(took, r.cfg.HealthTimeout)}
	}
	defer resp.Body.Close()
	p := probe{answered: true}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection reusable
		p.err = fmt.Errorf("health status %d", resp.StatusCode)
		return p
	}
	var h contract.Health
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&h); err != nil {
		p.err = fmt.Errorf("health body: %w", err)
		return p
	}
	p.took = time.Since(start)
	if missing := missingFields(&h); missing != "" {
		p.err = fmt.Errorf("health lacks %s", missing)
		return p
	}
	p.health = &h
	if !h.Ready {
		p.err = errors.New("not ready")
	}
	return p
}

// missingFields names required contract fields that are empty.
func missingFields(h *contract.Health) string {
	for _, f := range []struct{ name, v string }{
		{"region", h.Region}, {"role", string(h.Role)}, {"index_hash", h.IndexHash},
		{"schema_rev", h.SchemaRev}, {"model_tag", h.ModelTag},
	} {
		if f.v == "" {
			return f.name
		}
	}
	return ""
}

// apply folds one round of probes into backend state: reference contract,
// contract gate, FailAfter, hysteresis; then rebuilds the rotation.
func (r *Router) apply(probes []probe) {
	now := r.cfg.Clock()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, b := range r.backends {
		p := probes[i]
		b.lastCheck = now
		if p.health != nil {
			b.health = p.health
		}
		if p.err != nil {
			b.lastErr = p.err.Error()
		} else {
			b.lastErr = ""
			b.observe(p.took)
		}
	}
	r.ref = r.referenceLocked()
	if r.ref != nil {
		r.refIndex.Store(&r.ref.IndexHash)
	}
	for i, b := range r.backends {
		p := probes[i]
		b.contractOK, b.contractWhy = r.gate(b.health)
		good := p.err == nil && b.contractOK
		wasAvail := b.healthy && !b.ejected
		switch {
		case good:
			b.checkFails = 0
			if b.goodSince.IsZero() {
				b.goodSince = now
			}
		case p.answered || p.health != nil:
			b.goodSince = time.Time{}
			b.healthy = false // the region itself says no: out at once
		case p.stalled:
			// Neither a miss nor a good check.
		default:
			b.goodSince = time.Time{}
			b.checkFails++
			if b.checkFails >= r.cfg.FailAfter {
				b.healthy = false
			}
		}
		if good && !wasAvail {
			if !b.everUp || r.cfg.Hysteresis < 0 || now.Sub(b.goodSince) >= r.cfg.Hysteresis {
				b.healthy, b.ejected, b.everUp = true, false, true
				b.passiveFails.Store(0)
				r.cfg.Logger.Info("edge backend admitted", "backend", b.name)
			}
		}
		if wasAvail && !(b.healthy && !b.ejected) {
			r.cfg.Logger.Warn("edge backend left rotation", "backend", b.name, "reason", b.lastErr)
		}
	}
	r.rebuildLocked()
	r.sessions.sweep(now)
}

// referenceLocked is the health of the primary with the highest epoch among
// the last known healths, or the previous reference when none says primary.
func (r *Router) referenceLocked() *contract.Health {
	var ref *contract.Health
	for _, b := range r.backends {
		h := b.health
		if h == nil || h.Role != contract.RolePrimary {
			continue
		}
		if ref == nil || h.Epoch > ref.Epoch {
			ref = h
		}
	}
	if ref == nil {
		return r.ref
	}
	return ref
}

// gate checks h against the reference contract.
func (r *Router) gate(h *contract.Health) (bool, string) {
	if h == nil {
		return false, "no health known"
	}
	if r.ref == nil {
		return false, "no primary known to take the reference contract from"
	}
	if r.gateIndex && h.IndexHash != r.ref.IndexHash {
		return false, fmt.Sprintf("index_hash %q != primary %s %q", h.IndexHash, r.ref.Region, r.ref.IndexHash)
	}
	if h.SchemaRev != r.ref.SchemaRev {
		return false, fmt.Sprintf("schema_rev %q != primary %s %q", h.SchemaRev, r.ref.Region, r.ref.SchemaRev)
	}
	if h.ModelTag != r.ref.ModelTag {
		return false, fmt.Sprintf("model_tag %q != primary %s %q", h.ModelTag, r.ref.Region, r.ref.ModelTag)
	}
	return true, ""
}

// failed records a passive failure of real traffic; FailAfter in a row eject.
func (r *Router) failed(b *backend, err error) {
	if int(b.passiveFails.Add(1)) < r.cfg.FailAfter {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if b.ejected {
		return
	}
	if !r.othersServeLocked(b) {
		// Failed traffic is a hint, not a verdict: ejecting the last region
		// in rotation turns slow answers into none (on a stalled machine
		// every region times out at once). The active health check, which
		// tells a stalled process from a dead region, still takes it out.
		r.metrics.ejectionsHeld.WithLabelValues(b.name).Inc()
		return
	}
	b.ejected = true
	b.goodSince = time.Time{}
	r.metrics.ejections.WithLabelValues(b.name).Inc()
	r.cfg.Logger.Warn("edge backend ejected", "backend", b.name, "err", err)
	r.rebuildLocked()
}

// othersServeLocked reports whether a region other than b is in rotation.
func (r *Router) othersServeLocked(b *backend) bool {
	for _, o := range r.backends {
		if o != b && o.healthy && !o.ejected && o.contractOK && o.weight > 0 {
			return true
		}
	}
	return false
}

// succeeded resets the passive failure count.
func (r *Router) succeeded(b *backend) {
	if b.passiveFails.Load() != 0 {
		b.passiveFails.Store(0)
	}
}
