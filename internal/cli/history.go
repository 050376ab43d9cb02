package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/regiondrill/regiondrill/internal/history"
	"github.com/regiondrill/regiondrill/internal/trend"
)

func init() { commands = append(commands, newHistoryCmd) }

// historyFlag adds --history to a command.
func historyFlag(f *pflag.FlagSet, dsn *string) {
	f.StringVar(dsn, "history", "", "history store: postgres://… or a SQLite file (default $REGIONDRILL_HISTORY, else history.db in $REGIONDRILL_STATE_DIR, $XDG_STATE_HOME/regiondrill or ~/.local/state/regiondrill)")
}

// lazyStore opens the history the first time a command needs it.
type lazyStore struct {
	flag string
	s    *history.Store
}

func (l *lazyStore) open(ctx context.Context) (*history.Store, error) {
	if l.s != nil {
		return l.s, nil
	}
	dsn, err := history.Locate(l.flag, os.Getenv)
	if err != nil {
		return nil, err
	}
	s, err := history.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	l.s = s
	return s, nil
}

func (l *lazyStore) close() {
	if l.s != nil {
		l.s.Close()
	}
}

func newHistoryCmd() *cobra.Command {
	var (
		dsn    string
		filter history.Filter
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List recorded drill runs (and record or chart them)",
		Long: `List the drill runs in the history store, oldest first. Every run records
itself (verdict, plan hash, target, tool version, start, duration, each
acceptance target's value and its evidence directory) unless run with
--no-history; only evidence whose manifest verifies is recorded.

The store is an SQLite file in the user's state directory, or a PostgreSQL
database that CI runners share (--history postgres://… or REGIONDRILL_HISTORY).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stores := &lazyStore{flag: dsn}
			defer stores.close()
			s, err := stores.open(cmd.Context())
			if err != nil {
				return Exit(ExitAborted, err)
			}
			runs, err := s.List(cmd.Context(), filter)
			if err != nil {
				return Exit(ExitAborted, err)
			}
			if asJSON {
				if runs == nil {
					runs = []*history.Run{}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(runs)
			}
			return printRuns(cmd.OutOrStdout(), runs, s.Where())
		},
	}
	pf := cmd.PersistentFlags()
	historyFlag(pf, &dsn)
	pf.StringVar(&filter.Target, "target", "", "only runs against this target (lab or the edge URL)")
	pf.StringVar(&filter.Drill, "drill", "", "only runs that included this drill letter")
	pf.StringVar(&filter.Plan, "plan", "", "only runs of this plan key or plan hash (or a prefix of either)")
	pf.IntVar(&filter.Last, "last", 0, "only the newest N runs")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the runs as JSON, with every target's value")
	cmd.AddCommand(newHistoryRecordCmd(&dsn), newTrendCmd(&dsn, &filter))
	return cmd
}

func printRuns(w io.Writer, runs []*history.Run, where string) error {
	if len(runs) == 0 {
		_, err := fmt.Fprintf(w, "no runs recorded in %s\n", where)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tstarted (UTC)\tverdict\tdrills\ttarget\tduration\tplan\tcutover\tfailed\tevidence")
	for _, r := range runs {
		cut := "—"
		if r.Summary.CutoverS != nil {
			cut = fmt.Sprintf("%.3g s", *r.Summary.CutoverS)
		}
		failed := strings.Join(r.Summary.Failed, ", ")
		if failed == "" {
			failed = "—"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.0f s\t%.12s\t%s\t%s\t%s\n", r.ID, r.Started.Format("2006-01-02 15:04:05"),
			strings.ToUpper(string(r.Verdict)), strings.Join(r.Drills, ""), r.Target, r.DurationS, r.PlanKey, cut, failed, r.Bundle)
	}
	return tw.Flush()
}

func newHistoryRecordCmd(dsn *string) *cobra.Command {
	return &cobra.Command{
		Use:   "record DIR",
		Short: "Record an evidence directory in the history (it must verify)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stores := &lazyStore{flag: *dsn}
			defer stores.close()
			id, err := recordBundle(cmd.Context(), stores, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "recorded %s as run %d in %s\n", args[0], id, stores.s.Where())
			return nil
		},
	}
}

// recordBundle verifies an evidence directory and records it; a bundle that
// does not verify exits 1.
func recordBundle(ctx context.Context, stores *lazyStore, dir string) (int64, error) {
	run, _, err := history.FromBundle(dir)
	if err != nil {
		return 0, Exit(ExitFail, err)
	}
	s, err := stores.open(ctx)
	if err != nil {
		return 0, Exit(ExitAborted, err)
	}
	run.ToolVersion = orDefault(run.ToolVersion, toolVersion())
	id, err := s.Record(ctx, run)
	if err != nil {
		return 0, Exit(ExitAborted, err)
	}
	return id, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func newTrendCmd(dsn *string, filter *history.Filter) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "trend --out DIR",
		Short: "Write DIR/trend.html: each target's value over the recorded runs, per drill",
		Long: `Write a self-contained HTML page (inline SVG, no script, no request when
opened) with one chart per drill and numeric acceptance target: the value run
after run, failed runs in red, the threshold dashed, each point linked to its
run's report.html. The history filters (--target, --drill, --plan, --last)
select the runs.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return Usage(fmt.Errorf("history trend: --out DIR is required"))
			}
			stores := &lazyStore{flag: *dsn}
			defer stores.close()
			s, err := stores.open(cmd.Context())
			if err != nil {
				return Exit(ExitAborted, err)
			}
			runs, err := s.List(cmd.Context(), *filter)
			if err != nil {
				return Exit(ExitAborted, err)
			}
			path, err := trend.WriteDir(out, runs, describeFilter(*filter))
			if err != nil {
				return Exit(ExitAborted, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d runs charted in %s\n", len(runs), path)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write trend.html into")
	return cmd
}

func describeFilter(f history.Filter) string {
	var parts []string
	if f.Target != "" {
		parts = append(parts, "target "+f.Target)
	}
	if f.Drill != "" {
		parts = append(parts, "drill "+strings.ToUpper(f.Drill))
	}
	if f.Plan != "" {
		parts = append(parts, "plan "+f.Plan)
	}
	if f.Last > 0 {
		parts = append(parts, fmt.Sprintf("last %d runs", f.Last))
	}
	return strings.Join(parts, ", ")
}
