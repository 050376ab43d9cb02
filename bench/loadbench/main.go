// Command loadbench runs regiondrill's load generator (internal/load) against
// one URL for a bounded time and prints what it delivered as one JSON line:
// the generator's own Summary plus the share of the target rate sent in each
// 1-second window and latency percentiles measured from the scheduled time.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/regiondrill/regiondrill/internal/load"
)

// result is the JSON line loadbench prints.
type result struct {
	Summary        *load.Summary `json:"summary"`
	WindowShares   []float64     `json:"window_shares"`    // sent in window i / target rate, full windows only
	MinWindowShare float64       `json:"min_window_share"` // worst of WindowShares
	OK             int           `json:"ok"`               // requests answered 2xx
	Failed         int           `json:"failed"`
	P50MS          float64       `json:"p50_ms"` // from scheduled time to end
	P99MS          float64       `json:"p99_ms"`
}

func main() {
	url := flag.String("url", "", "base URL of the target (loopback)")
	rate := flag.Float64("rate", 1000, "target requests per second")
	dur := flag.Duration("duration", 5*time.Second, "length of the schedule")
	workers := flag.Int("workers", 256, "cap on concurrent requests")
	minWorkers := flag.Int("min-workers", 0, "workers started before the first request (a fixed concurrency when equal to -workers)")
	sessions := flag.Int("sessions", 32, "logical sessions")
	seed := flag.Int64("seed", 1, "the generator's seed (an agent given seed s runs with s*1000+its index)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run here")
	flag.Parse()
	if err := profiled(*cpuProfile, func() error { return run(*url, *rate, *dur, *workers, *minWorkers, *sessions, *seed) }); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// profiled runs f under the CPU profiler when path is set.
func profiled(path string, f func() error) error {
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return fmt.Errorf("cpu profile: %w", err)
	}
	ferr := f()
	pprof.StopCPUProfile()
	if err := out.Close(); err != nil && ferr == nil {
		ferr = fmt.Errorf("cpu profile: %w", err)
	}
	return ferr
}

func run(url string, rate float64, dur time.Duration, workers, minWorkers, sessions int, seed int64) error {
	g, err := load.New(load.Config{URL: url, Rate: rate, Duration: dur, Sessions: sessions,
		MaxWorkers: workers, MinWorkers: minWorkers, Timeout: 5 * time.Second, Grace: 2 * time.Second, Seed: seed})
	if err != nil {
		return fmt.Errorf("generator: %w", err)
	}
	rec := load.NewRecorder()
	sum, err := g.Run(context.Background(), rec)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	res := result{Summary: sum, MinWindowShare: math.Inf(1)}
	wins := int(dur / time.Second)
	sent := make([]int, wins)
	var lat []int64
	for _, r := range rec.Records() {
		if r.Kind == load.KindToken {
			continue
		}
		if w := int(r.Start / int64(time.Second)); w >= 0 && w < wins {
			sent[w]++
		}
		if r.Err == load.ErrNone && r.Status >= 200 && r.Status < 300 {
			res.OK++
			lat = append(lat, r.Latency())
		} else {
			res.Failed++
		}
	}
	for _, n := range sent {
		s := float64(n) / rate
		res.WindowShares = append(res.WindowShares, math.Round(s*10000)/10000)
		res.MinWindowShare = math.Min(res.MinWindowShare, s)
	}
	if wins == 0 {
		res.MinWindowShare = 0
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50MS = float64(lat[len(lat)/2]) / 1e6
		res.P99MS = float64(lat[min(len(lat)-1, len(lat)*99/100)]) / 1e6
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
