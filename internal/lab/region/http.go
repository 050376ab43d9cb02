package region

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/httpjson"
	"github.com/regiondrill/regiondrill/internal/lab/rag"
	"github.com/regiondrill/regiondrill/internal/lab/secrets"
)

const maxBody = 1 << 20

func (r *Region) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", r.handleHealth)
	mux.HandleFunc("POST /token", r.issuer(r.handleToken))
	mux.HandleFunc("POST /ask", r.client(r.onInstance(http.HandlerFunc(r.handleAsk))))
	wp := http.NewServeMux()
	r.writes.Register(wp)
	mux.Handle("POST /write", r.client(r.onInstance(wp)))
	mux.Handle("GET /writes", wp)
	mux.Handle("/internal/", r.admin(wp.ServeHTTP))
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /admin/freeze", r.admin(r.handleFreeze))
	mux.HandleFunc("POST /admin/promote", r.admin(r.handlePromote))
	mux.HandleFunc("POST /admin/rebuild", r.admin(r.handleRebuild))
	mux.HandleFunc("POST /admin/purge", r.admin(r.handlePurge))
	mux.HandleFunc("POST /admin/warm", r.admin(r.handleWarm))
	mux.HandleFunc("POST /admin/scale", r.admin(r.handleScale))
	mux.HandleFunc("POST /admin/emit", r.admin(r.handleEmit))
	mux.HandleFunc("POST /admin/rotate", r.admin(r.handleRotate))
	return r.instrument(mux)
}

// statusWriter remembers the status for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (r *Region) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		w.Header().Set(contract.HeaderRegion, r.cfg.Name)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, req)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		r.metrics.observe(routeLabel(req.URL.Path), sw.status, time.Since(start))
	})
}

func routeLabel(p string) string {
	switch {
	case strings.HasPrefix(p, "/admin/"), strings.HasPrefix(p, "/internal/"):
		if i := strings.IndexByte(p[1:], '/'); i >= 0 {
			return p[:i+1] + "/*"
		}
	case p == "/health", p == "/token", p == "/ask", p == "/write", p == "/writes", p == "/metrics":
		return p
	}
	return "other"
}

// decode reads a bounded JSON body strictly.
func decode(w http.ResponseWriter, req *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		httpjson.Errorf(w, http.StatusBadRequest, "bad request body: %v", err)
		return false
	}
	return true
}

// admin guards a mutation with the admin token.
func (r *Region) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if !tokenEqual(bearer(req), r.cfg.AdminToken) {
			r.metrics.authFailures.WithLabelValues("admin", "").Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="regiondrill-admin"`)
			httpjson.Errorf(w, http.StatusUnauthorized, "admin token required")
			return
		}
		h(w, req)
	}
}

// issuer guards POST /token: only a caller holding the admin token or one of
// the configured client credentials gets a session token, so nobody who can
// merely reach the region can mint the tokens /ask and /write take.
func (r *Region) issuer(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		got, ok := bearer(req), tokenEqual(bearer(req), r.cfg.AdminToken)
		for _, c := range r.cfg.ClientCredentials {
			ok = tokenEqual(got, c) || ok // every credential compared, in constant time each
		}
		if !ok {
			r.metrics.authFailures.WithLabelValues("token", "").Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="regiondrill-token"`)
			httpjson.Errorf(w, http.StatusUnauthorized, "a credential is required to obtain a session token")
			return
		}
		h(w, req)
	}
}

// client guards a client route with a session token from the key ring.
func (r *Region) client(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		kid, _, err := r.ring.Verify(bearer(req))
		if err != nil {
			r.metrics.authFailures.WithLabelValues("client", kid).Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="regiondrill"`)
			code := http.StatusUnauthorized
			if errors.Is(err, secrets.ErrUnknownKID) {
				code = http.StatusUnauthorized
			}
			httpjson.Errorf(w, code, "session token refused: %v", err)
			return
		}
		w.Header().Set(contract.HeaderKeyID, kid)
		h(w, req)
	}
}

func (r *Region) handleHealth(w http.ResponseWriter, _ *http.Request) {
	h := r.Health()
	code := http.StatusOK
	if !h.Ready {
		code = http.StatusServiceUnavailable
	}
	httpjson.Write(w, code, h)
}

type tokenRequest struct {
	Session string `json:"session"`
}

type tokenResponse struct {
	Token string `json:"token"`
	KID   string `json:"kid"`
}

func (r *Region) handleToken(w http.ResponseWriter, req *http.Request) {
	var body tokenRequest
	if !decode(w, req, &body) {
		return
	}
	tok, kid := r.ring.Mint(body.Session)
	httpjson.Write(w, http.StatusOK, tokenResponse{Token: tok, KID: kid})
}

func (r *Region) handleAsk(w http.ResponseWriter, req *http.Request) {
	var ask contract.AskRequest
	if !decode(w, req, &ask) {
		return
	}
	if strings.TrimSpace(ask.Question) == "" {
		httpjson.Errorf(w, http.StatusBadRequest, "question is required")
		return
	}
	cold := w.Header().Get(contract.HeaderColdStart) == "1"
	if !ask.NoCache {
		if v, ok := r.cache.Get(ask.Tenant, ask.Question); ok {
			v.Cached, v.Cold, v.Region = true, cold, r.cfg.Name
			w.Header().Set(contract.HeaderCache, "hit")
			w.Header().Set(contract.HeaderIndexHash, v.IndexHash)
			httpjson.Write(w, http.StatusOK, v)
			return
		}
	}
	w.Header().Set(contract.HeaderCache, "miss")
	resp, err := r.answer(req, ask)
	if err != nil {
		w.Header().Set(contract.HeaderToolError, "retriever")
		httpjson.Errorf(w, http.StatusBadGateway, "retrieval failed: %v", err)
		return
	}
	// The model call a real service makes after retrieval.
	select {
	case <-time.After(r.genTime()):
	case <-req.Context().Done():
		return
	}
	resp.Cold = cold
	w.Header().Set(contract.HeaderIndexHash, resp.IndexHash)
	if !ask.NoCache {
		r.cache.Put(ask.Tenant, ask.Question, resp)
	}
	httpjson.Write(w, http.StatusOK, resp)
}

func (r *Region) answer(req *http.Request, ask contract.AskRequest) (contract.AskResponse, error) {
	ix := r.ix.Load()
	k := ask.K
	if k <= 0 {
		k = r.defaultK()
	}
	answer, cites, chunks, err := ix.Answer(req.Context(), ask.Question, k)
	if err != nil {
		return contract.AskResponse{}, err
	}
	return contract.AskResponse{
		Region: r.cfg.Name, Answer: answer, Citations: cites, Chunks: chunks,
		IndexHash: ix.Meta().IndexHash, K: k,
	}, nil
}

// onInstance runs a request on an instance slot of the pool, as a
// serverless platform would: it waits for a warm slot or a cold start, and
// announces a cold start in X-Cold-Start.
func (r *Region) onInstance(next http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		release, cold, err := r.pool.Acquire(req.Context())
		if err != nil {
			httpjson.Errorf(w, http.StatusServiceUnavailable, "no instance: %v", err)
			return
		}
		defer release()
		if cold {
			w.Header().Set(contract.HeaderColdStart, "1")
		}
		if r.cfg.Overhead > 0 {
			time.Sleep(r.cfg.Overhead)
		}
		next.ServeHTTP(w, req)
	}
}

func (r *Region) handleFreeze(w http.ResponseWriter, req *http.Request) {
	var body contract.FreezeRequest
	if !decode(w, req, &body) {
		return
	}
	r.writes.SetFrozen(body.Frozen)
	httpjson.Write(w, http.StatusOK, r.Health())
}

func (r *Region) handlePromote(w http.ResponseWriter, req *http.Request) {
	var body contract.PromoteRequest
	if !decode(w, req, &body) {
		return
	}
	if body.Primary == "" {
		httpjson.Errorf(w, http.StatusBadRequest, "primary is required")
		return
	}
	if err := r.writes.Promote(body.Primary, body.Epoch); err != nil {
		httpjson.Errorf(w, http.StatusConflict, "promote: %v", err)
		return
	}
	httpjson.Write(w, http.StatusOK, r.Health())
}

func (r *Region) handleRebuild(w http.ResponseWriter, req *http.Request) {
	var body contract.RebuildRequest
	if !decode(w, req, &body) {
		return
	}
	s := r.cfg.RAG // a rebuild starts from the region's configured settings
	if body.Analyzer != "" {
		s.Analyzer = body.Analyzer
	}
	if body.Metric != "" {
		s.Metric = rag.Metric(body.Metric)
	}
	if r.cfg.Faults.WrongAnalyzer != "" {
		s.Analyzer = r.cfg.Faults.WrongAnalyzer
	}
	if err := s.Validate(); err != nil {
		httpjson.Errorf(w, http.StatusBadRequest, "rebuild: %v", err)
		return
	}
	ix, err := rag.Build(req.Context(), r.cfg.Corpus, s, r.cfg.Embedder, r.cfg.Clock())
	if err != nil {
		httpjson.Errorf(w, http.StatusInternalServerError, "rebuild: %v", err)
		return
	}
	if old := r.ix.Swap(ix); old != nil {
		go func() { // let in-flight searches finish on the old index
			time.Sleep(5 * time.Second)
			_ = old.Close()
		}()
	}
	httpjson.Write(w, http.StatusOK, r.Health())
}

func (r *Region) handlePurge(w http.ResponseWriter, req *http.Request) {
	var body contract.PurgeRequest
	if !decode(w, req, &body) {
		return
	}
	var n int
	switch {
	case body.Tenant != "" && body.Prefix != "":
		httpjson.Errorf(w, http.StatusBadRequest, "give prefix or tenant, not both")
		return
	case body.Tenant != "":
		n = r.cache.PurgeTenant(body.Tenant)
	default: // an empty prefix purges everything
		n = r.cache.PurgePrefix(body.Prefix)
	}
	r.metrics.purges.Inc()
	httpjson.Write(w, http.StatusOK, contract.PurgeResult{Purged: n})
}

func (r *Region) handleWarm(w http.ResponseWriter, req *http.Request) {
	var body contract.WarmRequest
	if !decode(w, req, &body) {
		return
	}
	// Warming refreshes every key, present or not, so a warmed hot path
	// stays fresh for a whole TTL from now.
	warmed := 0
	for _, q := range body.Questions {
		resp, err := r.answer(req, contract.AskRequest{Tenant: body.Tenant, Question: q})
		if err != nil {
			httpjson.Errorf(w, http.StatusBadGateway, "warm: %v", err)
			return
		}
		r.cache.Put(body.Tenant, q, resp)
		warmed++
	}
	httpjson.Write(w, http.StatusOK, map[string]int{"warmed": warmed})
}

func (r *Region) handleScale(w http.ResponseWriter, req *http.Request) {
	var body contract.ScaleRequest
	if !decode(w, req, &body) {
		return
	}
	if body.MinInstances != nil {
		if *body.MinInstances < 1 || *body.MinInstances > 256 {
			httpjson.Errorf(w, http.StatusBadRequest, "min_instances must be 1..256")
			return
		}
		r.pool.SetMinInstances(*body.MinInstances)
	}
	if body.K != nil {
		if *body.K < 0 || *body.K > 100 {
			httpjson.Errorf(w, http.StatusBadRequest, "k must be 0..100 (0 restores the index's own)")
			return
		}
		r.kClamp.Store(int64(*body.K))
	}
	if body.Concurrency != nil {
		if *body.Concurrency < 1 || *body.Concurrency > 256 {
			httpjson.Errorf(w, http.StatusBadRequest, "concurrency must be 1..256")
			return
		}
		r.pool.SetConcurrency(*body.Concurrency)
	}
	httpjson.Write(w, http.StatusOK, r.Health())
}

func (r *Region) handleEmit(w http.ResponseWriter, req *http.Request) {
	var body contract.EmitRequest
	if !decode(w, req, &body) {
		return
	}
	r.writes.SetEmitFrom(body.EmitFrom)
	httpjson.Write(w, http.StatusOK, r.Health())
}

func (r *Region) handleRotate(w http.ResponseWriter, req *http.Request) {
	var body contract.RotateRequest
	if !decode(w, req, &body) {
		return
	}
	current, accept := body.Current, body.Accept
	if r.cfg.Faults.StaleKeys { // the region keeps its own pinned key whatever it is told
		current, accept = "k-"+r.cfg.Name, nil
	}
	if err := r.ring.Rotate(current, accept); err != nil {
		httpjson.Errorf(w, http.StatusBadRequest, "rotate: %v", err)
		return
	}
	httpjson.Write(w, http.StatusOK, r.Health())
}

// Instances reports the pool state (for metrics and the lab's status).
func (r *Region) Instances() string {
	s := r.pool.Stats()
	return strconv.Itoa(s.Ready) + " ready, " + strconv.Itoa(s.Booting) + " booting"
}
