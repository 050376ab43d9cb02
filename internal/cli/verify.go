package cli

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/regiondrill/regiondrill/internal/manifest"
)

func init() { commands = append(commands, newVerifyCmd) }

func newVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify DIR",
		Short: "Check an evidence bundle against its manifest.json",
		Long: `Check that every file of an evidence bundle still has the SHA-256 its
manifest.json recorded when the drill wrote it, that no file was added or
removed, and that report.json's plan hashes to the manifest's plan hash.

Exit codes: 0 the bundle verifies; 1 a file differs (each one is named);
2 no manifest or unreadable.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := manifest.Verify(args[0])
			var me *manifest.MismatchError
			if errors.As(err, &me) {
				for _, p := range me.Problems {
					fmt.Fprintf(cmd.OutOrStdout(), "MISMATCH %s\n", p)
				}
				return Exit(ExitFail, fmt.Errorf("%s: %d problem(s): the bundle was changed after it was sealed", args[0], len(me.Problems)))
			}
			if err != nil {
				return Usage(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok, %d files and the plan (sha256 %s) match the manifest\n", args[0], len(m.Files), m.PlanSHA256[:12])
			return nil
		},
	}
}

// sealBundle writes dir/manifest.json; call it after the last file of the
// bundle is written.
func sealBundle(dir string) error {
	if _, err := manifest.Write(dir, toolVersion()); err != nil {
		return fmt.Errorf("seal the evidence: %w", err)
	}
	return nil
}

// toolVersion is the module version the binary was built from, with the VCS
// revision when the build recorded one.
func toolVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}
