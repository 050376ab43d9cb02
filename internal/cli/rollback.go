package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/drill"
	"github.com/regiondrill/regiondrill/internal/journal"
)

func init() { commands = append(commands, newRollbackCmd) }

func newRollbackCmd() *cobra.Command {
	var trust, force, dryRun bool
	cmd := &cobra.Command{
		Use:   "rollback JOURNAL",
		Short: "Restore a target to its pre-drill state from the journal of a drill that died",
		Long: `Read the snapshot journaled when the drill started and restore it: lift every
fault, rebuild indexes back to the snapshot's INDEX_HASH, fence writes, put the
home primary back (if it is healthy), restore the emit policy, freeze flags,
minimum instances, top-k and router weights, and run the undo of every hook
the drill started. Safe to run twice.

It trusts nothing but the journal's seal: the journal must carry the hash
chain and the seal of this user's key (in $REGIONDRILL_STATE_DIR, else
$XDG_STATE_HOME/regiondrill, else ~/.local/state/regiondrill); a tampered,
foreign or unsealed journal is refused (exit 2) unless --trust-journal, which
first prints every action it will take. The admin token is read from the
environment variable the plan names (never from the journal) and sent only to
the endpoints of the run's own plan. It takes the target's drill lock (a
drill still running is refused, exit 3) and refuses a run that restored
everything already unless --force.

Exit codes: 0 restored; 2 refused (journal not trusted, already restored,
usage); 3 not everything could be restored, or the target is locked.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return rollback(cmd, args[0], trust, force, dryRun)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&trust, "trust-journal", false, "act on a journal whose chain or seal does not verify, after printing every action")
	f.BoolVar(&force, "force", false, "roll back a run whose run_end says it restored everything already")
	f.BoolVar(&dryRun, "dry-run", false, "print every action rollback would take and change nothing")
	return cmd
}

func rollback(cmd *cobra.Command, path string, trust, force, dryRun bool) error {
	out := cmd.OutOrStdout()
	key, err := journal.LoadKey("")
	if err != nil {
		return Exit(ExitAborted, err)
	}
	w, evs, integrity, err := journal.OpenAppend(path, nil, journal.SealWith(key))
	if err != nil {
		return Usage(err)
	}
	defer w.Close()
	if integrity != nil && !trust {
		return Usage(fmt.Errorf("refusing to act on %s: %w\n(check where the journal came from; --trust-journal runs it anyway after printing every action, --dry-run shows them)", path, integrity))
	}
	j, err := drill.ReadJournaled(evs)
	if err != nil {
		return Usage(fmt.Errorf("%s: %w", path, err))
	}
	if j.Plan.UsesLab() {
		return Usage(fmt.Errorf("%s: the drill ran against its own in-process lab, which ended with it: there is nothing to roll back", path))
	}
	if j.Restored() && !force {
		return Usage(fmt.Errorf("%s: %w (run_end: %s, %s); --force rolls back anyway", path, drill.ErrRestoredAlready, j.End.Outcome, j.End.Reason))
	}
	tgt, label, err := planTarget(j.Plan)
	if err == nil && !dryRun { // a dry run sends nothing: it needs no token
		err = needToken(j.Plan, tgt)
	}
	if err != nil {
		return Usage(fmt.Errorf("%w (rollback reads the token from the environment, never from the journal)", err))
	}
	w.AddSecrets(tgt.Endpoints().Token)
	if integrity != nil || dryRun {
		if integrity != nil {
			fmt.Fprintf(out, "WARNING: %s is not trusted: %v\nacting on it because of --trust-journal\n", path, integrity)
		}
		planned, err := drill.PlanRollback(cmd.Context(), j, tgt)
		printPlanned(out, label, planned)
		if dryRun {
			if err != nil {
				return Exit(ExitAborted, err)
			}
			fmt.Fprintln(out, "dry run: nothing was changed")
			return nil
		}
	}
	host, _ := os.Hostname()
	me := fmt.Sprintf("regiondrill rollback pid %d on %s, of %s", os.Getpid(), host, filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path))
	release, err := drill.TakeLock(cmd.Context(), j, tgt, me)
	if err != nil {
		if errors.Is(err, adapter.ErrNoLock) {
			return Usage(err)
		}
		return Exit(ExitAborted, fmt.Errorf("refused: %w", err))
	}
	defer release()
	if err := drill.Rollback(cmd.Context(), j, tgt, w); err != nil {
		var lines []string
		for _, e := range unjoin(err) {
			lines = append(lines, "  - "+e.Error())
		}
		return Exit(ExitAborted, fmt.Errorf("rollback incomplete; not restored:\n%s", strings.Join(lines, "\n")))
	}
	fmt.Fprintf(out, "restored the pre-drill state of %s\n", j.Start.Target)
	return nil
}

func printPlanned(out io.Writer, label string, planned []drill.Planned) {
	fmt.Fprintf(out, "rollback of %s would take these actions, in this order (hook undos alongside the rest):\n", label)
	for i, p := range planned {
		fmt.Fprintf(out, "%3d. %s\n     %s\n", i+1, p.Why, p.Sends)
	}
}

// unjoin lists the errors joined in err.
func unjoin(err error) []error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
