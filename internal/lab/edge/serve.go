package edge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/httpjson"
)

// ServeHTTP routes one request; paths under /_edge/ go to the control API.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if strings.HasPrefix(req.URL.Path, "/_edge/") {
		r.control.ServeHTTP(w, req)
		return
	}
	body, release, ok := r.readBody(w, req)
	if !ok {
		return
	}
	defer release()

	if pin := req.Header.Get(contract.HeaderRegionPin); pin != "" {
		b := r.byName[pin]
		switch {
		case b == nil:
			httpjson.Error(w, http.StatusMisdirectedRequest, "X-Region-Pin: unknown region "+strconv.Quote(pin))
		case !b.available.Load():
			w.Header().Set("Retry-After", "1")
			httpjson.Error(w, http.StatusServiceUnavailable, "X-Region-Pin: region "+strconv.Quote(pin)+" is not serving (unhealthy, ejected or contract mismatch)")
		default:
			r.forward(w, req, body, b, false, "")
		}
		return
	}

	sid := ""
	if r.cfg.StickTTL > 0 {
		sid = req.Header.Get(contract.HeaderSession)
		if sid == "" && req.Header.Get("Cookie") != "" {
			if c, err := req.Cookie(contract.StickyCookie); err == nil {
				sid = c.Value
			}
		}
		if !validCookieValue(sid) {
			sid = ""
		}
	}
	var b *backend
	if sid != "" {
		if p := r.sessions.get(sid, r.cfg.Clock()); p != nil && p.inRotation.Load() {
			b = p
		}
	}
	if b == nil {
		b = r.pick(nil)
	}
	if b == nil {
		w.Header().Set("Retry-After", "1")
		httpjson.Error(w, http.StatusServiceUnavailable, "no region in rotation")
		return
	}
	r.forward(w, req, body, b, retryable(req), sid)
}

// forward sends req to b, retrying once elsewhere on a transport failure
// when allowed, and streams the answer to w.
func (r *Router) forward(w http.ResponseWriter, req *http.Request, body []byte, b *backend, retry bool, sid string) {
	x, err := r.attempt(w, req, body, b, retry)
	if err != nil && req.Context().Err() == nil && retry {
		if b2 := r.pick(b); b2 != nil {
			b = b2
			x, err = r.attempt(w, req, body, b, retry)
		}
	}
	if err != nil {
		if req.Context().Err() != nil {
			return // the client left; nothing to answer
		}
		status := http.StatusBadGateway
		if isTimeout(err) {
			status = http.StatusGatewayTimeout
		}
		httpjson.Error(w, status, "upstream "+b.name+": "+err.Error())
		return
	}
	if sid != "" {
		r.sessions.put(sid, b, r.cfg.Clock(), r.cfg.StickTTL)
	}
	h := w.Header()
	if len(h[contract.HeaderRegion]) == 0 {
		h[contract.HeaderRegion] = []string{b.name}
	}
	if sid != "" {
		h[contract.HeaderStickyRegion] = []string{b.name}
		h.Add("Set-Cookie", contract.StickyCookie+"="+sid+"; Path=/; Max-Age="+
			strconv.Itoa(int(r.cfg.StickTTL/time.Second))+"; HttpOnly; SameSite=Lax")
	}
	w.WriteHeader(x.head.status)
	bufp := r.bufs.Get().(*[]byte)
	clean, readErr := copyBody(w, &x.body, *bufp, x.head.length < 0)
	r.bufs.Put(bufp)
	x.finish(clean)
	if readErr != nil && req.Context().Err() == nil {
		// The head is out; abort so the client sees a broken response
		// rather than a short one that looks complete.
		panic(http.ErrAbortHandler)
	}
}

// attempt sends one try to b. On a transport error it records a passive failure.
func (r *Router) attempt(w http.ResponseWriter, req *http.Request, body []byte, b *backend, replay bool) (exchange, error) {
	start := time.Now()
	x, err := b.pool.roundTrip(req, w.Header(), requestTarget(b.url, req.URL), body, start.Add(r.cfg.TryTimeout), replay)
	if err != nil {
		b.count(0)
		if req.Context().Err() == nil && !errors.Is(err, errStaleConn) {
			r.failed(b, err)
		}
		return x, err
	}
	if err := r.gateAnswer(w.Header(), b, &x); err != nil {
		return exchange{}, err
	}
	took := time.Since(start)
	b.count(x.head.status)
	b.latency.Observe(took.Seconds())
	b.observe(took)
	b.served.Add(1)
	r.succeeded(b)
	return x, nil
}

// readBody buffers a request body of up to MaxBodyBytes so a retry can
// resend it. It answers 413 itself when the body is larger.
func (r *Router) readBody(w http.ResponseWriter, req *http.Request) ([]byte, func(), bool) {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
		return nil, func() {}, true
	}
	if req.ContentLength > MaxBodyBytes {
		httpjson.Error(w, http.StatusRequestEntityTooLarge, "request body over 1 MiB")
		return nil, nil, false
	}
	bufp := r.bufs.Get().(*[]byte)
	buf := bytes.NewBuffer((*bufp)[:0])
	n, err := buf.ReadFrom(io.LimitReader(req.Body, MaxBodyBytes+1))
	release := func() {
		if b := buf.Bytes(); cap(b) <= 2*MaxBodyBytes {
			*bufp = b[:cap(b)]
			r.bufs.Put(bufp)
		}
	}
	if err != nil {
		release()
		httpjson.Error(w, http.StatusBadRequest, "reading request body: "+err.Error())
		return nil, nil, false
	}
	if n > MaxBodyBytes {
		release()
		httpjson.Error(w, http.StatusRequestEntityTooLarge, "request body over 1 MiB")
		return nil, nil, false
	}
	return buf.Bytes(), release, true
}

// retryable reports whether a request may be sent again after a transport
// failure: reads, /ask, /token, /health, and /write with an Idempotency-Key.
func retryable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	switch req.URL.Path {
	case "/ask", "/token", "/health":
		return true
	case "/write":
		return req.Header.Get(contract.HeaderIdempotencyKey) != ""
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// joinPath is the backend's base path followed by the request's path.
func joinPath(base, req *url.URL) string {
	return strings.TrimSuffix(base.Path, "/") + req.Path
}

// validCookieValue keeps session ids that can travel in a cookie unquoted.
func validCookieValue(v string) bool {
	if len(v) > 256 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}
