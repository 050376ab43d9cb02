package edge

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/regiondrill/regiondrill/internal/lab/httpjson"
)

// ControlHandler serves the control API under /_edge/:
//
//	GET /_edge/status   []BackendStatus
//	GET /_edge/weights  {"name": weight}
//	PUT /_edge/weights  {"name": weight} (partial), bearer token required
//
// PUT answers 200 with the new weights, 400 for unknown names or negative
// weights, 409 when the change would leave no region serving, 401 without
// the token (and always when the router has no token).
func (r *Router) ControlHandler() http.Handler { return r.control }

func (r *Router) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_edge/status", func(w http.ResponseWriter, _ *http.Request) {
		httpjson.Write(w, http.StatusOK, r.Status())
	})
	mux.HandleFunc("GET /_edge/weights", func(w http.ResponseWriter, _ *http.Request) {
		httpjson.Write(w, http.StatusOK, r.Weights())
	})
	want := []byte("Bearer " + r.cfg.Token)
	mux.HandleFunc("PUT /_edge/weights", func(w http.ResponseWriter, req *http.Request) {
		got := []byte(req.Header.Get("Authorization"))
		if r.cfg.Token == "" || subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="regiondrill-edge"`)
			httpjson.Error(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		var weights map[string]int
		dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 64<<10))
		if err := dec.Decode(&weights); err != nil {
			httpjson.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := r.SetWeights(weights); err != nil {
			httpjson.Error(w, statusOf(err), err.Error())
			return
		}
		httpjson.Write(w, http.StatusOK, r.Weights())
	})
	r.lockHandlers(mux)
	return mux
}

// statusOf maps router errors to HTTP statuses, in one place.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNoServingRegion):
		return http.StatusConflict
	case errors.Is(err, ErrUnknownBackend), errors.Is(err, ErrBadWeight):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}
