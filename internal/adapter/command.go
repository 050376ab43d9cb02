package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Command routes through the user's own programs, such as a cloud CLI that
// changes DNS weights. Programs are run directly (argv), never through a
// shell. Its drill lock is the user's own pair of programs (LockArgv,
// UnlockArgv).
type Command struct {
	// Set is run once per region to change; "{region}" and "{weight}" in
	// any argument are replaced. Exit 0 means done.
	Set []string
	// Get prints the current weights as a JSON object {region: weight}.
	Get []string
	// LockArgv takes or renews the drill lock; "{owner}" and "{lease_s}"
	// are replaced. Exit 0 means held; another exit means refused, and its
	// stderr should name the holder.
	LockArgv []string
	// UnlockArgv releases the lock; "{owner}" is replaced.
	UnlockArgv []string
	// Timeout bounds each run; default 30s.
	Timeout time.Duration
}

// maxCommandOutput bounds what is kept of a program's stdout and stderr.
const maxCommandOutput = 1 << 20

// CommandError is a program that failed; Stderr is its (bounded) stderr.
type CommandError struct {
	Argv   []string
	Err    error
	Stderr string
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("command %q: %v", e.Argv, e.Err)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

// Exited reports whether the program ran to its own non-zero exit (it was
// not killed at its timeout nor failed to start).
func (e *CommandError) Exited() bool {
	var ee *exec.ExitError
	return errors.As(e.Err, &ee) && ee.Exited() && !errors.Is(e.Err, context.DeadlineExceeded)
}

// boundedBuffer keeps the first max bytes written and drops the rest.
type boundedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	if b.buf.Len()+len(p) > b.max {
		b.truncated = true
	}
	return len(p), nil
}

func (c *Command) run(ctx context.Context, argv []string) ([]byte, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("command: empty argv")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = time.Second // don't hang on a child that keeps the pipes open
	stdout := &boundedBuffer{max: maxCommandOutput}
	stderr := &boundedBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if ctx.Err() != nil && err != nil {
		err = fmt.Errorf("%w (after %s)", ctx.Err(), timeout)
	}
	if err != nil {
		return nil, &CommandError{Argv: argv, Err: err, Stderr: strings.TrimSpace(stderr.buf.String())}
	}
	if stdout.truncated {
		return nil, &CommandError{Argv: argv, Err: fmt.Errorf("output longer than %d bytes", maxCommandOutput)}
	}
	return stdout.buf.Bytes(), nil
}

// Weights runs Get and decodes its JSON object.
func (c *Command) Weights(ctx context.Context) (map[string]int, error) {
	out, err := c.run(ctx, c.Get)
	if err != nil {
		return nil, err
	}
	var w map[string]int
	if err := json.Unmarshal(out, &w); err != nil {
		return nil, &CommandError{Argv: c.Get, Err: fmt.Errorf("output is not a JSON object {region: weight}: %w", err),
			Stderr: strings.TrimSpace(string(out[:min(len(out), 200)]))}
	}
	if w == nil {
		return nil, &CommandError{Argv: c.Get, Err: errors.New("output is null, want a JSON object {region: weight}")}
	}
	return w, nil
}

// SetWeights runs Set once per region given, raises before cuts. A change
// that would leave no region with weight > 0, or a negative weight, is
// refused before anything runs. When Get is set, unknown regions are refused
// too and the check covers the regions not named.
func (c *Command) SetWeights(ctx context.Context, w map[string]int) error {
	if len(c.Set) == 0 {
		return errors.New("command: no set command")
	}
	cur := map[string]int{}
	if len(c.Get) > 0 {
		var err error
		if cur, err = c.Weights(ctx); err != nil {
			return err
		}
	}
	var errs []error
	for r, v := range w {
		if _, ok := cur[r]; !ok && len(c.Get) > 0 {
			errs = append(errs, fmt.Errorf("command: unknown region %q", r))
		}
		if v < 0 {
			errs = append(errs, fmt.Errorf("command: region %q: negative weight %d", r, v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	names, err := weightOrder(cur, w)
	if err != nil {
		return fmt.Errorf("command: %w", err)
	}
	for _, r := range names {
		argv := expand(c.Set, map[string]string{"{region}": r, "{weight}": strconv.Itoa(w[r])})
		if _, err := c.run(ctx, argv); err != nil {
			return fmt.Errorf("set %s to %d: %w", r, w[r], err)
		}
	}
	return nil
}

// ErrNoServingRegion means a weight change would leave no region with a
// weight above zero; nothing was run.
var ErrNoServingRegion = errors.New("change leaves no region with weight > 0")

// Describe says which program sets the weights.
func (c *Command) Describe() string {
	return fmt.Sprintf("the command %q, once per region", c.Set)
}

var (
	_ Router    = (*Command)(nil)
	_ Describer = (*Command)(nil)
)
