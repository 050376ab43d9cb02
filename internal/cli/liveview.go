package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/live"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// liveView is the --serve page of a run: bound before the drill starts,
// attached to the journal, finished with the verdict.
type liveView struct {
	ln       net.Listener
	token    string
	linger   time.Duration
	feed     *live.Feed
	done     chan error
	once     sync.Once
	finished bool
}

// listenLive binds the live view's address, or returns nil without --serve.
func (o *runOutputs) listenLive() (*liveView, error) {
	if o.serve == "" {
		return nil, nil
	}
	ln, err := live.Listen(o.serve)
	if err != nil {
		return nil, Usage(fmt.Errorf("--serve: %w", err))
	}
	tok := o.serveToken
	if tok == "" {
		tok = live.NewToken()
	}
	return &liveView{ln: ln, token: tok, linger: o.serveLinger, done: make(chan error, 1)}, nil
}

// attach serves the view, fed by the journal; the returned context is
// canceled when the view's stop button is used with the token (the drill
// then undoes everything and exits 3, as on Ctrl-C).
func (v *liveView) attach(ctx context.Context, jw *journal.Writer, stderr io.Writer, title, report string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if v == nil {
		return ctx, cancel
	}
	v.feed = live.NewFeed(title)
	jw.Subscribe(v.feed.Observe)
	srv := live.NewServer(v.feed, v.token, cancel, report)
	go func() { v.done <- srv.Serve(v.ln) }()
	fmt.Fprintf(stderr, "live view: http://%s/ (token to stop the drill from the page: %s)\n", v.ln.Addr(), v.token)
	return ctx, cancel
}

// finish shows the verdict on the page.
func (v *liveView) finish(rep *verdict.Report) {
	if v == nil || v.feed == nil {
		return
	}
	v.feed.Finish(rep, "/report")
	v.finished = true
}

// close keeps serving for --serve-linger once a verdict is shown, then
// closes the listener.
func (v *liveView) close() {
	if v == nil {
		return
	}
	v.once.Do(func() {
		if v.finished {
			time.Sleep(v.linger)
		}
		v.ln.Close()
	})
}
