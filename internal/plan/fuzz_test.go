package plan_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/plan"
)

// FuzzDecode: Parse, Decode and Validate never panic, and every error is a
// plan.Errors whose entries all carry a JSON path.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.*")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil || len(b) > plan.MaxSize {
			continue
		}
		f.Add(b, filepath.Base(name))
	}
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		if _, err := plan.Parse(data, name); err != nil {
			checkErrors(t, err) // schema and Validate problems merged
		}
		p, err := plan.Decode(data, name)
		if err != nil {
			checkErrors(t, err)
			return
		}
		if err := p.Validate(); err != nil {
			checkErrors(t, err)
		}
		_ = p.Summary()
		_ = p.DedupeKey(map[string]string{"event_id": "e"})
	})
}

func checkErrors(t *testing.T, err error) {
	t.Helper()
	var es plan.Errors
	if !errors.As(err, &es) || len(es) == 0 {
		t.Fatalf("error is not a non-empty plan.Errors: %T %v", err, err)
	}
	for _, e := range es {
		if e == nil || !strings.HasPrefix(e.Path, "$") || e.Msg == "" {
			t.Fatalf("error without path or message: %#v", e)
		}
	}
}
