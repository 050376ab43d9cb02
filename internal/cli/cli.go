// Package cli is regiondrill's command line: it parses flags, calls the
// packages that do the work, and maps their errors to exit codes in one place.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitPass    = 0 // every acceptance target held
	ExitFail    = 1 // a target or a gate failed
	ExitInvalid = 2 // invalid plan or usage
	ExitAborted = 3 // aborted (interrupt, stop) or internal error
)

// usageError marks errors that exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Usage wraps err so that it exits with ExitInvalid.
func Usage(err error) error { return usageError{err} }

// exitError carries an explicit exit code.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e exitError) Unwrap() error { return e.err }

// Exit returns an error that makes the command exit with code.
func Exit(code int, err error) error { return exitError{code, err} }

// Run executes the command line and returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return exitCode(err, stderr)
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return ExitPass
	}
	var ee exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "regiondrill:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "regiondrill:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return ExitInvalid
	}
	if errors.Is(err, context.Canceled) {
		return ExitAborted
	}
	return ExitAborted
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "regiondrill",
		Short: "Region failover drills for multi-region serverless/edge RAG services",
		Long: `regiondrill runs region failover drills (planned evacuation, hard outage,
index skew recovery, webhook reroute, return-to-home) against a real target or
its own built-in multi-region lab, measures from the client's side, and writes
evidence: report.html, report.json, junit.xml and journal.jsonl.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return Usage(err) })
	root.Args = cobra.ArbitraryArgs
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return Usage(fmt.Errorf("unknown command %q for regiondrill (see regiondrill --help)", args[0]))
		}
		return cmd.Help()
	}
	for _, add := range commands {
		root.AddCommand(add())
	}
	return root
}

// commands is the registry of subcommands; each file adds its own.
var commands []func() *cobra.Command

// exactArgs is cobra.ExactArgs whose error exits 2.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return Usage(fmt.Errorf("%s: %w", cmd.CommandPath(), err))
		}
		return nil
	}
}

// noArgs is cobra.NoArgs whose error exits 2.
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return Usage(fmt.Errorf("%s: %w", cmd.CommandPath(), err))
	}
	return nil
}
