package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/regiondrill/regiondrill/internal/verdict"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr"`
	ID         int             `xml:"id,attr"`
	Package    string          `xml:"package,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// WriteJUnit writes junit.xml: one testsuite per drill in r.Drills with a
// testcase per acceptance target and per check of that drill. Targets and
// checks of no listed drill go to a "whole run" suite, which also carries an
// error case when the run was aborted, so nothing is dropped.
func WriteJUnit(w io.Writer, r *verdict.Report) error {
	ts := r.Started.UTC().Format("2006-01-02T15:04:05")
	var drills []string
	listed := map[string]bool{}
	for _, d := range r.Drills {
		l := drillLetter(d)
		if !listed[l] {
			listed[l] = true
			drills = append(drills, l)
		}
	}
	suiteOf := func(d string) string {
		if l := drillLetter(d); listed[l] {
			return l
		}
		return ""
	}
	byDrill := map[string]*junitSuite{}
	var order []string
	get := func(l string) *junitSuite {
		if s, ok := byDrill[l]; ok {
			return s
		}
		s := &junitSuite{
			Name:      "regiondrill " + drillTitle(l),
			Timestamp: ts,
			Hostname:  hostOf(r.Target),
			Package:   "regiondrill",
			Properties: []junitProperty{
				{"drill", l},
				{"target", r.Target},
				{"verdict", string(r.Verdict)},
				{"schema", verdict.SchemaVersion},
			},
		}
		byDrill[l] = s
		order = append(order, l)
		return s
	}
	for _, l := range drills {
		get(l)
	}
	for _, t := range r.Acceptance {
		l := suiteOf(t.Drill)
		c := junitCase{Name: "acceptance/" + t.ID, Classname: classname(l), Time: "0"}
		if t.Vantage != "" { // one case per vantage point and target
			c.Name = "vantage/" + t.Vantage + "/" + t.ID
		}
		switch {
		case t.Status == verdict.StatusInconclusive:
			c.Failure = &junitProblem{
				Message: "inconclusive: " + t.Missing + "; target " + t.Target,
				Type:    "inconclusive",
				Body:    t.Detail,
			}
		case !t.Pass:
			c.Failure = &junitProblem{
				Message: "measured " + fmtValue(t.Value) + ", target " + t.Target,
				Type:    "acceptance",
				Body:    t.Detail,
			}
		}
		s := get(l)
		s.Cases = append(s.Cases, c)
	}
	for _, k := range r.Checks {
		l := suiteOf(k.Drill)
		c := junitCase{Name: k.Phase + "/" + k.Name, Classname: classname(l), Time: "0"}
		if !k.Pass {
			c.Failure = &junitProblem{
				Message: "check " + k.Phase + "/" + k.Name + " failed: " + k.Value,
				Type:    "check",
				Body:    k.Detail,
			}
		} else if k.Value != "" {
			c.SystemOut = k.Value
		}
		s := get(l)
		s.Cases = append(s.Cases, c)
	}
	if r.Verdict == verdict.Aborted {
		s := get("")
		s.Cases = append(s.Cases, junitCase{
			Name: "run/aborted", Classname: classname(""), Time: "0",
			Error: &junitProblem{Message: "drill aborted: " + firstNonEmpty(r.StopReason, r.Reason, "no reason recorded"), Type: "aborted", Body: r.Reason},
		})
	}
	// The whole-run suite, if any, goes last.
	if i := slices.Index(order, ""); i >= 0 && i != len(order)-1 {
		order = append(append(order[:i:i], order[i+1:]...), "")
	}
	out := junitSuites{Name: "regiondrill", Time: fmtFixed(r.DurationS, 3)}
	for i, l := range order {
		s := byDrill[l]
		s.ID = i
		for _, c := range s.Cases {
			s.Tests++
			switch {
			case c.Failure != nil:
				s.Failures++
			case c.Error != nil:
				s.Errors++
			case c.Skipped != nil:
				s.Skipped++
			}
		}
		s.Time = fmtFixed(suiteSeconds(r, l), 3)
		if l == "" {
			s.Time = fmtFixed(r.DurationS, 3)
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, *s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("report: junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("report: junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("report: junit: %w", err)
	}
	return nil
}

func classname(letter string) string {
	if letter == "" {
		return "regiondrill.run"
	}
	return "regiondrill.drill_" + letter
}

// suiteSeconds spans the drill's steps.
func suiteSeconds(r *verdict.Report, letter string) float64 {
	var lo, hi int64
	found := false
	for _, s := range r.Steps {
		if drillLetter(s.Drill) != letter {
			continue
		}
		if !found || s.StartMS < lo {
			lo = s.StartMS
		}
		if !found || s.EndMS > hi {
			hi = s.EndMS
		}
		found = true
	}
	if !found || hi < lo {
		return 0
	}
	return float64(hi-lo) / 1000
}

// hostOf is the host part of the target ("lab" stays "lab").
func hostOf(target string) string {
	h := target
	if i := strings.Index(h, "://"); i >= 0 {
		h = h[i+3:]
	}
	if i := strings.IndexAny(h, "/?#"); i >= 0 {
		h = h[:i]
	}
	if h == "" {
		return "unknown"
	}
	return h
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
