package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/embed"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/regiondrill/regiondrill/internal/lab"
	"github.com/regiondrill/regiondrill/internal/lab/edge"
	"github.com/regiondrill/regiondrill/internal/plan"
)

func init() { commands = append(commands, newLabCmd) }

func newLabCmd() *cobra.Command {
	var (
		regions    string
		primary    string
		misconf    []string
		dataDir    string
		edgeAddr   string
		routing    string
		hysteresis time.Duration
		natsURL    string
		natsAuth   plan.NATSAuth
		asJSON     bool
		verbose    bool
	)
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Start the built-in multi-region lab and keep it running until interrupted",
		Long: `Start the built-in lab on 127.0.0.1: one HTTP service per region (RAG index,
durable idempotent write path on embedded NATS JetStream, answer cache,
serverless instance pool, key ring), a global dedupe ledger, a webhook sink,
a toxiproxy proxy on every region's ingress and egress, and the edge router.

Misconfigurations (--misconfigure NAME, repeatable) build one of the page's
typical failures into the lab:
` + misconfigHelp(),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names := splitList(regions)
			if len(names) < 2 {
				return Usage(fmt.Errorf("--regions: at least two regions are needed, got %q", regions))
			}
			mis, err := lab.ParseMisconfigs(misconf)
			if err != nil {
				return Usage(fmt.Errorf("--misconfigure: %w", err))
			}
			mode := edge.Mode(routing)
			if !mode.Valid() {
				return Usage(fmt.Errorf("--routing: %q is not weights or latency", routing))
			}
			logger := slog.New(slog.DiscardHandler)
			if verbose {
				logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			}
			creds, err := natsCredentials("--nats", natsAuth)
			if err != nil {
				return Usage(err)
			}
			start := time.Now()
			l, err := lab.Start(cmd.Context(), lab.Config{
				Regions: names, Primary: primary, Misconfigure: mis, DataDir: dataDir,
				EdgeAddr: edgeAddr, Routing: mode, Hysteresis: hysteresis, NATSURL: natsURL, NATSAuth: creds, Logger: logger,
			})
			if err != nil {
				return Exit(ExitAborted, err)
			}
			defer l.Close()
			ep := l.Endpoints()
			out := cmd.OutOrStdout()
			if asJSON {
				_ = json.NewEncoder(out).Encode(ep)
			} else {
				printEndpoints(out, ep, time.Since(start))
			}
			<-cmd.Context().Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "stopping the lab")
			if err := l.Close(); err != nil {
				return Exit(ExitAborted, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&regions, "regions", "us-east,eu-west", "comma-separated region names (2 or more)")
	f.StringVar(&primary, "primary", "", "region that takes writes first (default: the first region)")
	f.StringArrayVar(&misconf, "misconfigure", nil, "build a typical failure into the lab (repeatable)")
	f.StringVar(&dataDir, "data-dir", "", "data directory (default: a temporary one, removed on exit)")
	f.StringVar(&edgeAddr, "edge-addr", "127.0.0.1:0", "address of the edge router")
	f.StringVar(&routing, "routing", "latency", "edge routing mode: weights or latency")
	f.DurationVar(&hysteresis, "hysteresis", 30*time.Second, "time a region must be healthy before it returns to rotation")
	f.StringVar(&natsURL, "nats-url", "", "external NATS JetStream server for the regions' queues (default: embedded)")
	f.StringVar(&natsAuth.User, "nats-user", "", "user on --nats-url; the password is read from $"+plan.DefaultNATSPasswordEnv)
	f.StringVar(&natsAuth.CredsFile, "nats-creds", "", "NATS credentials file (JWT and nkey seed) for --nats-url")
	f.StringVar(&natsAuth.NKeyFile, "nats-nkey", "", "nkey seed file for --nats-url")
	f.BoolVar(&asJSON, "json", false, "print the endpoints as JSON")
	f.BoolVarP(&verbose, "verbose", "v", false, "log what the lab does to stderr")
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func misconfigHelp() string {
	var b strings.Builder
	for _, m := range lab.Misconfigs() {
		fmt.Fprintf(&b, "  %-24s %s\n", m, m.Describe())
	}
	return b.String()
}

func printEndpoints(w interface{ Write([]byte) (int, error) }, ep lab.Endpoints, took time.Duration) {
	fmt.Fprintf(w, "regiondrill lab ready in %s\n\n", took.Round(time.Millisecond))
	fmt.Fprintf(w, "  edge      %s   (control: %s/_edge/status)\n", ep.Edge, ep.Edge)
	names := make([]string, 0, len(ep.Regions))
	for n := range ep.Regions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  region    %-10s %s   (direct %s)\n", n, ep.Regions[n], ep.Direct[n])
	}
	fmt.Fprintf(w, "  faults    %s/faults\n", ep.Faults)
	fmt.Fprintf(w, "  sink      %s/deliveries\n", ep.Sink)
	fmt.Fprintf(w, "  ledger    %s\n", ep.Ledger)
	fmt.Fprintf(w, "\n  admin token: %s\n\nPress Ctrl-C to stop.\n", ep.Token)
}

// startPlanLab starts the built-in lab a plan runs against (its regions,
// routing, misconfigurations, NATS and data directory). It is the only place
// outside internal/lab that starts one.
func startPlanLab(ctx context.Context, p *plan.Plan, emb embed.Embedder, logger *slog.Logger, stderr io.Writer) (*lab.Lab, error) {
	mis, err := lab.ParseMisconfigs(misconfigNames(p))
	if err != nil {
		return nil, Usage(err)
	}
	creds, err := natsCredentials("$.lab", p.Lab.NATSAuth)
	if err != nil {
		return nil, Usage(err)
	}
	fmt.Fprintf(stderr, "starting the lab: %s\n", strings.Join(p.Regions, ", "))
	l, err := lab.Start(ctx, lab.Config{
		Regions: p.Regions, Primary: p.Primary, Misconfigure: mis, Routing: edge.Mode(p.Routing.Mode), Weights: p.Routing.Weights,
		StickTTL: p.StickTTL(), Hysteresis: p.Hysteresis(), Embedder: emb, NATSURL: p.Lab.NATSURL, NATSAuth: creds,
		DataDir: p.Lab.DataDir, Seed: uint64(p.Seed), Logger: logger,
	})
	if err != nil {
		return nil, Exit(ExitAborted, fmt.Errorf("start the lab: %w", err))
	}
	return l, nil
}

func misconfigNames(p *plan.Plan) []string {
	var out []string
	for _, m := range p.Lab.Misconfigure {
		out = append(out, string(m))
	}
	return out
}

func labEndpoints(l *lab.Lab) adapter.Endpoints {
	ep := l.Endpoints()
	t := adapter.Endpoints{Edge: ep.Edge, Faults: ep.Faults, Sink: ep.Sink, Regions: ep.Regions, Token: ep.Token, Proxies: map[string][]string{}}
	for _, r := range l.Regions() {
		t.Proxies[r] = l.Proxies(r)
	}
	return t
}
