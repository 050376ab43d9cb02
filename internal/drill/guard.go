package drill

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
)

// gateOK is the drill's copy of the edge's contract health gate
// (docs/EDGE.md): a region counts as healthy only when it answered, says
// ready, fills the contract's required fields and matches the reference
// contract (the primary's). ref nil compares nothing.
func gateOK(h contract.Health, ref *contract.Health) (bool, string) {
	if !h.Ready {
		return false, "not ready"
	}
	for _, f := range []struct{ name, v string }{
		{"region", h.Region}, {"role", string(h.Role)}, {"index_hash", h.IndexHash},
		{"schema_rev", h.SchemaRev}, {"model_tag", h.ModelTag},
	} {
		if f.v == "" {
			return false, "health lacks " + f.name
		}
	}
	if ref == nil {
		return true, ""
	}
	for _, f := range []struct{ name, v, want string }{
		{"index_hash", h.IndexHash, ref.IndexHash}, {"schema_rev", h.SchemaRev, ref.SchemaRev}, {"model_tag", h.ModelTag, ref.ModelTag},
	} {
		if f.want != "" && f.v != f.want {
			return false, fmt.Sprintf("%s %q differs from the primary's %q", f.name, f.v, f.want)
		}
	}
	return true, ""
}

// reference is the contract regions are held to: the health of the region
// that says primary with the highest epoch, else (every region fenced) the
// primary's index as the snapshot recorded it.
func (e *Engine) reference(hs map[string]contract.Health) *contract.Health {
	var ref *contract.Health
	for _, h := range hs {
		if h.Role == contract.RolePrimary && (ref == nil || h.Epoch > ref.Epoch) {
			ref = &h
		}
	}
	if ref == nil && e.snap.Index[e.snap.Primary].Hash != "" {
		ref = &contract.Health{IndexHash: e.snap.Index[e.snap.Primary].Hash}
	}
	return ref
}

// The guard judges from the sampler's last health sample when it is at most
// guardFresh old, else from a read bounded by guardTimeout: a region that
// does not answer (the one just blackholed) must not hold up the change
// (every second it waits, a frozen survivor queues writes).
const (
	guardFresh   = 3 * time.Second
	guardTimeout = 2 * time.Second
)

// healthSeen is the sampler's last health sample.
type healthSeen struct {
	mu   sync.Mutex
	at   time.Time
	hs   map[string]contract.Health
	errs map[string]string
}

func (h *healthSeen) put(hs map[string]contract.Health, errs map[string]string, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hs, h.errs, h.at = hs, errs, at
}

// guardHealth is every region's health as the guard judges it (fresh: read
// now, whatever the sampler saw).
func (e *Engine) guardHealth(ctx context.Context, fresh bool) (map[string]contract.Health, map[string]string) {
	e.seen.mu.Lock()
	hs, errs, at := e.seen.hs, e.seen.errs, e.seen.at
	e.seen.mu.Unlock()
	if !fresh && !at.IsZero() && e.now().Sub(at) <= guardFresh {
		return hs, errs
	}
	ctx, cancel := context.WithTimeout(ctx, guardTimeout)
	defer cancel()
	return e.healthQuick(ctx)
}

// guarded lists the changes the survivor guard checks: each can take a
// region out of service or hand the writes to one.
var guarded = []adapter.ActionKind{adapter.SetWeights, adapter.Blackhole, adapter.Freeze, adapter.Promote}

// survivorGuard refuses a change after which fewer than
// min_serving_regions regions would serve: have weight and pass the
// contract health gate. A promotion is refused when the promoted region
// fails the gate. Unfreezing never is (it only gives writes back).
//
// A refusal for a reason that passes (a region not answering, not ready, or
// out of the router's rotation while a busy machine catches up) is checked
// again every second for up to guardWait before it stands: on a starved
// 2-core machine the lab's edge once held the survivor out of rotation for a
// few seconds just as drill E shifted weight to it, and refused the weights.
func (e *Engine) survivorGuard(ctx context.Context, a adapter.Action) error {
	if !slices.Contains(guarded, a.Kind) || (a.Kind == adapter.Freeze && !a.Frozen) {
		return nil
	}
	deadline := e.now().Add(e.guardWait)
	for fresh := false; ; fresh = true {
		transient, err := e.guardOnce(ctx, a, fresh)
		if err == nil || !transient || !e.now().Before(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

// defaultGuardWait bounds how long the guard waits for a refusal that may
// pass.
const defaultGuardWait = 15 * time.Second

// guardOnce is one judgement of the guard (fresh: read health now, not from
// the sampler); transient says the refusal rests only on regions that did
// not answer, were not ready or were out of the router's rotation.
func (e *Engine) guardOnce(ctx context.Context, a adapter.Action, fresh bool) (transient bool, err error) {
	wctx, cancel := context.WithTimeout(ctx, guardTimeout)
	weights, err := e.t.Weights(wctx)
	cancel()
	if err != nil {
		return true, fmt.Errorf("%w: %s %s: the router's weights cannot be read: %v", ErrNoSurvivor, a.Kind, a.Region, err)
	}
	hs, errs := e.guardHealth(ctx, fresh)
	ref := e.reference(hs)
	rotation := e.rotation(ctx) // nil when the router does not say
	why := map[string]string{}
	passing, lasting := 0, 0 // regions refused for reasons that may pass, and that will not
	healthy := func(r string) bool {
		h, ok := hs[r]
		if !ok {
			why[r] = "unreachable: " + errs[r]
			passing++
			return false
		}
		ok, reason := gateOK(h, ref)
		if !ok {
			why[r] = reason
			if reason == "not ready" {
				passing++
			} else {
				lasting++
			}
			return false
		}
		if in, said := rotation[r]; said && !in && a.Kind == adapter.SetWeights {
			why[r] = "out of the router's rotation"
			passing++
			return false
		}
		return true
	}
	mayPass := func() bool { return passing > 0 && lasting == 0 }
	if a.Kind == adapter.Promote && !healthy(a.Primary) {
		return mayPass(), fmt.Errorf("%w: promote %s: it fails the health gate (%s)", ErrNoSurvivor, a.Primary, why[a.Primary])
	}
	after := weights
	if a.Kind == adapter.SetWeights {
		after = a.Weights
	}
	var serving []string
	for _, r := range e.p.Regions {
		w, named := after[r]
		if !named {
			w = weights[r]
		}
		switch {
		case w <= 0:
			why[r] = "weight 0"
		case a.Kind == adapter.Blackhole && r == a.Region:
			why[r] = "blackholed by this change"
		case healthy(r):
			serving = append(serving, r)
		}
	}
	need := max(1, e.p.MinServingRegions)
	if len(serving) >= need {
		return false, nil
	}
	var out []string
	for r, w := range why {
		out = append(out, r+": "+w)
	}
	sort.Strings(out)
	return mayPass(), fmt.Errorf("%w: %s %s would leave %d region(s) serving by the health gate, min_serving_regions is %d (%s)",
		ErrNoSurvivor, a.Kind, a.Region, len(serving), need, strings.Join(out, "; "))
}
