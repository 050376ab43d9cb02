package compare

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText writes the comparison as a table a person reads: every target
// side by side with its change, regressions marked.
func WriteText(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "old: %s  %s  started %s  plan %s\n", r.Old.Label, strings.ToUpper(string(r.Old.Verdict)), r.Old.Started.UTC().Format("2006-01-02 15:04:05Z"), short(r.Old.PlanKey))
	fmt.Fprintf(w, "new: %s  %s  started %s  plan %s\n", r.New.Label, strings.ToUpper(string(r.New.Verdict)), r.New.Started.UTC().Format("2006-01-02 15:04:05Z"), short(r.New.PlanKey))
	if !r.SamePlan {
		fmt.Fprintln(w, "note: the runs used different plans; tolerances are the new plan's")
	}
	if r.Old.Target != r.New.Target {
		fmt.Fprintf(w, "note: different targets (%s, %s)\n", r.Old.Target, r.New.Target)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "drill\ttarget\tthreshold\told\tnew\tchange\tallowed\tstatus")
	for _, x := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Drill, x.Target, x.Threshold,
			cell(x.Old, x.OldPass), cell(x.New, x.NewPass), change(x), allowed(x), mark(x))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if r.Verdict != "" {
		fmt.Fprintf(w, "verdict: %s\n", r.Verdict)
	}
	switch {
	case r.Regressed():
		var names []string
		for _, x := range r.Rows {
			if x.Status == Regressed {
				names = append(names, x.Drill+" "+x.Target)
			}
		}
		if r.VerdictRegressed && len(names) == 0 {
			names = append(names, "the verdict")
		}
		_, err := fmt.Fprintf(w, "REGRESSED: %s\n", strings.Join(names, ", "))
		return err
	default:
		_, err := fmt.Fprintln(w, "no regression")
		return err
	}
}

func cell(v any, pass *bool) string {
	if pass == nil {
		return "—"
	}
	s := fmtValue(v)
	if !*pass {
		s += " ✗"
	}
	return s
}

func change(x Row) string {
	if x.Change == nil {
		return ""
	}
	s := signed(*x.Change)
	if x.ChangePct != nil {
		p := strconv.FormatFloat(math.Round(*x.ChangePct*10)/10+0, 'f', -1, 64)
		if *x.ChangePct >= 0 {
			p = "+" + p
		}
		s += " (" + p + "%)"
	}
	return s
}

func allowed(x Row) string {
	switch {
	case x.Ignored:
		return "ignored"
	case x.Allowed == nil:
		return ""
	}
	return signed(*x.Allowed)
}

func mark(x Row) string {
	if x.Status == Regressed {
		return "REGRESSED: " + x.Reason
	}
	return string(x.Status)
}

// WriteJSON writes the result as indented JSON.
func WriteJSON(w io.Writer, r *Result) error {
	out := *r
	if out.Rows == nil {
		out.Rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(&out)
}

type xmlSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Suite    xmlSuite `xml:"testsuite"`
}

type xmlSuite struct {
	Name     string    `xml:"name,attr"`
	Tests    int       `xml:"tests,attr"`
	Failures int       `xml:"failures,attr"`
	Errors   int       `xml:"errors,attr"`
	Time     string    `xml:"time,attr"`
	Props    []xmlProp `xml:"properties>property"`
	Cases    []xmlCase `xml:"testcase"`
}

type xmlProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type xmlCase struct {
	Name      string      `xml:"name,attr"`
	Classname string      `xml:"classname,attr"`
	Time      string      `xml:"time,attr"`
	Failure   *xmlFailure `xml:"failure,omitempty"`
	Out       string      `xml:"system-out,omitempty"`
}

type xmlFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes one test suite "regiondrill compare" with a test case
// per target (regression/<drill>/<target>) that fails when it regressed,
// plus regression/verdict.
func WriteJUnit(w io.Writer, r *Result) error {
	s := xmlSuite{Name: "regiondrill compare", Time: "0", Props: []xmlProp{
		{"old", r.Old.Label}, {"new", r.New.Label}, {"old_verdict", string(r.Old.Verdict)}, {"new_verdict", string(r.New.Verdict)},
		{"same_plan", strconv.FormatBool(r.SamePlan)},
	}}
	for _, x := range r.Rows {
		c := xmlCase{Name: "regression/" + x.Drill + "/" + x.Target, Classname: "regiondrill.compare.drill" + x.Drill, Time: "0",
			Out: fmt.Sprintf("old %s, new %s, change %s, allowed %s: %s", cell(x.Old, x.OldPass), cell(x.New, x.NewPass), change(x), allowed(x), x.Reason)}
		if x.Status == Regressed {
			c.Failure = &xmlFailure{Message: x.Reason, Type: "regression",
				Body: fmt.Sprintf("%s %s: old %s, new %s (threshold %s)", x.Drill, x.Target, fmtValue(x.Old), fmtValue(x.New), x.Threshold)}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	v := xmlCase{Name: "regression/verdict", Classname: "regiondrill.compare", Time: "0",
		Out: fmt.Sprintf("old %s, new %s", r.Old.Verdict, r.New.Verdict)}
	if r.VerdictRegressed {
		v.Failure = &xmlFailure{Message: "verdict " + r.Verdict, Type: "regression"}
		s.Failures++
	}
	s.Cases = append(s.Cases, v)
	s.Tests = len(s.Cases)
	doc := xmlSuites{Name: "regiondrill", Tests: s.Tests, Failures: s.Failures, Suite: s}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("compare: junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// fmtValue prints a measured value; numbers with at most three decimals.
func fmtValue(v any) string {
	if v == nil {
		return "—"
	}
	if f, ok := Number(v); ok {
		return fmtNum(f)
	}
	return fmt.Sprint(v)
}

// fmtNum prints v rounded to three decimals, without trailing zeros.
func fmtNum(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000+0, 'f', -1, 64)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
