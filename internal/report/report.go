// Package report renders a drill's verdict.Report as the evidence a person
// or a CI system reads: report.json, junit.xml, samples.csv and report.html.
// Rendering is deterministic: it reads no clock, network or randomness.
package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/regiondrill/regiondrill/internal/kind"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// Writer renders a report to w.
type Writer func(w io.Writer, r *verdict.Report) error

// files maps each file WriteAll produces to its writer.
var files = []struct {
	Name  string
	Write Writer
}{
	{"report.json", WriteJSON},
	{"junit.xml", WriteJUnit},
	{"samples.csv", WriteCSV},
	{"report.html", WriteHTML},
}

// WriteAll writes report.json, junit.xml, samples.csv and report.html into dir, each atomically: it is
// written to a temporary file in dir, synced and renamed into place.
func WriteAll(dir string, r *verdict.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: create %s: %w", dir, err)
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(dir, f.Name), r, f.Write); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, r *verdict.Report, write Writer) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("report: %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 64<<10)
	if err = write(bw, r); err != nil {
		return fmt.Errorf("report: render %s: %w", filepath.Base(path), err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("report: write %s: %w", filepath.Base(path), err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("report: chmod %s: %w", filepath.Base(path), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("report: sync %s: %w", filepath.Base(path), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("report: close %s: %w", filepath.Base(path), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("report: rename %s: %w", filepath.Base(path), err)
	}
	return nil
}

// drillTitle is e.g. "drill A: planned evacuation"; unknown drills keep
// their spelling.
func drillTitle(d string) string {
	if t := kind.Title(d); t != "" {
		return t
	}
	if d == "" {
		return "whole run"
	}
	return "drill " + d
}

// drillLetter is the page's letter for d, or d itself.
func drillLetter(d string) string {
	if k, ok := kind.Lookup(d); ok {
		return string(k.Info().Letter)
	}
	return d
}

// fmtValue renders a measured value: numbers with at most three decimals.
func fmtValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case float64:
		return fmtNum(x)
	case float32:
		return fmtNum(float64(x))
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

// fmtNum prints v rounded to three decimals without trailing zeros.
func fmtNum(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// fmtFixed prints v with exactly d decimals.
func fmtFixed(v float64, d int) string {
	s := strconv.FormatFloat(v, 'f', d, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// regionNames are r.RegionNames followed by any other region seen in the
// series or contracts, sorted.
func regionNames(r *verdict.Report) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, n := range r.RegionNames {
		add(n)
	}
	var extra []string
	for _, s := range r.Series {
		for k := range s.ByRegion {
			if !seen[k] {
				extra = append(extra, k)
			}
		}
		for k := range s.Backlog {
			if !seen[k] {
				extra = append(extra, k)
			}
		}
	}
	for k := range r.Regions {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, n := range extra {
		add(n)
	}
	return out
}
