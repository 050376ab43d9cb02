package cli_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain lets the safety tests' subtests, which mostly wait on a drill
// process, run four at a time unless -parallel says otherwise.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "4")
	}
	os.Exit(m.Run())
}
