package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/regiondrill/regiondrill/internal/compare"
	"github.com/regiondrill/regiondrill/internal/manifest"
	"github.com/regiondrill/regiondrill/internal/openmetrics"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// runOutputs are what `run` does with a result besides the evidence bundle:
// metrics for Prometheus, the history record and the regression gate.
type runOutputs struct {
	metricsOut    string
	metricsFormat string
	pushgateway   string
	history       string
	noHistory     bool
	compareTo     string
	serve         string
	serveToken    string
	serveLinger   time.Duration
}

func (o *runOutputs) flags(f *pflag.FlagSet) {
	f.StringVar(&o.metricsOut, "metrics-out", "", "write the results as metrics to this file, for node_exporter's textfile collector")
	f.StringVar(&o.metricsFormat, "metrics-format", string(openmetrics.OpenMetrics), "format of --metrics-out: openmetrics or prometheus (the classic text format)")
	f.StringVar(&o.pushgateway, "pushgateway", "", "push the results to this Prometheus Pushgateway URL (job regiondrill, grouped by plan and deployment)")
	historyFlag(f, &o.history)
	f.BoolVar(&o.noHistory, "no-history", false, "do not record the run in the history")
	f.StringVar(&o.serve, "serve", "", "serve a live view of the drill at this address (a port or :port binds 127.0.0.1; name a host to bind it)")
	f.StringVar(&o.serveToken, "serve-token", "", "token the live view asks for before it stops the drill (default: random, printed)")
	f.DurationVar(&o.serveLinger, "serve-linger", 0, "keep the live view up this long after the verdict")
	f.StringVar(&o.compareTo, "compare-to", "", "after the run, compare it with last-pass (from the history), an evidence directory, a report.json or a history id; a regression exits 1")
}

// check refuses bad values before the drill starts rather than after it.
func (o *runOutputs) check() error {
	switch openmetrics.Format(o.metricsFormat) {
	case openmetrics.OpenMetrics, openmetrics.Prometheus:
	default:
		return Usage(fmt.Errorf("--metrics-format: %q is neither openmetrics nor prometheus", o.metricsFormat))
	}
	if o.compareTo == "" || o.compareTo == "last-pass" {
		if o.compareTo != "" && o.noHistory {
			return Usage(fmt.Errorf("--compare-to last-pass needs the history; drop --no-history"))
		}
		return nil
	}
	if _, err := os.Stat(o.compareTo); err == nil {
		return nil
	}
	if _, err := strconv.ParseInt(o.compareTo, 10, 64); err != nil {
		return Usage(fmt.Errorf("--compare-to: %s is not last-pass, an evidence directory, a report.json or a history id", o.compareTo))
	}
	return nil
}

// beforeSeal writes what goes into files (the metrics textfile), so that a
// file put inside the evidence directory is sealed with it.
func (o *runOutputs) beforeSeal(stderr io.Writer, rep *verdict.Report) {
	if o.metricsOut == "" {
		return
	}
	res, err := metricsResult(rep)
	if err == nil {
		err = openmetrics.WriteFile(o.metricsOut, res, openmetrics.Format(o.metricsFormat))
	}
	if err != nil {
		fmt.Fprintf(stderr, "regiondrill: warning: metrics not written: %v\n", err)
	}
}

func metricsResult(rep *verdict.Report) (openmetrics.Result, error) {
	h, err := manifest.PlanHash(rep.Plan)
	if err != nil {
		return openmetrics.Result{}, err
	}
	k, err := plan.Key(rep.Plan)
	return openmetrics.Result{Report: rep, PlanSHA256: h, PlanKey: k, ToolVersion: toolVersion()}, err
}

// afterSeal pushes the metrics, records the sealed bundle in the history and
// runs the regression gate. Failing to push or record is a warning: the
// drill's verdict stands. The returned error is the gate's.
func (o *runOutputs) afterSeal(ctx context.Context, stdout, stderr io.Writer, out string, rep *verdict.Report) error {
	// An interrupted run is still pushed and recorded, within a bound.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if o.pushgateway != "" {
		res, err := metricsResult(rep)
		if err == nil {
			err = openmetrics.Push(ctx, o.pushgateway, res, nil)
		}
		if err != nil {
			fmt.Fprintf(stderr, "regiondrill: warning: %v\n", err)
		}
	}
	stores := &lazyStore{flag: o.history}
	defer stores.close()
	if !o.noHistory {
		id, err := recordBundle(ctx, stores, out)
		if err != nil {
			fmt.Fprintf(stderr, "regiondrill: warning: not recorded in the history: %v\n", err)
		} else {
			fmt.Fprintf(stdout, "history: run %d in %s\n", id, stores.s.Where())
		}
	}
	switch o.compareTo {
	case "":
		return nil
	case "last-pass":
		fmt.Fprintln(stdout)
		return compareToLastPass(ctx, stdout, stores, out, rep, compareOutput{})
	}
	label, old, err := resolveRun(ctx, o.compareTo, stores)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	return writeComparison(stdout, compare.Compare(label, old, out, rep), compareOutput{})
}
