package edge

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// errIndexMismatch is an answer from an index other than the reference's:
// the edge drops it and tries another region, as for a transport failure.
var errIndexMismatch = errors.New("answer from an index other than the primary's")

// refHash is the reference contract's INDEX_HASH, "" when none is known.
func (r *Router) refHash() string {
	if p := r.refIndex.Load(); p != nil {
		return *p
	}
	return ""
}

// gateAnswer is the index gate on each answer: a health round learns of a
// rebuilt index only at its next probe, so between two rounds a region
// could answer from an index the contract refuses. An answer whose
// X-Index-Hash differs from the reference is never passed on: its region
// leaves the rotation at once, and the caller tries another.
func (r *Router) gateAnswer(h http.Header, b *backend, x *exchange) error {
	if !r.gateIndex {
		return nil
	}
	got, ref := h.Get(contract.HeaderIndexHash), r.refHash()
	if got == "" || ref == "" || got == ref {
		return nil
	}
	x.finish(false) // the body is not read: drop the connection
	clear(h)        // the rejected answer's headers
	why := fmt.Sprintf("answered from index_hash %q, primary's is %q", got, ref)
	r.mu.Lock()
	b.contractOK, b.contractWhy = false, why
	b.healthy, b.goodSince = false, time.Time{}
	r.rebuildLocked()
	r.mu.Unlock()
	r.cfg.Logger.Warn("edge backend left rotation", "backend", b.name, "reason", why)
	return fmt.Errorf("%w: %s", errIndexMismatch, why)
}
