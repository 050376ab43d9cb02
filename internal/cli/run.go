package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/drill"
	"github.com/regiondrill/regiondrill/internal/embed"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/judge"
	"github.com/regiondrill/regiondrill/internal/kind"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/probe"
	"github.com/regiondrill/regiondrill/internal/report"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

func init() {
	commands = append(commands, newRunCmd, newValidateCmd, newSchemaCmd, newReportCmd)
}

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate PLAN",
		Short: "Check a drill plan without touching anything",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, _, err := loadPlan(cmd.Context(), args[0], cmd.InOrStdin())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n%s\n", args[0], p.Summary())
			return nil
		},
	}
}

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of drill plans (generated from the code)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := plan.Schema()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(b, '\n'))
			return err
		},
	}
}

func newReportCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "report JOURNAL",
		Short: "Rebuild report.html, report.json, junit.xml and samples.csv from a journal",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := judgeFile(args[0])
			if err != nil {
				return Usage(err)
			}
			if out == "" {
				out = filepath.Dir(args[0])
			}
			if err := report.WriteAll(out, rep); err != nil {
				return Exit(ExitAborted, err)
			}
			if err := sealBundle(out); err != nil {
				return Exit(ExitAborted, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "verdict %s; report in %s\n", rep.Verdict, out)
			if st, err := os.Stat(args[0]); err == nil && st.Mode().IsRegular() {
				f, err := os.Open(args[0])
				if err == nil && !journal.Sealed(f) {
					fmt.Fprintf(cmd.OutOrStdout(), "note: %s is unsealed (no hash chain and seal: written by an older regiondrill, or not by regiondrill); a report does not need the seal, rollback does\n", args[0])
				}
				if f != nil {
					f.Close()
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "output directory (default: the journal's directory)")
	return cmd
}

func newRunCmd() *cobra.Command {
	var (
		out     string
		drills  []string
		dryRun  bool
		verbose bool
		outputs runOutputs
	)
	cmd := &cobra.Command{
		Use:   "run PLAN",
		Short: "Run a drill plan and write its evidence",
		Long: `Run the plan's drills as the seven-step runbook. Without targets in the plan,
the built-in lab is started in-process from the plan's regions.

Exit codes: 0 every acceptance target held; 1 a target or the gate failed, a
failure was diagnosed, or a target lacked its evidence (inconclusive);
2 invalid plan or usage; 3 aborted (interrupt, internal error).`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, raw, err := loadPlan(cmd.Context(), args[0], cmd.InOrStdin())
			if err != nil {
				return err
			}
			if len(drills) > 0 {
				var ds []plan.DrillKind
				for _, d := range drills {
					for _, part := range splitList(d) {
						info, ok := plan.LookupDrill(part)
						if !ok {
							return Usage(fmt.Errorf("--drill: unknown drill %q (a letter or a name)", part))
						}
						ds = append(ds, info.Kind)
					}
				}
				p.Drills = ds
			}
			if err := outputs.check(); err != nil {
				return err
			}
			if dryRun {
				printDryRun(cmd.OutOrStdout(), p)
				if p.Agents != nil {
					return printAgents(cmd.Context(), cmd.OutOrStdout(), p)
				}
				return nil
			}
			planJSON, err := json.Marshal(withoutSecrets(p))
			if err != nil {
				return Exit(ExitAborted, err)
			}
			_ = raw
			logger := slog.New(slog.DiscardHandler)
			if verbose {
				secrets := planSecrets(p)
				if t := p.Targets; t != nil {
					secrets = append(secrets, os.Getenv(t.TokenEnv))
				}
				logger = slog.New(slog.NewTextHandler(&redactWriter{w: cmd.ErrOrStderr(), secrets: secrets}, nil))
			}
			return runPlan(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), p, planJSON, out, logger, &outputs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "output directory for the evidence (default: out/drill-<time>)")
	f.StringArrayVar(&drills, "drill", nil, "drill(s) to run, letters or names, overriding the plan (repeatable, comma-separated)")
	f.BoolVar(&dryRun, "dry-run", false, "print what would be done, step by step, and change nothing")
	f.BoolVarP(&verbose, "verbose", "v", false, "log to stderr")
	outputs.flags(f)
	return cmd
}

func runPlan(ctx context.Context, stdout, stderr io.Writer, p *plan.Plan, planJSON []byte, out string, logger *slog.Logger, outputs *runOutputs) error {
	if out == "" {
		out = filepath.Join("out", "drill-"+time.Now().UTC().Format("20060102-150405"))
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return Exit(ExitAborted, err)
	}
	liveView, err := outputs.listenLive() // bound before anything starts
	if err != nil {
		return err
	}
	defer liveView.close()
	kb, err := corpus.Load()
	if err != nil {
		return Exit(ExitAborted, err)
	}
	var emb embed.Embedder = embed.NewHash(embed.DefaultHashOptions)
	if p.Lab.Embedder.Kind == "openai" {
		emb = &embed.OpenAI{BaseURL: p.Lab.Embedder.URL, Model: p.Lab.Embedder.Model}
	}
	traffic, closeTraffic, err := planTraffic(ctx, p, stderr, logger)
	if err != nil {
		return err
	}
	defer closeTraffic()
	var tgt *adapter.HTTP
	label := "lab"
	if p.UsesLab() {
		l, err := startPlanLab(ctx, p, emb, logger, stderr)
		if err != nil {
			return err
		}
		defer l.Close()
		tgt = adapter.New(labEndpoints(l))
	} else {
		if tgt, label, err = planTarget(p); err == nil {
			err = needToken(p, tgt)
		}
		if err != nil {
			return Usage(err)
		}
	}
	key, err := journal.LoadKey("")
	if err != nil {
		return Exit(ExitAborted, err)
	}
	secrets := append(planSecrets(p), tgt.Endpoints().Token)
	jw, err := journal.Create(filepath.Join(out, "journal.jsonl"), time.Now(), time.Now, journal.SealWith(key), journal.Redact(secrets...))
	if err != nil {
		return Exit(ExitAborted, err)
	}
	view := newView(stderr)
	jw.Subscribe(view.observe)
	ctx, stopDrill := liveView.attach(ctx, jw, stderr, p.Summary(), filepath.Join(out, "report.html"))
	defer stopDrill()
	host, _ := os.Hostname()
	owner := fmt.Sprintf("regiondrill pid %d on %s, evidence in %s", os.Getpid(), host, out)
	// ΔS is measured with a ruler independent of the embedder the regions
	// rank with: LSA learned from the corpus.
	ruler, err := probe.Ruler(kb)
	if err != nil {
		_ = jw.Close()
		return Exit(ExitAborted, err)
	}
	eng := drill.New(drill.Options{Plan: p, PlanJSON: planJSON, Target: tgt, Journal: jw, Corpus: kb, Embedder: ruler, Logger: logger, Label: label, Owner: owner, Traffic: traffic})
	runErr := redactErr(eng.Run(ctx), secrets)
	view.close()
	if errors.Is(runErr, adapter.ErrLocked) {
		_ = jw.Close()
		return Exit(ExitAborted, fmt.Errorf("refused: %w", runErr))
	}
	if err := jw.Close(); err != nil {
		return Exit(ExitAborted, err)
	}
	rep, err := judgeFile(filepath.Join(out, "journal.jsonl"))
	if err != nil {
		return Exit(ExitAborted, fmt.Errorf("judge: %w", err))
	}
	if err := report.WriteAll(out, rep); err != nil {
		return Exit(ExitAborted, err)
	}
	outputs.beforeSeal(stderr, rep)
	if err := sealBundle(out); err != nil {
		return Exit(ExitAborted, err)
	}
	printSummary(stdout, rep, out)
	liveView.finish(rep)
	gate := outputs.afterSeal(ctx, stdout, stderr, out, rep)
	switch {
	case errors.Is(runErr, drill.ErrInterrupted):
		return Exit(ExitAborted, errors.New("interrupted: every change was undone"))
	case errors.Is(runErr, drill.ErrGate), errors.Is(runErr, drill.ErrStopped), errors.Is(runErr, drill.ErrDrillFailed):
		return Exit(ExitFail, runErr)
	case runErr != nil:
		return Exit(ExitAborted, runErr)
	case rep.Verdict != verdict.Pass:
		return Exit(ExitFail, nil)
	}
	return gate
}

func printSummary(w io.Writer, rep *verdict.Report, out string) {
	fmt.Fprintf(w, "\nverdict: %s", strings.ToUpper(string(rep.Verdict)))
	if rep.Reason != "" {
		fmt.Fprintf(w, " (%s)", rep.Reason)
	}
	fmt.Fprintln(w)
	for _, t := range rep.Acceptance {
		mark := "ok  "
		switch {
		case t.Status == verdict.StatusInconclusive:
			mark = "INC "
		case !t.Pass:
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %s %-18s %-22v target %s\n", mark, t.Drill, report.TargetName(t), t.Value, t.Target)
		if t.Missing != "" {
			fmt.Fprintf(w, "         missing: %s\n", t.Missing)
		}
	}
	printVantages(w, rep)
	for _, d := range rep.Diagnoses {
		fmt.Fprintf(w, "\ndiagnosis: %s (%s)\n", d.Title, d.ID)
		for _, e := range d.Evidence {
			fmt.Fprintf(w, "  - %s\n", e)
		}
		fmt.Fprintf(w, "  fix: %s\n", d.Fix)
	}
	fmt.Fprintf(w, "\nwrites: %d attempted, %d acknowledged, %d ok, %d lost, %d duplicates, %d indeterminate\n",
		rep.Writes.Attempted, rep.Writes.Acknowledged, rep.Writes.OK, rep.Writes.Lost, rep.Writes.Duplicates, rep.Writes.Indeterminate)
	fmt.Fprintf(w, "evidence: %s (report.html, report.json, junit.xml, journal.jsonl, samples.csv, manifest.json)\n", out)
}

func printDryRun(w io.Writer, p *plan.Plan) {
	fmt.Fprintf(w, "dry run: nothing will be changed\n\n%s\n\n", p.Summary())
	target := "the built-in lab (" + strings.Join(p.Regions, ", ") + ")"
	if !p.UsesLab() {
		target = "the plan's targets"
	}
	fmt.Fprintf(w, "target: %s; load %.0f req/s, %.0f%% writes\n", target, p.Load.RateRPS, p.Load.WriteRatio*100)
	for _, d := range p.DrillList() {
		k, ok := kind.Lookup(string(d))
		if !ok {
			continue // validation refused it already
		}
		info := k.Info()
		fmt.Fprintf(w, "\ndrill %s: %s\n", info.Letter, info.Description)
		for i, s := range k.Runbook() {
			fmt.Fprintf(w, "  %s: %s\n", event.Steps[i], s.Says(p))
		}
	}
}

// judgeMemoryLimit is the soft heap limit while a journal is judged, unless
// GOMEMLIMIT is set: a large run's data (a million requests is about 300 MB
// decoded) then costs more collections instead of twice its size in garbage.
const judgeMemoryLimit = 450 << 20

// judgeFile builds the report from a journal file, streaming it.
func judgeFile(path string) (*verdict.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(judgeMemoryLimit))
	}
	rep, err := judge.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}
