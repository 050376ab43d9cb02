package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/regiondrill/regiondrill/internal/plan"
)

// errPlanTooLarge is a plan document past plan.MaxSize.
var errPlanTooLarge = fmt.Errorf("larger than the limit of %d bytes (1 MiB)", plan.MaxSize)

// readPlan reads a plan document from a regular file, or from stdin when
// path is "-", never more than plan.MaxSize bytes. Anything else (a device
// such as /dev/zero, a FIFO, a directory) is refused before it is read: a
// FIFO is opened without blocking and checked first. Reading stdin stops
// when ctx ends (an interrupt), whatever feeds it.
func readPlan(ctx context.Context, path string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file (%s): give a plan file, or - for stdin", path, st.Mode().Type())
		}
		r = f
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(r, plan.MaxSize+1))
		done <- result{b, err}
	}()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: reading the plan: %w", path, ctx.Err())
	case res := <-done:
		if res.err != nil {
			return nil, res.err
		}
		if len(res.b) > plan.MaxSize {
			return nil, fmt.Errorf("%s: %w", path, errPlanTooLarge)
		}
		return res.b, nil
	}
}

// loadPlan reads and validates a plan; every problem exits 2.
func loadPlan(ctx context.Context, path string, stdin io.Reader) (*plan.Plan, []byte, error) {
	data, err := readPlan(ctx, path, stdin)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, nil, Exit(ExitAborted, err)
		}
		return nil, nil, Usage(err)
	}
	p, err := plan.Parse(data, path)
	if err != nil {
		return nil, nil, Usage(fmt.Errorf("%s: %w", path, err))
	}
	return p, data, nil
}
