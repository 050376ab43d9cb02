// Command edgebench serves the lab's edge router (internal/edge) in front of
// one backend, so external load tools can measure it beside HAProxy.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/regiondrill/regiondrill/internal/lab/edge"
)

func main() {
	backend := flag.String("backend", "", "backend base URL, e.g. http://127.0.0.1:8081")
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	addrFile := flag.String("addr-file", "", "write the bound address here once the backend is admitted")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run here")
	flag.Parse()
	if *cpuProfile != "" {
		stop, err := profile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "edgebench:", err)
			os.Exit(1)
		}
		defer stop()
	}
	if err := run(*backend, *addr, *addrFile); err != nil {
		fmt.Fprintln(os.Stderr, "edgebench:", err)
		os.Exit(1)
	}
}

// profile starts a CPU profile into path; the returned func ends it.
func profile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

func run(backend, addr, addrFile string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := edge.New(edge.Config{
		Backends: []edge.Backend{{Name: "bench", URL: backend}},
		Token:    "bench-token",
	})
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	defer r.Close()
	r.Start(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for !admitted(r) {
		if time.Now().After(deadline) {
			return errors.New("backend not admitted within 5s: " + r.Status()[0].LastError + r.Status()[0].ContractReason)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if addrFile != "" {
		if err := os.WriteFile(addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			return fmt.Errorf("addr file: %w", err)
		}
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func admitted(r *edge.Router) bool {
	st := r.Status()
	return len(st) == 1 && st[0].InRotation
}
