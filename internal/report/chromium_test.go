package report_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/report"
)

// chromium runs headless Chromium on a local file with the network blocked
// twice over (no resolver, dead proxy) and returns stdout and stderr.
func chromium(t *testing.T, page string, extra ...string) (stdout, stderr string, took time.Duration) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (apt-get install -y chromium)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(),
		"--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
		"--enable-logging=stderr", "--v=0",
	}, extra...)
	args = append(args, "file://"+page)
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errb.String())
	}
	return out.String(), errb.String(), time.Since(start)
}

// consoleProblems are the page's console messages: the report has no
// script, so any message (an exception, a blocked load) is a fault.
func consoleProblems(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Uncaught") {
			out = append(out, l)
		}
	}
	return out
}

func writePage(t *testing.T, html []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(p, html, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestChromiumRendersReport(t *testing.T) {
	for _, variant := range []string{"fail", "pass"} {
		t.Run(variant, func(t *testing.T) {
			html := render(t, report.WriteHTML, fixture(variant == "fail"))
			if refs := externalRefs(html); len(refs) > 0 {
				t.Fatalf("external references: %v", refs)
			}
			page := writePage(t, html)
			dom, stderr, took := chromium(t, page, "--dump-dom")
			t.Logf("%s: dump-dom took %v for %d bytes", variant, took, len(html))
			counts, _ := seriesPerChart(dom)
			for _, c := range []string{"slo", "traffic", "backlog", "cache", "delta_s"} {
				if counts[c] == 0 {
					t.Errorf("chart %s has no data elements in the DOM (%v)", c, counts)
				}
			}
			if strings.Count(dom, "<svg") != 5 {
				t.Errorf("%d <svg> in the DOM, want 5", strings.Count(dom, "<svg"))
			}
			if p := consoleProblems(stderr); len(p) > 0 {
				t.Errorf("console messages:\n%s", strings.Join(p, "\n"))
			}
			png := filepath.Join(t.TempDir(), "report.png")
			_, stderr, took = chromium(t, page, "--screenshot="+png, "--window-size=1280,2000", "--hide-scrollbars")
			t.Logf("%s: screenshot took %v", variant, took)
			if p := consoleProblems(stderr); len(p) > 0 {
				t.Errorf("console messages:\n%s", strings.Join(p, "\n"))
			}
			b, err := os.ReadFile(png)
			if err != nil || len(b) < 10_000 {
				t.Fatalf("screenshot: %d bytes, %v", len(b), err)
			}
			if *update {
				dst := filepath.Join("..", "..", "docs", "report-"+variant+".png")
				if err := os.WriteFile(dst, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// The console check fires on a page that throws and tries to load a remote
// image; the report's own CSP would block the load and say so.
func TestChromiumConsoleCheckFires(t *testing.T) {
	page := writePage(t, []byte(`<!DOCTYPE html><html><head>`+
		`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'">`+
		`</head><body><img src="https://example.invalid/a.png"><script>notDefined()</script></body></html>`))
	_, stderr, _ := chromium(t, page, "--dump-dom")
	p := consoleProblems(stderr)
	var uncaught, blocked bool
	for _, l := range p {
		uncaught = uncaught || strings.Contains(l, "Uncaught")
		blocked = blocked || strings.Contains(l, "example.invalid")
	}
	if !uncaught || !blocked {
		t.Fatalf("console check missed faults (uncaught %v, blocked load %v):\n%s", uncaught, blocked, stderr)
	}
}
