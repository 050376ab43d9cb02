package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/cli"
)

// Plans are read through a size limit and only from regular files or
// stdin: /dev/zero and a FIFO are refused at once (before, /dev/zero grew
// to 700 MB and a FIFO hung).
func TestPlanInputIsBoundedAndRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "plan.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(`{"regions":["a","b"],"x":"`+strings.Repeat("x", 2<<20)+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"validate", "/dev/zero"}, "not a regular file"},
		{[]string{"run", fifo}, "not a regular file"},
		{[]string{"validate", dir}, "not a regular file"},
		{[]string{"validate", big}, "larger than the limit"},
	} {
		done := make(chan struct{})
		var code int
		var errs string
		go func() {
			defer close(done)
			code, _, errs = run(t, c.args...)
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatalf("%v: still reading after 3 s", c.args)
		}
		if code != cli.ExitInvalid || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errs, c.want)
		}
	}
	// stdin is read through the same limit.
	var out, errb strings.Builder
	page, err := os.ReadFile("../plan/testdata/page-plan.json")
	if err != nil {
		t.Fatal(err)
	}
	if code := cli.Run(context.Background(), []string{"validate", "-"}, strings.NewReader(string(page)), &out, &errb); code != 0 {
		t.Fatalf("validate - : exit %d: %s", code, errb.String())
	}
	if code := cli.Run(context.Background(), []string{"validate", "-"}, zeros{}, &out, &errb); code != cli.ExitInvalid {
		t.Fatalf("endless stdin: exit %d", code)
	}
}

// zeros is an endless reader.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
