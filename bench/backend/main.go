// Command backend is the trivial upstream of the benchmarks: a fixed 200 body
// for every path, a contract health body on GET /health (so the edge admits
// it) and 404 on /token (so the load generator sends no token fetches).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	addrFile := flag.String("addr-file", "", "write the bound address here once listening")
	freePort := flag.Bool("freeport", false, "print a free loopback port and exit")
	flag.Parse()
	if err := run(*addr, *addrFile, *freePort); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

func run(addr, addrFile string, freePort bool) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if freePort {
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		return ln.Close()
	}
	health, err := json.Marshal(contract.Health{
		Region: "bench", Ready: true, Role: contract.RolePrimary, Epoch: 1, Primary: "bench",
		IndexHash: "bench-index", SchemaRev: "1", ModelTag: "bench-model", BuildTS: time.Unix(0, 0).UTC(),
	})
	if err != nil {
		return fmt.Errorf("health body: %w", err)
	}
	body := []byte(`{"region":"bench","answer":"ok"}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(health)
			return
		case "/token":
			http.NotFound(w, r)
			return
		}
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(contract.HeaderRegion, "bench")
		_, _ = w.Write(body)
	})
	if addrFile != "" {
		if err := os.WriteFile(addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			return fmt.Errorf("addr file: %w", err)
		}
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	return srv.Serve(ln)
}
