package load

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errTimedOut is the cause a worker's context is canceled with when its
// request runs past Config.Timeout.
var errTimedOut = errors.New("load: request timed out")

// worker is one worker goroutine's state. Its requests share one context,
// canceled only when one of them times out (then replaced) or the run
// ends, so a request costs no context or timer of its own; a single
// watchdog enforces the timeout instead.
type worker struct {
	buf []byte // response body scratch

	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelCauseFunc
	due    time.Duration // when the request in flight times out; 0 when idle
}

// begin marks a request leaving at start (since the run began) and returns
// the context to send it with.
func (w *worker) begin(g *Generator, start time.Duration) context.Context {
	w.mu.Lock()
	if w.ctx == nil || w.ctx.Err() != nil {
		w.ctx, w.cancel = context.WithCancelCause(g.reqCtx)
	}
	w.due = start + g.cfg.Timeout
	ctx := w.ctx
	w.mu.Unlock()
	return ctx
}

// end marks the request finished: the watchdog leaves the context alone.
func (w *worker) end() {
	w.mu.Lock()
	w.due = 0
	w.mu.Unlock()
}

// expire cancels the request in flight if it is due by now.
func (w *worker) expire(now time.Duration) {
	w.mu.Lock()
	if w.due != 0 && now >= w.due {
		w.cancel(errTimedOut)
		w.due = 0
	}
	w.mu.Unlock()
}

// timedOut reports whether ctx ended because its request ran out of time.
func timedOut(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errTimedOut) || errors.Is(ctx.Err(), context.DeadlineExceeded)
}

// watchdogTick is how often the watchdog looks: a sixteenth of the timeout,
// within [1ms, 250ms], so a timeout fires at most that late.
func watchdogTick(timeout time.Duration) time.Duration {
	return min(max(timeout/16, time.Millisecond), 250*time.Millisecond)
}

// watchdog times out the workers' requests until stop is closed.
func (g *Generator) watchdog(stop <-chan struct{}) {
	t := time.NewTicker(watchdogTick(g.cfg.Timeout))
	defer t.Stop()
	var ws []*worker
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		g.wlMu.Lock()
		ws = append(ws[:0], g.workerList...)
		g.wlMu.Unlock()
		now := g.elapsed()
		for _, w := range ws {
			w.expire(now)
		}
	}
}
