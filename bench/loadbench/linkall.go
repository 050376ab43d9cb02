//go:build linkall

package main

// Built with -tags linkall, loadbench links every package regiondrill
// links. bench/run then measures the same generator from a binary of the
// same size and layout as regiondrill's: the agent is compared both with
// this and with the small loadbench, and the difference between the two
// baselines is the binary's, not the streaming's.
import _ "github.com/regiondrill/regiondrill/internal/cli"
