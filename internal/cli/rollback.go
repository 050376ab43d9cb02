package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/regiondrill/regiondrill/internal/drill"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/target"
)

func init() { commands = append(commands, newRollbackCmd) }

func newRollbackCmd() *cobra.Command {
	var tokenEnv string
	cmd := &cobra.Command{
		Use:   "rollback JOURNAL",
		Short: "Restore a target to its pre-drill state from the journal of a drill that died",
		Long: `Read the snapshot journaled when the drill started and restore it: lift every
fault, fence writes, put the home primary back, restore the emit policy, freeze
flags, minimum instances and router weights. Safe to run twice. The admin token
is read from the environment (never from the journal).`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, evs, _, err := journal.OpenAppend(args[0], nil)
			if err != nil {
				return Usage(err)
			}
			defer w.Close()
			var rs drill.RunStart
			if err := evs[0].Decode(&rs); err != nil {
				return Usage(err)
			}
			ep := rs.Endpoints
			ep.Token = os.Getenv(tokenEnv)
			if ep.Token == "" {
				return Usage(fmt.Errorf("no admin token: set %s", tokenEnv))
			}
			if err := drill.Rollback(cmd.Context(), evs, target.New(ep), w); err != nil {
				return Exit(ExitAborted, fmt.Errorf("rollback incomplete: %w", err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored the pre-drill state of %s\n", rs.Target)
			return nil
		},
	}
	cmd.Flags().StringVar(&tokenEnv, "token-env", "REGIONDRILL_TOKEN", "environment variable holding the admin token")
	return cmd
}
