package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/regiondrill/regiondrill/internal/conform"
)

func init() { commands = append(commands, newConformCmd) }

func newConformCmd() *cobra.Command {
	var (
		token      string
		asJSON     bool
		writesWait time.Duration
	)
	cmd := &cobra.Command{
		Use:   "conform URL...",
		Short: "Check regions against the drill contract and say which drills a gap rules out",
		Long: `Check each region (its contract base URL) against the drill contract
(docs/CONTRACT.md): /health has every field with the right JSON type and is not
a bare 200; /token and /ask answer with answer, citations, chunks, index_hash;
POST /write is idempotent (replay identical, other body 422, no key 400);
GET /writes lists the write (in this region or another one given); a purge of
the tenant "regiondrill-conform" really empties what a warm filled; every admin
endpoint exists and answers 401 without the token.

It writes one test record and warms and purges one tenant, nothing else. Give
every region of the deployment: a follower's write is listed by the primary.
Exit 0 when every required check passes, 1 otherwise, 2 on bad arguments.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return Usage(fmt.Errorf("%s: at least one region URL is needed", cmd.CommandPath()))
			}
			for _, a := range args {
				u, err := url.Parse(a)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return Usage(fmt.Errorf("%s: %q is not an http(s) base URL", cmd.CommandPath(), a))
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if writesWait <= 0 {
				return Usage(errors.New("--writes-wait must be positive"))
			}
			if !cmd.Flags().Changed("token") {
				token = os.Getenv("REGIONDRILL_TOKEN")
			}
			rep := conform.Run(cmd.Context(), conform.Config{Regions: args, Token: token, WritesWait: writesWait})
			out := cmd.OutOrStdout()
			var err error
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				err = enc.Encode(rep)
			} else {
				err = rep.WriteTable(out)
			}
			if err != nil {
				return Exit(ExitAborted, err)
			}
			if cmd.Context().Err() != nil {
				return Exit(ExitAborted, cmd.Context().Err())
			}
			if !rep.OK() {
				return Exit(ExitFail, nil)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&token, "token", "", "admin token (default: $REGIONDRILL_TOKEN)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	cmd.Flags().DurationVar(&writesWait, "writes-wait", 15*time.Second, "how long an accepted write may take to appear in GET /writes")
	return cmd
}
