package edge

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/lab/httpjson"
)

// ErrLocked is returned when another drill holds the router's drill lock.
var ErrLocked = errors.New("another drill holds this target")

// DrillLock is the lock a running drill holds on the router, so that two
// drills never change one target at once. It has an owner and a lease: a
// drill that vanishes stops renewing it and the lock frees itself.
type DrillLock struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

type lockState struct {
	mu   sync.Mutex
	held DrillLock
}

// Lock takes or renews the drill lock for owner.
func (r *Router) Lock(owner string, lease time.Duration) (DrillLock, error) {
	if owner == "" || lease <= 0 {
		return DrillLock{}, fmt.Errorf("%w: owner and a positive lease are required", ErrBadWeight)
	}
	now := r.cfg.Clock()
	r.lock.mu.Lock()
	defer r.lock.mu.Unlock()
	if h := r.lock.held; h.Owner != "" && h.Owner != owner && now.Before(h.Expires) {
		return h, fmt.Errorf("%w: %s until %s", ErrLocked, h.Owner, h.Expires.Format(time.RFC3339))
	}
	r.lock.held = DrillLock{Owner: owner, Expires: now.Add(lease)}
	return r.lock.held, nil
}

// Unlock releases the lock if owner holds it (or it has expired).
func (r *Router) Unlock(owner string) error {
	r.lock.mu.Lock()
	defer r.lock.mu.Unlock()
	h := r.lock.held
	if h.Owner != "" && h.Owner != owner && r.cfg.Clock().Before(h.Expires) {
		return fmt.Errorf("%w: %s", ErrLocked, h.Owner)
	}
	r.lock.held = DrillLock{}
	return nil
}

// lockHandlers serves GET/POST/DELETE /_edge/lock; mutations need the token.
func (r *Router) lockHandlers(mux *http.ServeMux) {
	want := []byte("Bearer " + r.cfg.Token)
	authed := func(req *http.Request) bool {
		return r.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), want) == 1
	}
	mux.HandleFunc("GET /_edge/lock", func(w http.ResponseWriter, _ *http.Request) {
		r.lock.mu.Lock()
		h := r.lock.held
		r.lock.mu.Unlock()
		if h.Owner != "" && !r.cfg.Clock().Before(h.Expires) {
			h = DrillLock{}
		}
		httpjson.Write(w, http.StatusOK, h)
	})
	body := func(w http.ResponseWriter, req *http.Request) (owner string, lease time.Duration, ok bool) {
		var b struct {
			Owner  string  `json:"owner"`
			LeaseS float64 `json:"lease_s"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			httpjson.Error(w, http.StatusBadRequest, err.Error())
			return "", 0, false
		}
		return b.Owner, time.Duration(b.LeaseS * float64(time.Second)), true
	}
	mux.HandleFunc("POST /_edge/lock", func(w http.ResponseWriter, req *http.Request) {
		if !authed(req) {
			httpjson.Error(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		owner, lease, ok := body(w, req)
		if !ok {
			return
		}
		h, err := r.Lock(owner, lease)
		switch {
		case errors.Is(err, ErrLocked):
			httpjson.Write(w, http.StatusConflict, map[string]any{"error": err.Error(), "owner": h.Owner, "expires": h.Expires})
		case err != nil:
			httpjson.Error(w, http.StatusBadRequest, err.Error())
		default:
			httpjson.Write(w, http.StatusOK, h)
		}
	})
	mux.HandleFunc("DELETE /_edge/lock", func(w http.ResponseWriter, req *http.Request) {
		if !authed(req) {
			httpjson.Error(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		owner, _, ok := body(w, req)
		if !ok {
			return
		}
		if err := r.Unlock(owner); err != nil {
			httpjson.Error(w, http.StatusConflict, err.Error())
			return
		}
		httpjson.Write(w, http.StatusOK, DrillLock{})
	})
}
