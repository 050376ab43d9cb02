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
// ends, and one timer, re-armed per request: a request costs no context or
// timer of its own, and its timeout fires on time.
type worker struct {
	buf []byte // response body scratch

	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelCauseFunc
	due     time.Duration // when the request in flight times out; 0 when idle
	elapsed func() time.Duration
	timer   *time.Timer
}

func newWorker(g *Generator) *worker {
	w := &worker{buf: make([]byte, 0, 4096), elapsed: g.elapsed}
	w.timer = time.AfterFunc(time.Hour, w.fire)
	w.timer.Stop()
	return w
}

// begin marks a request leaving at start (since the run began) and returns
// the context to send it with.
func (w *worker) begin(g *Generator, start time.Duration) context.Context {
	w.mu.Lock()
	if w.ctx == nil || w.ctx.Err() != nil {
		w.ctx, w.cancel = context.WithCancelCause(g.reqCtx)
	}
	w.due = start + g.cfg.Timeout
	w.timer.Reset(max(w.due-w.elapsed(), 0))
	ctx := w.ctx
	w.mu.Unlock()
	return ctx
}

// end marks the request finished.
func (w *worker) end() {
	w.mu.Lock()
	w.due = 0
	w.timer.Stop()
	w.mu.Unlock()
}

// fire cancels the request in flight if it is due; a firing that lost the
// race with end (or with the next request's begin) finds nothing due.
func (w *worker) fire() {
	w.mu.Lock()
	if w.due != 0 && w.elapsed() >= w.due {
		w.cancel(errTimedOut)
		w.due = 0
	}
	w.mu.Unlock()
}

// stop releases the timer when the worker exits.
func (w *worker) stop() { w.timer.Stop() }

// timedOut reports whether ctx ended because its request ran out of time.
func timedOut(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errTimedOut) || errors.Is(ctx.Err(), context.DeadlineExceeded)
}
