// Command writebench compares the lab's write path with its peer, raw
// JetStream, in one process and one run (issue 7, goal 4):
//
//   - edge: acknowledged durable writes per second through the edge router
//     (POST /write with an Idempotency-Key, 2xx only after the region's
//     synchronous JetStream publish), with C concurrent clients;
//   - raw: synchronous JetStream publishes per second with a Nats-Msg-Id,
//     C concurrent publishers, to a file-storage stream on the lab's own
//     embedded JetStream server (the global ledger's);
//   - drain: the primary is frozen, takes writes for D seconds, is thawed,
//     and its backlog is timed until it is empty: writes drained per second.
//
// The three alternate, REPS times. The lab runs without its simulated
// per-invocation cost (20 ms) and with enough warm instances for C clients,
// so the figures are the write path's, not the serverless model's. It prints
// one JSON line of medians and ratios. Loopback only, bounded in time.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab"
	"github.com/regiondrill/regiondrill/internal/lab/pool"
)

type result struct {
	Reps          int       `json:"reps"`
	Clients       int       `json:"clients"`
	EdgeWPS       []float64 `json:"edge_writes_per_s"`
	RawPPS        []float64 `json:"raw_publishes_per_s"`
	DrainWPS      []float64 `json:"drain_writes_per_s"`
	Drained       []int     `json:"drained_writes"`
	EdgeMedian    float64   `json:"edge_median"`
	RawMedian     float64   `json:"raw_median"`
	DrainMedian   float64   `json:"drain_median"`
	EdgeOverRaw   float64   `json:"edge_over_raw"`
	DrainOverRaw  float64   `json:"drain_over_raw"`
	EdgeFailures  int64     `json:"edge_failures"`
	RawFailures   int64     `json:"raw_failures"`
	DrainTimedOut bool      `json:"drain_timed_out"`
}

func main() {
	reps := flag.Int("reps", 3, "repetitions of edge, raw and drain")
	dur := flag.Duration("duration", 5*time.Second, "length of each measurement")
	clients := flag.Int("clients", 32, "concurrent writers / publishers")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run here")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(*reps, *dur, *clients); err != nil {
		fmt.Fprintln(os.Stderr, "writebench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(reps int, dur time.Duration, clients int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(reps)*(4*dur+90*time.Second))
	defer cancel()
	l, err := lab.Start(ctx, lab.Config{
		Regions: []string{"us-east", "eu-west"}, Hysteresis: time.Second, NoInvocationCost: true,
		Pool:   pool.Config{MinInstances: clients, Concurrency: 2, ColdStart: 2500 * time.Millisecond, TargetUtil: 0.8},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer l.Close()
	ep := l.Endpoints()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients * 2}, Timeout: 10 * time.Second}
	token, err := sessionToken(ctx, hc, ep.Edge, ep.Token)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(ep.Ledger, l.LedgerAuth().Options()...)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"},
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute}); err != nil {
		return fmt.Errorf("bench stream: %w", err)
	}
	w := &writer{hc: hc, token: token, admin: ep.Token}
	res := result{Reps: reps, Clients: clients}
	for rep := range reps {
		n, fails := w.burst(ctx, ep.Edge, "", dur, clients, fmt.Sprintf("e%d", rep))
		res.EdgeWPS = append(res.EdgeWPS, float64(n)/dur.Seconds())
		res.EdgeFailures += fails
		n, fails = rawBurst(ctx, js, dur, clients, fmt.Sprintf("r%d", rep))
		res.RawPPS = append(res.RawPPS, float64(n)/dur.Seconds())
		res.RawFailures += fails
		drained, secs, err := w.drain(ctx, ep, dur, clients, fmt.Sprintf("d%d", rep))
		if err != nil {
			return err
		}
		if secs < 0 {
			res.DrainTimedOut = true
			continue
		}
		res.Drained = append(res.Drained, drained)
		res.DrainWPS = append(res.DrainWPS, float64(drained)/secs)
	}
	res.EdgeMedian, res.RawMedian, res.DrainMedian = median(res.EdgeWPS), median(res.RawPPS), median(res.DrainWPS)
	if res.RawMedian > 0 {
		res.EdgeOverRaw = round3(res.EdgeMedian / res.RawMedian)
		res.DrainOverRaw = round3(res.DrainMedian / res.RawMedian)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

type writer struct {
	hc           *http.Client
	token, admin string
}

// burst sends writes for d with c clients (to pin: X-Region-Pin) and counts
// the acknowledged ones.
func (w *writer) burst(ctx context.Context, edge, pin string, d time.Duration, c int, tag string) (acked, failed int64) {
	var ok, bad atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range c {
		wg.Go(func() {
			for n := 0; time.Now().Before(end) && ctx.Err() == nil; n++ {
				id := tag + "-" + strconv.Itoa(i) + "-" + strconv.Itoa(n)
				body, _ := json.Marshal(contract.WriteRequest{Tenant: "bench", EventID: id, Rev: 1, Payload: "writebench " + id})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, edge+"/write", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+w.token)
				req.Header.Set(contract.HeaderIdempotencyKey, "bench:"+id+":1")
				if pin != "" {
					req.Header.Set(contract.HeaderRegionPin, pin)
				}
				resp, err := w.hc.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return ok.Load(), bad.Load()
}

// rawBurst publishes synchronously with a Nats-Msg-Id for d with c publishers.
func rawBurst(ctx context.Context, js jetstream.JetStream, d time.Duration, c int, tag string) (acked, failed int64) {
	var ok, bad atomic.Int64
	end := time.Now().Add(d)
	payload := bytes.Repeat([]byte("x"), 96) // about a write request's size
	var wg sync.WaitGroup
	for i := range c {
		wg.Go(func() {
			for n := 0; time.Now().Before(end) && ctx.Err() == nil; n++ {
				id := tag + "-" + strconv.Itoa(i) + "-" + strconv.Itoa(n)
				if _, err := js.Publish(ctx, "bench.w", payload, jetstream.WithMsgID(id)); err != nil {
					bad.Add(1)
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return ok.Load(), bad.Load()
}

// drain freezes the primary, queues writes on it for d, thaws it and times
// its backlog down to zero. secs < 0: it did not drain within a minute.
func (w *writer) drain(ctx context.Context, ep lab.Endpoints, d time.Duration, c int, tag string) (int, float64, error) {
	const primary = "us-east"
	direct := ep.Direct[primary]
	if err := w.freeze(ctx, direct, true); err != nil {
		return 0, 0, err
	}
	acked, _ := w.burst(ctx, ep.Edge, primary, d, c, tag)
	h, err := w.health(ctx, direct)
	if err != nil {
		return 0, 0, err
	}
	queued := h.Queue.Backlog
	if queued == 0 || int64(queued) < acked/2 {
		return 0, 0, fmt.Errorf("frozen primary holds %d of %d acknowledged writes: the freeze did not queue them", queued, acked)
	}
	start := time.Now()
	if err := w.freeze(ctx, direct, false); err != nil {
		return 0, 0, err
	}
	for time.Since(start) < time.Minute {
		h, err := w.health(ctx, direct)
		if err != nil {
			return 0, 0, err
		}
		if h.Queue.Backlog == 0 {
			return queued, time.Since(start).Seconds(), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return queued, -1, nil
}

func (w *writer) freeze(ctx context.Context, base string, on bool) error {
	body, _ := json.Marshal(contract.FreezeRequest{Frozen: on})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/freeze", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+w.admin)
	resp, err := w.hc.Do(req)
	if err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("freeze: status %d", resp.StatusCode)
	}
	return nil
}

func (w *writer) health(ctx context.Context, base string) (*contract.Health, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
	resp, err := w.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	var h contract.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	return &h, nil
}

func sessionToken(ctx context.Context, hc *http.Client, edge, admin string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, edge+"/token", bytes.NewReader([]byte(`{"session":"writebench"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+admin) // tokens are issued to authenticated callers only
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	defer resp.Body.Close()
	var t struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || t.Token == "" {
		return "", errors.New("token: no token in the answer")
	}
	return t.Token, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return round3(s[len(s)/2])
	}
	return round3((s[len(s)/2-1] + s[len(s)/2]) / 2)
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }
