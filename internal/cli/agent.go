package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/regiondrill/regiondrill/internal/agent"
	"github.com/regiondrill/regiondrill/internal/drill"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/judge"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

func init() { commands = append(commands, newAgentCmd) }

func newAgentCmd() *cobra.Command {
	var (
		cfg     agent.Config
		skew    time.Duration
		quiet   bool
		profile string
		floorMB int64
	)
	cmd := &cobra.Command{
		Use:   "agent --nats URL --name NAME [--creds FILE]",
		Short: "Run a load agent: send a drill's load from where this process runs",
		Long: `Run a load agent in a region. It connects to NATS, announces itself every
second (name, version, its clock) and waits for a drill whose plan names it
in agents.vantage_points; it then sends that vantage point's share of the
load to the entry the drill gives it and streams every request record back
through JetStream. It holds no target credentials: everything it needs comes
with the assignment. It stops its load when the drill stops it or when the
drill's lease lapses (the drill died), and keeps running for the next drill
until interrupted.

NATS credentials: --creds (JWT + nkey seed), --nkey (seed file), or
REGIONDRILL_NATS_TOKEN, or REGIONDRILL_NATS_USER and REGIONDRILL_NATS_PASSWORD
from the environment. A tls:// URL (or a server that requires TLS) turns TLS
on; --tls-ca names a private CA. Refused credentials exit 2 at once.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.URL == "" || cfg.Name == "" {
				return Usage(errors.New("agent: --nats and --name are required"))
			}
			cfg.Auth = cfg.Auth.FromEnv("")
			level := slog.LevelInfo
			if quiet {
				level = slog.LevelWarn
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if floorMB < 0 || floorMB > 1<<20 {
				return Usage(fmt.Errorf("agent: --heap-floor-mib %d: want 0 (the runtime's default) to %d", floorMB, 1<<20))
			}
			cfg.HeapFloor = floorMB << 20
			if floorMB == 0 {
				cfg.HeapFloor = -1
			}
			if skew != 0 {
				cfg.Clock = func() time.Time { return time.Now().Add(skew) }
			}
			if profile != "" {
				f, err := os.Create(profile)
				if err != nil {
					return Usage(err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return Usage(err)
				}
				defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
			}
			err := agent.Run(cmd.Context(), cfg)
			switch {
			case errors.Is(err, agent.ErrAuth):
				return Usage(fmt.Errorf("%w; check --creds, --nkey or %s, %s/%s", err, agent.EnvToken, agent.EnvUser, agent.EnvPassword))
			case err != nil:
				return Exit(ExitAborted, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.URL, "nats", os.Getenv("REGIONDRILL_NATS_URL"), "NATS server URL(s), comma-separated (default $REGIONDRILL_NATS_URL)")
	f.StringVar(&cfg.Name, "name", "", "the vantage point this agent serves (plan agents.vantage_points[].name)")
	f.StringVar(&cfg.Auth.Creds, "creds", "", "NATS credentials file (JWT and nkey seed)")
	f.StringVar(&cfg.Auth.NKey, "nkey", "", "file holding an nkey seed")
	f.StringVar(&cfg.Auth.TLSCA, "tls-ca", "", "PEM file of the CA of the NATS servers' certificates")
	f.DurationVar(&cfg.Heartbeat, "heartbeat", time.Second, "how often the agent announces itself")
	f.Int64Var(&floorMB, "heap-floor-mib", agent.DefaultHeapFloor>>20, "while loading, let the heap grow at least this much between garbage collections (0: the runtime's default; GOGC in the environment wins)")
	f.BoolVarP(&quiet, "quiet", "q", false, "log warnings and errors only")
	f.DurationVar(&skew, "clock-skew", 0, "test only: shift the agent's clock by this much")
	_ = f.MarkHidden("clock-skew")
	f.StringVar(&profile, "cpuprofile", "", "write a CPU profile of the agent here (for bench/agentbench)")
	_ = f.MarkHidden("cpuprofile")
	return cmd
}

// planTraffic connects to the plan's agents, when it has any, and waits for
// them: too few refuses the run before anything is touched.
func planTraffic(ctx context.Context, p *plan.Plan, stderr io.Writer, logger *slog.Logger) (drill.Traffic, func(), error) {
	if p.Agents == nil {
		return nil, func() {}, nil
	}
	c, err := dialAgents(p, logger)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(stderr, "waiting for agents (up to %gs): %s\n", p.Agents.WaitS, vantageNames(p))
	live, err := c.Prepare(ctx)
	if err != nil {
		c.Close()
		return nil, nil, Exit(ExitAborted, fmt.Errorf("refused: %w", err))
	}
	fmt.Fprintf(stderr, "agents ready: %s\n", strings.Join(live, ", "))
	return c, c.Close, nil
}

func dialAgents(p *plan.Plan, logger *slog.Logger) (*agent.Coordinator, error) {
	c, err := agent.Dial(p, time.Now, logger)
	switch {
	case errors.Is(err, agent.ErrAuth):
		return nil, Usage(fmt.Errorf("$.agents: %w", err))
	case err != nil:
		return nil, Exit(ExitAborted, err)
	}
	return c, nil
}

func vantageNames(p *plan.Plan) string {
	var names []string
	for _, v := range p.Agents.VantagePoints {
		names = append(names, v.Name)
	}
	return strings.Join(names, ", ")
}

// printAgents lists, for a dry run, the agents heard on the plan's NATS
// and their clock offsets.
func printAgents(ctx context.Context, w io.Writer, p *plan.Plan) error {
	c, err := dialAgents(p, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	_, _ = c.Prepare(ctx) // waits for every vantage's agent or agents.wait_s
	seen := map[string]agent.AgentInfo{}
	var names []string
	for _, a := range c.Agents() {
		seen[a.Name] = a
		names = append(names, a.Name)
	}
	offs, errs := c.Offsets(ctx, names)
	fmt.Fprintf(w, "\nagents on %s (min_agents %d):\n", p.Agents.NATSURL, p.Agents.MinAgents)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  vantage\tshare\tentry\tagent\tversion\tclock offset")
	inPlan := map[string]bool{}
	for _, v := range p.Agents.VantagePoints {
		inPlan[v.Name] = true
		entry := v.Entry
		if entry == "" {
			entry = "(the drill's entry)"
		}
		a, ok := seen[v.Name]
		if !ok {
			fmt.Fprintf(tw, "  %s\t%g\t%s\tno heartbeat\t\t\n", v.Name, v.Share, entry)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%g\t%s\t%s, seen %.1fs ago\t%s\t%s\n", v.Name, v.Share, entry, a.State, a.Age.Seconds(), a.Version, offsetText(offs, errs, v.Name))
	}
	_ = tw.Flush()
	need := judge.MinRequestsForP95()
	for _, v := range p.Agents.VantagePoints {
		rate := p.Load.RateRPS * v.Share
		base, after := int(rate*p.Phases.BaselineS/2), int(rate*p.Phases.HoldS)
		if base < need || after < need {
			fmt.Fprintf(w, "  note: %s will send about %d requests in the baseline window and %d while a change holds; "+
				"its p95 target needs %d in each or it is inconclusive (raise load.rate_rps, its share, phases.baseline_s or phases.hold_s)\n",
				v.Name, base, after, need)
		}
	}
	for _, n := range names {
		if !inPlan[n] {
			fmt.Fprintf(w, "  also heard: %s (%s, not in the plan), clock offset %s\n", n, seen[n].State, offsetText(offs, errs, n))
		}
	}
	return nil
}

func offsetText(offs map[string]event.ClockOffset, errs map[string]error, name string) string {
	if err, ok := errs[name]; ok {
		return "not measured: " + err.Error()
	}
	o := offs[name]
	return fmt.Sprintf("%+.3f ms ± %.3f ms", float64(o.OffsetNS)/1e6, float64(o.DelayNS)/2e6)
}

// printVantages is the terminal's vantage table, when the run had agents.
func printVantages(w io.Writer, rep *verdict.Report) {
	if len(rep.VantagePoints) == 0 {
		return
	}
	fmt.Fprintln(w, "\nvantage points:")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  vantage\trequests\terrors\tcutover\t5xx run\tp95 vs baseline\tclock offset\tverdict")
	for _, v := range rep.VantagePoints {
		cut, p95 := "-", "-"
		if v.CutoverS != nil {
			cut = fmt.Sprintf("%.3f s", *v.CutoverS)
		}
		if v.P95VsBaseline != nil {
			p95 = fmt.Sprintf("%+.1f%%", 100**v.P95VsBaseline)
		}
		verd := string(v.Verdict)
		if v.Reason != "" {
			verd += " (" + v.Reason + ")"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%g s\t%s\t%+.3f ms\t%s\n", v.Name, v.Requests, v.Errors, cut, v.Max5xxBurstS, p95, v.ClockOffsetMS, verd)
	}
	_ = tw.Flush()
}
