package load_test

import (
	"context"
	"github.com/regiondrill/regiondrill/internal/stall"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/load"
)

// oneProc runs the test with GOMAXPROCS=1, where a worker woken for a job
// has not run yet when the schedule loop hands out the next one.
func oneProc(t *testing.T) {
	t.Helper()
	old := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

// runUnstalled runs cfg until a run saw no stall of the test process (the
// monitor the drill uses, internal/stall), at most three times: the
// workers and the windows of a process the machine did not run for a
// while say nothing of the generator's own logic.
func runUnstalled(t *testing.T, cfg load.Config) *load.Summary {
	t.Helper()
	for attempt := 1; ; attempt++ {
		var stalled atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		m := &stall.Monitor{OnStall: func(span time.Duration) { stalled.Add(int64(span)) }}
		done := make(chan struct{})
		go func() { defer close(done); m.Run(ctx) }()
		_, sum, _ := run(t, cfg)
		cancel()
		<-done
		if stalled.Load() == 0 || attempt == 3 {
			return sum
		}
		t.Logf("run %d: the process stalled for %v in all; running again", attempt, time.Duration(stalled.Load()))
	}
}

// A fast target needs few concurrent requests: the workers must stay near
// that, not climb towards the cap, and every 1 s window gets its slots.
func TestWorkersTrackConcurrencyFastTarget(t *testing.T) {
	oneProc(t)
	url := serve(t, &region{})
	sum := runUnstalled(t, load.Config{URL: url, Rate: fastRate, Duration: 2 * time.Second, Sessions: 8, MaxWorkers: 2000})
	if sum.Workers > 100 {
		t.Errorf("%d workers for %d req/s against a fast local target; want about rate x latency: %+v", sum.Workers, fastRate, sum)
	}
	if sum.WindowsBelow99 != 0 || sum.Sent != sum.Scheduled {
		t.Errorf("windows below 99%%: %d, sent %d of %d: %+v", sum.WindowsBelow99, sum.Sent, sum.Scheduled, sum)
	}
}

// A slow target needs rate x latency concurrent requests (200/s x 50ms =
// 10): the generator must start about that many, not the cap, and keep the
// schedule.
func TestWorkersTrackConcurrencySlowTarget(t *testing.T) {
	oneProc(t)
	url := serve(t, &region{hook: func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/ask" {
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}})
	sum := runUnstalled(t, load.Config{URL: url, Rate: 200, Duration: time.Second, Sessions: 4, MaxWorkers: 1000})
	if sum.Workers < 8 || sum.Workers > 100 {
		t.Errorf("%d workers for 200 req/s x 50 ms; want near 10: %+v", sum.Workers, sum)
	}
	if sum.WindowsBelow99 != 0 || sum.Sent != sum.Scheduled {
		t.Errorf("a slow target with room under the cap must not hold back the schedule: %+v", sum)
	}
}

// A request that hangs past Timeout ends as a timeout, not before; the
// worker's next request gets a fresh context and succeeds.
func TestTimeoutThenNextRequestSucceeds(t *testing.T) {
	var first atomic.Bool
	url := serve(t, &region{hook: func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/ask" && first.CompareAndSwap(false, true) {
			<-r.Context().Done()
			return true
		}
		return false
	}})
	timeout := 100 * time.Millisecond
	_, _, rec := run(t, load.Config{URL: url, Rate: 5, Duration: 600 * time.Millisecond, MaxWorkers: 1, Timeout: timeout})
	var asks []load.Record
	for _, r := range rec.Records() {
		if r.Kind == load.KindAsk {
			asks = append(asks, r)
		}
	}
	if len(asks) != 3 {
		t.Fatalf("%d asks, want 3", len(asks))
	}
	if a := asks[0]; a.Err != load.ErrTimeout || a.End-a.Start < int64(timeout) {
		t.Errorf("hung ask: class %v after %v; want timeout after >= %v", a.Err, time.Duration(a.End-a.Start), timeout)
	}
	for _, a := range asks[1:] {
		if a.Err != load.ErrNone || a.Status != 200 {
			t.Errorf("ask after the timeout on the same worker: %+v", a)
		}
	}
}

// MinWorkers starts that many workers before the first request (a fixed
// concurrency, as wrk's connections): a slow schedule that one worker
// would carry still has them all, and no more.
func TestMinWorkersStartUpFront(t *testing.T) {
	url := serve(t, &region{})
	_, sum, _ := run(t, load.Config{URL: url, Rate: 20, Duration: 300 * time.Millisecond, MinWorkers: 16, MaxWorkers: 64})
	if sum.Workers != 16 {
		t.Errorf("%d workers, want the 16 started up front (20 req/s needs one)", sum.Workers)
	}
	if sum.Sent != sum.Scheduled || sum.Completed != sum.Sent {
		t.Errorf("with workers up front the schedule still goes out whole: %+v", sum)
	}
	_, plain, _ := run(t, load.Config{URL: url, Rate: 20, Duration: 300 * time.Millisecond, MaxWorkers: 64})
	if plain.Workers >= 16 {
		t.Errorf("without MinWorkers the same schedule started %d workers; the test proves nothing", plain.Workers)
	}
	if _, err := load.New(load.Config{URL: url, Rate: 1, Duration: time.Second, MinWorkers: 9, MaxWorkers: 8}); err == nil ||
		!strings.Contains(err.Error(), "min workers 9 above max workers 8") {
		t.Errorf("MinWorkers above MaxWorkers: %v", err)
	}
}
