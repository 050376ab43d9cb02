package live

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// Server is the live view's HTTP side.
type Server struct {
	feed   *Feed
	token  string
	abort  func()
	report string // file served at /report once the run is over
	hosts  map[string]bool
	mux    *http.ServeMux
}

// NewToken returns a random token for the run.
func NewToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// csp lets the page load its own script and style and talk to its own
// server, nothing else.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// NewServer serves feed. token guards POST /abort, which calls abort;
// report is the path of the report.html the page links when the run ends.
func NewServer(feed *Feed, token string, abort func(), report string) *Server {
	s := &Server{feed: feed, token: token, abort: abort, report: report, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.static("assets/index.html", "text/html; charset=utf-8"))
	s.mux.HandleFunc("GET /live.js", s.static("assets/live.js", "text/javascript; charset=utf-8"))
	s.mux.HandleFunc("GET /live.css", s.static("assets/live.css", "text/css; charset=utf-8"))
	s.mux.HandleFunc("GET /state", s.state)
	s.mux.HandleFunc("GET /events", s.events)
	s.mux.HandleFunc("GET /report", s.finalReport)
	s.mux.HandleFunc("POST /abort", s.stop)
	return s
}

// Listen binds addr: a bare port or ":port" binds the loopback address; a
// host binds that host, as told.
func Listen(addr string) (net.Listener, error) {
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	return net.Listen("tcp", addr)
}

// ServeHTTP checks the Host header of loopback listeners (a page on another
// site cannot reach the view through DNS rebinding), sets the security
// headers and dispatches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.hosts != nil && !s.hosts[r.Host] {
		http.Error(w, "unexpected Host header", http.StatusForbidden)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// Serve serves on l until it is closed. On a loopback listener only Host
// headers naming the loopback address are accepted.
func (s *Server) Serve(l net.Listener) error {
	if a, ok := l.Addr().(*net.TCPAddr); ok && a.IP.IsLoopback() {
		p := fmt.Sprint(a.Port)
		s.hosts = map[string]bool{"127.0.0.1:" + p: true, "localhost:" + p: true, "[::1]:" + p: true, a.String(): true}
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	err := srv.Serve(l)
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}

func (s *Server) static(name, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		b, err := assets.ReadFile(name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ctype)
		_, _ = w.Write(b)
	}
}

func (s *Server) state(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.feed.Snapshot())
}

// events streams the state, then every change, as server-sent events.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch, cancel := s.feed.subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			_, _ = fmt.Fprint(w, ": keep-alive\n\n")
		case m, ok := <-ch:
			if !ok {
				return // dropped as too slow: the browser reconnects
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", m.event, m.data); err != nil {
				return
			}
		}
		fl.Flush()
	}
}

func (s *Server) finalReport(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.feed.ended:
	default:
		http.Error(w, "the drill is still running; the report is written when it ends", http.StatusNotFound)
		return
	}
	if s.report == "" {
		http.NotFound(w, r)
		return
	}
	// The report's own meta CSP is stricter than the live page's.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	http.ServeFile(w, r, s.report)
}

// stop aborts the drill: every change is undone, as on Ctrl-C. It needs the
// run's token as a bearer token.
func (s *Server) stop(w http.ResponseWriter, r *http.Request) {
	got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if s.token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="regiondrill"`)
		http.Error(w, "the run's token is needed to stop the drill", http.StatusUnauthorized)
		return
	}
	if s.abort == nil {
		http.Error(w, "this view cannot stop the drill", http.StatusNotImplemented)
		return
	}
	s.abort()
	w.WriteHeader(http.StatusAccepted)
	_, _ = fmt.Fprintln(w, "stopping: every change is being undone")
}

var _ http.Handler = (*Server)(nil)
