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
	// Drills run by the tests record themselves in a throwaway history, not
	// the user's.
	if os.Getenv("REGIONDRILL_HISTORY") == "" && os.Getenv("REGIONDRILL_STATE_DIR") == "" {
		dir, err := os.MkdirTemp("", "regiondrill-state-")
		if err != nil {
			panic(err)
		}
		os.Setenv("REGIONDRILL_STATE_DIR", dir)
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}
