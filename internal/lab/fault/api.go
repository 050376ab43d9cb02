package fault

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/httpjson"
)

// Handler serves the control API:
//
//	GET    /faults             list active faults
//	GET    /kinds              list fault kinds with help
//	POST   /faults             apply a Spec (JSON), 201 {"id": ...}
//	POST   /faults/{id}/renew  body {"lease":"30s"} (optional)
//	DELETE /faults/{id}        remove (idempotent), 204
//
// Every mutation needs "Authorization: Bearer <token>"; an empty token
// refuses every mutation.
func (in *Injector) Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, in.Active())
	})
	mux.HandleFunc("GET /kinds", func(w http.ResponseWriter, r *http.Request) {
		out := map[Kind]string{}
		for _, k := range Kinds() {
			out[k] = k.Help()
		}
		httpjson.Write(w, http.StatusOK, out)
	})
	mux.Handle("POST /faults", authorized(token, func(w http.ResponseWriter, r *http.Request) {
		var spec Spec
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			httpjson.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		id, err := in.Apply(spec)
		if err != nil {
			httpjson.Error(w, statusOf(err), err.Error())
			return
		}
		httpjson.Write(w, http.StatusCreated, map[string]string{"id": id})
	}))
	mux.Handle("POST /faults/{id}/renew", authorized(token, func(w http.ResponseWriter, r *http.Request) {
		var body contract.FaultRenewal
		if r.ContentLength != 0 {
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body); err != nil {
				httpjson.Error(w, http.StatusBadRequest, err.Error())
				return
			}
		}
		var lease time.Duration
		if body.Lease != "" {
			d, err := time.ParseDuration(body.Lease)
			if err != nil {
				httpjson.Error(w, http.StatusBadRequest, err.Error())
				return
			}
			lease = d
		}
		if err := in.Renew(r.PathValue("id"), lease); err != nil {
			httpjson.Error(w, statusOf(err), err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.Handle("DELETE /faults/{id}", authorized(token, func(w http.ResponseWriter, r *http.Request) {
		if err := in.Remove(r.PathValue("id")); err != nil {
			httpjson.Error(w, statusOf(err), err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	return mux
}

// authorized wraps next with a constant-time bearer token check.
func authorized(token string, next http.HandlerFunc) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if token == "" || subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="regiondrill-fault"`)
			httpjson.Error(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next(w, r)
	})
}

// statusOf maps injector errors to HTTP statuses, in one place.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrInvalidSpec):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnknownProxy), errors.Is(err, ErrUnknownFault):
		return http.StatusNotFound
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
