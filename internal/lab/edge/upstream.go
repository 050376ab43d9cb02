package edge

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Upstream connection pool limits.
const (
	dialTimeout     = time.Second
	maxIdlePerHost  = 256
	idleConnTimeout = 90 * time.Second
	connBufSize     = 4 << 10
)

// Errors of the upstream client.
var (
	errPoolClosed = errors.New("upstream pool closed")
	// errStaleConn marks a failure on a reused connection before any answer
	// byte for a request that may not be replayed: most likely the backend
	// had closed the idle connection, so it says nothing about its health.
	errStaleConn = errors.New("reused upstream connection failed before answering")
)

// upConn is one HTTP/1.1 keep-alive connection to a backend, with its
// buffers. The handler goroutine that holds it does all its I/O.
type upConn struct {
	nc    net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	idle  time.Time // when it last went back to the pool
	abort func()    // c.expire, bound once so a request allocates no closure
}

// expire makes any blocked or later I/O on the connection fail at once.
func (c *upConn) expire() { _ = c.nc.SetDeadline(time.Unix(1, 0)) }

// pool holds idle connections to one backend, most recently used last.
type pool struct {
	addr string      // host:port
	host string      // Host header
	tls  *tls.Config // nil for http

	mu     sync.Mutex
	idle   []*upConn
	closed bool
}

func newPool(u *url.URL) *pool {
	p := &pool{host: u.Host, addr: u.Host}
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		p.addr = net.JoinHostPort(u.Hostname(), port)
	}
	if u.Scheme == "https" {
		p.tls = &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}}
	}
	return p
}

// get returns the most recently idled connection, or nil. Connections idle
// longer than idleConnTimeout are closed on the way.
func (p *pool) get(now time.Time) *upConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if now.Sub(c.idle) < idleConnTimeout {
			return c
		}
		_ = c.nc.Close()
	}
	return nil
}

// put returns c to the pool, closing it when the pool is full or closed.
func (p *pool) put(c *upConn, now time.Time) {
	c.idle = now
	p.mu.Lock()
	if p.closed || len(p.idle) >= maxIdlePerHost {
		p.mu.Unlock()
		_ = c.nc.Close()
		return
	}
	var stale *upConn
	if len(p.idle) > 0 && now.Sub(p.idle[0].idle) >= idleConnTimeout {
		stale = p.idle[0]
		p.idle = append(p.idle[:0], p.idle[1:]...)
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
	if stale != nil {
		_ = stale.nc.Close()
	}
}

// close closes every idle connection; later puts close theirs.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		_ = c.nc.Close()
	}
}

// dial opens a fresh connection, giving up after dialTimeout or deadline.
func (p *pool) dial(ctx context.Context, deadline time.Time) (*upConn, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, errPoolClosed
	}
	d := &net.Dialer{Timeout: dialTimeout, Deadline: deadline, KeepAlive: 30 * time.Second}
	var nc net.Conn
	var err error
	if p.tls != nil {
		nc, err = (&tls.Dialer{NetDialer: d, Config: p.tls}).DialContext(ctx, "tcp", p.addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", p.addr)
	}
	if err != nil {
		return nil, err
	}
	c := &upConn{nc: nc, br: bufio.NewReaderSize(nc, connBufSize), bw: bufio.NewWriterSize(nc, connBufSize)}
	c.abort = c.expire
	return c, nil
}

// exchange is one request in flight on an upstream connection.
type exchange struct {
	p    *pool
	c    *upConn
	head head
	body body
	stop func() bool // unregisters the client-gone watch
}

// roundTrip writes req to the backend and reads the response head, whose
// headers go into h. A pooled connection that fails before a single
// response byte arrived (the backend closed it while idle) is replaced by
// a fresh one when replay is allowed.
func (p *pool) roundTrip(req *http.Request, h http.Header, target string, body []byte, deadline time.Time, replay bool) (exchange, error) {
	ctx := req.Context()
	c := p.get(time.Now())
	reused := c != nil
	for {
		if c == nil {
			var err error
			if c, err = p.dial(ctx, deadline); err != nil {
				return exchange{}, err
			}
		}
		_ = c.nc.SetDeadline(deadline)
		stop := context.AfterFunc(ctx, c.abort)
		hd, fresh, err := c.send(req, h, p.host, target, body)
		if err == nil {
			return exchange{p: p, c: c, head: hd, body: newBody(c.br, hd), stop: stop}, nil
		}
		stop()
		_ = c.nc.Close()
		if !reused || !fresh || ctx.Err() != nil || isTimeout(err) {
			return exchange{}, err
		}
		if !replay {
			return exchange{}, fmt.Errorf("%w: %w", errStaleConn, err)
		}
		c, reused = nil, false
	}
}

// send writes the request and reads the final (non-1xx) response head.
// fresh reports that the backend sent nothing before the error.
func (c *upConn) send(req *http.Request, h http.Header, host, target string, body []byte) (hd head, fresh bool, err error) {
	if err := writeRequest(c.bw, req, host, target, body); err != nil {
		return head{}, true, err
	}
	if _, err := c.br.Peek(1); err != nil {
		return head{}, true, err
	}
	for {
		if hd, err = readHead(c.br, h, req.Method); err != nil {
			return head{}, false, fmt.Errorf("reading response: %w", err)
		}
		if hd.status >= 200 || hd.status == http.StatusSwitchingProtocols {
			return hd, false, nil
		}
		clear(h) // an interim answer: the final one follows
	}
}

// finish ends the exchange: the connection goes back to the pool when
// reuse is true, the client did not leave and the backend did not ask to
// close; otherwise it is closed.
func (x *exchange) finish(reuse bool) {
	if x.stop() && reuse && !x.head.close {
		x.p.put(x.c, time.Now())
		return
	}
	_ = x.c.nc.Close()
}

// writeRequest writes an HTTP/1.1 request head and body to w and flushes.
// Hop-by-hop headers, Host, Content-Length and Expect of req are dropped.
func writeRequest(w *bufio.Writer, req *http.Request, host, target string, body []byte) error {
	_, _ = w.WriteString(req.Method)
	_ = w.WriteByte(' ')
	_, _ = w.WriteString(target)
	if q := req.URL.RawQuery; q != "" || req.URL.ForceQuery {
		_ = w.WriteByte('?')
		_, _ = w.WriteString(q)
	}
	_, _ = w.WriteString(" HTTP/1.1\r\nHost: ")
	_, _ = w.WriteString(host)
	_, _ = w.WriteString("\r\n")
	for k, vv := range req.Header {
		if isHop(k) {
			continue
		}
		switch k {
		case "Host", "Content-Length", "Expect":
			continue
		}
		for _, v := range vv {
			_, _ = w.WriteString(k)
			_, _ = w.WriteString(": ")
			_, _ = w.WriteString(v)
			_, _ = w.WriteString("\r\n")
		}
	}
	if len(body) > 0 || bodyMethod(req.Method) {
		var num [20]byte
		_, _ = w.WriteString("Content-Length: ")
		_, _ = w.Write(strconv.AppendInt(num[:0], int64(len(body)), 10))
		_, _ = w.WriteString("\r\n")
	}
	_, _ = w.WriteString("\r\n")
	_, _ = w.Write(body)
	return w.Flush()
}

func bodyMethod(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch
}

// isHop reports connection-scoped headers, which are never forwarded.
func isHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// requestTarget is the origin-form target for req on a backend at base.
func requestTarget(base, req *url.URL) string {
	if base.Path == "" || base.Path == "/" {
		if p := req.EscapedPath(); p != "" {
			return p
		}
		return "/"
	}
	u := url.URL{Path: joinPath(base, req)}
	return u.EscapedPath()
}

// copyBody streams the response body to w with buf. It reports whether
// the body ended cleanly, and an upstream read error, if any.
func copyBody(w http.ResponseWriter, body io.Reader, buf []byte, flush bool) (clean bool, readErr error) {
	fl, _ := w.(http.Flusher)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return false, nil
			}
			if flush && fl != nil {
				fl.Flush()
			}
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}
