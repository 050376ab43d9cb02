package cli_test

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"
)

// TestMain keeps every journal key the tests (and the binaries they start)
// make in a state directory of their own, and runs the safety tests'
// subtests, which mostly wait on a drill process and its lab, two per core
// unless -parallel says otherwise.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", fmt.Sprint(2*runtime.GOMAXPROCS(0)))
	}
	// Drills run by the tests record themselves in a throwaway history and
	// seal their journals with a throwaway key, not the user's.
	if os.Getenv("REGIONDRILL_STATE_DIR") == "" {
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
