package adapter_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
)

// writeScript writes an executable test fixture. The fixtures use sh; the
// adapter itself runs argv directly.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// commandFixture is a fake DNS provider: one file per region holding its
// weight, a set script that logs every call, and a get script printing JSON.
func commandFixture(t *testing.T) (c *adapter.Command, dir string, calls func() []string) {
	t.Helper()
	dir = t.TempDir()
	w := filepath.Join(dir, "w")
	if err := os.Mkdir(w, 0o755); err != nil {
		t.Fatal(err)
	}
	for r, v := range map[string]string{"us-east": "100", "eu-west": "100"} {
		if err := os.WriteFile(filepath.Join(w, r), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(dir, "calls.log")
	set := writeScript(t, dir, "set.sh", `echo "$*" >> '`+log+`'
printf %s "$3" > '`+w+`'/"$2"
`)
	get := writeScript(t, dir, "get.sh", `cd '`+w+`' || exit 1
sep=""; printf "{"
for f in *; do printf '%s"%s":%s' "$sep" "$f" "$(cat "$f")"; sep=","; done
printf "}\n"
`)
	c = &adapter.Command{Set: []string{set, "--weight-for", "{region}", "{weight}"}, Get: []string{get}, Timeout: 5 * time.Second}
	calls = func() []string {
		b, err := os.ReadFile(log)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	return c, dir, calls
}

func TestCommandRouter(t *testing.T) {
	ctx := context.Background()
	c, _, calls := commandFixture(t)
	before, err := c.Weights(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"us-east": 100, "eu-west": 100}; !reflect.DeepEqual(before, want) {
		t.Fatalf("weights = %v, want %v", before, want)
	}
	if err := c.SetWeights(ctx, map[string]int{"us-east": 0, "eu-west": 200}); err != nil {
		t.Fatal(err)
	}
	// the raise runs before the cut
	if got, want := calls(), []string{"--weight-for eu-west 200", "--weight-for us-east 0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("calls = %q, want %q", got, want)
	}
	if w, _ := c.Weights(ctx); !reflect.DeepEqual(w, map[string]int{"us-east": 0, "eu-west": 200}) {
		t.Fatalf("weights after set = %v", w)
	}
	if err := c.SetWeights(ctx, before); err != nil {
		t.Fatal(err)
	}
	if w, _ := c.Weights(ctx); !reflect.DeepEqual(w, before) {
		t.Fatalf("restored weights = %v, want %v", w, before)
	}
}

func TestCommandRefusesBeforeRunning(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		w    map[string]int
		want string
	}{
		{"all zero", map[string]int{"us-east": 0, "eu-west": 0}, "no region with weight > 0"},
		{"unknown region", map[string]int{"ap-south": 5}, `unknown region "ap-south"`},
		{"negative", map[string]int{"us-east": -3}, "negative weight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, calls := commandFixture(t)
			err := c.SetWeights(ctx, tc.w)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if got := calls(); got != nil {
				t.Fatalf("set ran despite the refusal: %q", got)
			}
		})
	}
	t.Run("all zero is ErrNoServingRegion", func(t *testing.T) {
		c, _, _ := commandFixture(t)
		if err := c.SetWeights(ctx, map[string]int{"us-east": 0, "eu-west": 0}); !errors.Is(err, adapter.ErrNoServingRegion) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCommandNeverUsesAShell(t *testing.T) {
	c, dir, calls := commandFixture(t)
	pwned := filepath.Join(dir, "pwned")
	c.Set = append(c.Set, "$(touch "+pwned+")", "; touch "+pwned)
	if err := c.SetWeights(context.Background(), map[string]int{"us-east": 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("an argument was interpreted by a shell")
	}
	if got := calls(); len(got) != 1 || !strings.Contains(got[0], "$(touch") {
		t.Fatalf("the argument should arrive verbatim: %q", got)
	}
}

func TestCommandErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fail := writeScript(t, dir, "fail.sh", "echo 'quota exceeded for zone example.com' >&2\nexit 3\n")
	notJSON := writeScript(t, dir, "text.sh", "echo us-east=100\n")
	null := writeScript(t, dir, "null.sh", "echo null\n")
	slow := writeScript(t, dir, "slow.sh", "exec sleep 10\n")
	huge := writeScript(t, dir, "huge.sh", "head -c 2000000 /dev/zero\n")
	ok := writeScript(t, dir, "ok.sh", `echo '{"us-east":1,"eu-west":1}'`+"\n")
	for _, tc := range []struct {
		name string
		c    adapter.Command
		set  bool
		want string
	}{
		{"set fails with stderr", adapter.Command{Set: []string{fail, "{region}"}, Get: []string{ok}}, true, "quota exceeded for zone example.com"},
		{"set exit code", adapter.Command{Set: []string{fail}, Get: []string{ok}}, true, "exit status 3"},
		{"get fails", adapter.Command{Get: []string{fail}}, false, "exit status 3: quota exceeded"},
		{"get not JSON", adapter.Command{Get: []string{notJSON}}, false, "not a JSON object"},
		{"get null", adapter.Command{Get: []string{null}}, false, "output is null"},
		{"timeout", adapter.Command{Get: []string{slow}, Timeout: 200 * time.Millisecond}, false, "deadline exceeded"},
		{"bounded output", adapter.Command{Get: []string{huge}}, false, "output longer than"},
		{"missing program", adapter.Command{Get: []string{filepath.Join(dir, "nope")}}, false, "no such file"},
		{"empty get", adapter.Command{}, false, "empty argv"},
		{"empty set", adapter.Command{Get: []string{ok}}, true, "no set command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.set {
				err = tc.c.SetWeights(ctx, map[string]int{"us-east": 0})
			} else {
				_, err = tc.c.Weights(ctx)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("CommandError carries stderr", func(t *testing.T) {
		_, err := (&adapter.Command{Get: []string{fail}}).Weights(ctx)
		var ce *adapter.CommandError
		if !errors.As(err, &ce) || ce.Stderr != "quota exceeded for zone example.com" {
			t.Fatalf("err = %#v", err)
		}
	})
}

func TestCommandDrillLock(t *testing.T) {
	dir := t.TempDir()
	held := filepath.Join(dir, "held")
	lock := writeScript(t, dir, "lock.sh", `if [ -e '`+held+`' ] && [ "$(cat '`+held+`')" != "$1" ]; then echo "held by $(cat '`+held+`')" >&2; exit 1; fi
printf %s "$1" > '`+held+`'
`)
	unlock := writeScript(t, dir, "unlock.sh", `[ "$(cat '`+held+`')" = "$1" ] && rm -f '`+held+`'
exit 0
`)
	c := &adapter.Command{LockArgv: []string{lock, "{owner}", "{lease_s}"}, UnlockArgv: []string{unlock, "{owner}"}, Timeout: 5 * time.Second}
	ctx := context.Background()
	if err := c.Lock(ctx, "one", 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.Lock(ctx, "two", 15*time.Second); !errors.Is(err, adapter.ErrLocked) || !strings.Contains(err.Error(), "held by one") {
		t.Fatalf("second lock: %v", err)
	}
	if err := c.Unlock(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	if err := c.Lock(ctx, "two", 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := (&adapter.Command{}).Lock(ctx, "x", time.Second); !errors.Is(err, adapter.ErrNoLock) {
		t.Fatalf("no lock command: %v, want ErrNoLock", err)
	}
	if err := adapter.New(adapter.Endpoints{}).WithRouter(&adapter.Command{Set: []string{"x"}}).Lock(ctx, "x", time.Second); !errors.Is(err, adapter.ErrNoLock) {
		t.Fatalf("target without a lock: %v", err)
	}
	if err := adapter.New(adapter.Endpoints{}).WithRouter(adapter.NoLock{Router: &adapter.Command{Set: []string{"x"}}}).Lock(ctx, "x", time.Second); err != nil {
		t.Fatalf("waived lock: %v", err)
	}
}
