package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/regiondrill/regiondrill/internal/compare"
	"github.com/regiondrill/regiondrill/internal/history"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

func init() { commands = append(commands, newCompareCmd) }

// compareOutput says where a comparison goes besides the table.
type compareOutput struct {
	json  bool
	junit string
}

func newCompareCmd() *cobra.Command {
	var (
		out      compareOutput
		baseline string
		dsn      string
	)
	cmd := &cobra.Command{
		Use:   "compare OLD NEW | compare --baseline last-pass NEW",
		Short: "Compare two runs target by target; exit 1 on a regression",
		Long: `Compare two drill runs, each an evidence directory, a report.json file or a
history id: every acceptance target side by side with its change. The new
run's plan (its regression block, docs/PLAN.md) says how far each target may
grow; a target beyond its tolerance, or one that passed and now fails, is a
regression.

--baseline last-pass takes the old run from the history: the last passing run
of the same plan (by hash) against the same target that started before NEW.
Without one there is nothing to compare and the command says so and exits 0.

Exit codes: 0 no regression; 1 a regression; 2 usage or unreadable input.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if baseline != "" {
				return exactArgs(1)(cmd, args)
			}
			return exactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			stores := &lazyStore{flag: dsn}
			defer stores.close()
			if baseline != "" {
				if baseline != "last-pass" {
					return Usage(fmt.Errorf("--baseline: only last-pass is known, got %q", baseline))
				}
				newLabel, newRep, err := resolveRun(ctx, args[0], stores)
				if err != nil {
					return err
				}
				return compareToLastPass(ctx, cmd.OutOrStdout(), stores, newLabel, newRep, out)
			}
			oldLabel, oldRep, err := resolveRun(ctx, args[0], stores)
			if err != nil {
				return err
			}
			newLabel, newRep, err := resolveRun(ctx, args[1], stores)
			if err != nil {
				return err
			}
			return writeComparison(cmd.OutOrStdout(), compare.Compare(oldLabel, oldRep, newLabel, newRep), out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&baseline, "baseline", "", "take OLD from the history: last-pass")
	f.BoolVar(&out.json, "json", false, "print the comparison as JSON instead of a table")
	f.StringVar(&out.junit, "junit", "", "also write the comparison as JUnit XML to this file")
	historyFlag(f, &dsn)
	return cmd
}

// compareToLastPass compares a run with the last passing run of its plan
// and target before it. No baseline is not an error: the first run of a plan
// has none.
func compareToLastPass(ctx context.Context, w io.Writer, stores *lazyStore, label string, rep *verdict.Report, out compareOutput) error {
	s, err := stores.open(ctx)
	if err != nil {
		return Exit(ExitAborted, err)
	}
	planKey, err := plan.Key(rep.Plan)
	if err != nil {
		return Usage(err)
	}
	base, err := s.LastPass(ctx, planKey, rep.Target, rep.Started)
	if errors.Is(err, history.ErrNotFound) {
		fmt.Fprintf(w, "compare: no baseline: no passing run of plan %.12s against %s before this one in %s; nothing to compare\n", planKey, rep.Target, s.Where())
		return nil
	}
	if err != nil {
		return Exit(ExitAborted, err)
	}
	old, err := compare.Load(base.Bundle)
	if err != nil {
		return Exit(ExitAborted, fmt.Errorf("baseline run %d: %w", base.ID, err))
	}
	return writeComparison(w, compare.Compare(fmt.Sprintf("#%d %s", base.ID, base.Bundle), old, label, rep), out)
}

func writeComparison(w io.Writer, res *compare.Result, out compareOutput) error {
	var err error
	if out.json {
		err = compare.WriteJSON(w, res)
	} else {
		err = compare.WriteText(w, res)
	}
	if err != nil {
		return Exit(ExitAborted, err)
	}
	if out.junit != "" {
		f, err := os.Create(out.junit)
		if err != nil {
			return Exit(ExitAborted, err)
		}
		if err := compare.WriteJUnit(f, res); err != nil {
			f.Close()
			return Exit(ExitAborted, err)
		}
		if err := f.Close(); err != nil {
			return Exit(ExitAborted, err)
		}
	}
	if res.Regressed() {
		return Exit(ExitFail, fmt.Errorf("regression against %s", res.Old.Label))
	}
	return nil
}

// resolveRun reads a run named by an evidence directory, a report.json file
// or a history id.
func resolveRun(ctx context.Context, arg string, stores *lazyStore) (string, *verdict.Report, error) {
	if _, err := os.Stat(arg); err == nil {
		rep, err := compare.Load(arg)
		if err != nil {
			return "", nil, Usage(err)
		}
		return arg, rep, nil
	}
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return "", nil, Usage(fmt.Errorf("%s: neither an evidence directory, a report.json nor a history id", arg))
	}
	s, err := stores.open(ctx)
	if err != nil {
		return "", nil, Exit(ExitAborted, err)
	}
	run, err := s.Get(ctx, id)
	if err != nil {
		return "", nil, Usage(err)
	}
	rep, err := compare.Load(run.Bundle)
	if err != nil {
		return "", nil, Usage(fmt.Errorf("history run %d: %w", id, err))
	}
	return fmt.Sprintf("#%d %s", id, run.Bundle), rep, nil
}
