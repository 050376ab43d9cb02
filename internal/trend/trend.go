// Package trend draws the history of drill runs as one self-contained HTML
// page: for each drill, each numeric acceptance target's value run after
// run, failures in red, the threshold dashed, every point a link to its
// run's report.html. Inline CSS and SVG, no script, a Content-Security-Policy
// of default-src 'none': opening it makes no request.
package trend

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/regiondrill/regiondrill/internal/history"
	"github.com/regiondrill/regiondrill/internal/kind"
)

// FileName is the page WriteDir writes.
const FileName = "trend.html"

// point is one run's value of one target.
type point struct {
	run   *history.Run
	value float64
	pass  bool
	text  string
}

// series is one target of one drill across the runs.
type series struct {
	drill, target, threshold string
	limit                    *float64
	points                   []point
}

// Page is the data of the page.
type Page struct {
	Title  string
	Filter string
	Runs   []*history.Run
	Drills []drillSection
	rel    func(*history.Run) string
}

type drillSection struct {
	Title  string
	Charts []chart
}

type chart struct {
	Target, Threshold string
	Fails, N          int
	SVG               template.HTML
}

// targetOrder puts the page's main targets first.
var targetOrder = []string{"cutover_s", "p95_vs_baseline", "write_loss", "backlog_drain_s", "delta_s", "max_5xx_burst_s", "duplicates", "webhook_duplicates", "cache_purged"}

// Build groups runs (oldest first) into one chart per drill and numeric
// target. link gives each run's report URL as seen from the page.
func Build(runs []*history.Run, filter string, link func(*history.Run) string) *Page {
	p := &Page{Title: "regiondrill: drill history", Filter: filter, Runs: runs, rel: link}
	byKey := map[[2]string]*series{}
	var keys [][2]string
	for _, r := range runs {
		// A target repeated within a run (drill E judges each purge) keeps
		// its worst value.
		seen := map[[2]string]int{}
		for _, v := range r.Targets {
			if v.Value == nil {
				continue
			}
			k := [2]string{v.Drill, v.ID}
			s := byKey[k]
			if s == nil {
				s = &series{drill: v.Drill, target: v.ID}
				byKey[k], keys = s, append(keys, k)
			}
			if v.Target != "" {
				s.threshold, s.limit = v.Target, limitOf(v.Target)
			}
			pt := point{run: r, value: *v.Value, pass: v.Pass, text: v.Text}
			if i, ok := seen[k]; ok {
				old := &s.points[i]
				old.value, old.pass = max(old.value, pt.value), old.pass && pt.pass
				continue
			}
			seen[k] = len(s.points)
			s.points = append(s.points, pt)
		}
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if a[0] != b[0] {
			return strings.Compare(a[0], b[0])
		}
		return rank(a[1]) - rank(b[1])
	})
	for _, k := range keys {
		s := byKey[k]
		if len(p.Drills) == 0 || p.Drills[len(p.Drills)-1].Title != drillTitle(s.drill) {
			p.Drills = append(p.Drills, drillSection{Title: drillTitle(s.drill)})
		}
		c := chart{Target: s.target, Threshold: s.threshold, N: len(s.points), SVG: p.draw(s)}
		for _, pt := range s.points {
			if !pt.pass {
				c.Fails++
			}
		}
		d := &p.Drills[len(p.Drills)-1]
		d.Charts = append(d.Charts, c)
	}
	return p
}

func rank(id string) int {
	if i := slices.Index(targetOrder, id); i >= 0 {
		return i
	}
	return len(targetOrder)
}

func drillTitle(d string) string {
	if t := kind.Title(d); t != "" {
		return t
	}
	return "drill " + d
}

var limitRE = regexp.MustCompile(`[-+]?[0-9]*\.?[0-9]+`)

// limitOf reads the number of a threshold such as "≤ 30 s" or "≤ +25%"
// in the value's own unit (percent thresholds are ratios).
func limitOf(t string) *float64 {
	m := limitRE.FindString(t)
	if m == "" || strings.Contains(t, "entries") {
		return nil
	}
	v, err := strconv.ParseFloat(m, 64)
	if err != nil {
		return nil
	}
	if strings.Contains(t, "%") {
		v /= 100
	}
	return &v
}

// Chart geometry, in pixels.
const (
	width, height     = 560.0, 170.0
	left, right       = 52.0, 12.0
	top, bottom       = 12.0, 26.0
	plotW, plotH      = width - left - right, height - top - bottom
	dot               = 4.5
	maxLabelledPoints = 12
)

// draw renders one series as an SVG line chart: x is the run's position in
// time order, y its value; the threshold dashed; failed runs red.
func (p *Page) draw(s *series) template.HTML {
	lo, hi := 0.0, 0.0
	for _, pt := range s.points {
		lo, hi = math.Min(lo, pt.value), math.Max(hi, pt.value)
	}
	if s.limit != nil {
		lo, hi = math.Min(lo, *s.limit), math.Max(hi, *s.limit)
	}
	if hi == lo {
		hi = lo + 1
	}
	hi += (hi - lo) * 0.08
	x := func(i int) float64 {
		if len(s.points) == 1 {
			return left + plotW/2
		}
		return left + plotW*float64(i)/float64(len(s.points)-1)
	}
	y := func(v float64) float64 { return top + plotH*(1-(v-lo)/(hi-lo)) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="%s over %d runs">`, width, height, width, height, esc(s.target), len(s.points))
	fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" class="plot"/>`, f1(left), f1(top), f1(plotW), f1(plotH))
	for _, v := range ticks(lo, hi) {
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%s" y2="%s" class="grid"/><text x="%s" y="%s" class="axis" text-anchor="end">%s</text>`,
			f1(left), f1(left+plotW), f1(y(v)), f1(y(v)), f1(left-6), f1(y(v)+4), esc(num(v)))
	}
	if s.limit != nil {
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%s" y2="%s" class="limit"><title>threshold %s</title></line>`,
			f1(left), f1(left+plotW), f1(y(*s.limit)), f1(y(*s.limit)), esc(s.threshold))
	}
	var path strings.Builder
	for i, pt := range s.points {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&path, "%s%s %s ", cmd, f1(x(i)), f1(y(pt.value)))
	}
	fmt.Fprintf(&b, `<path d="%s" class="line"/>`, strings.TrimSpace(path.String()))
	every := max(1, (len(s.points)+maxLabelledPoints-1)/maxLabelledPoints)
	for i, pt := range s.points {
		class := "pass"
		if !pt.pass {
			class = "fail"
		}
		tip := fmt.Sprintf("run %d, %s: %s = %s (%s)", pt.run.ID, pt.run.Started.UTC().Format("2006-01-02 15:04Z"), s.target, pt.text, strings.ToUpper(string(pt.run.Verdict)))
		fmt.Fprintf(&b, `<a href="%s"><circle cx="%s" cy="%s" r="%g" class="%s"><title>%s</title></circle></a>`,
			esc(p.rel(pt.run)), f1(x(i)), f1(y(pt.value)), dot, class, esc(tip))
		if i%every == 0 || i == len(s.points)-1 {
			fmt.Fprintf(&b, `<text x="%s" y="%s" class="axis" text-anchor="middle">#%d</text>`, f1(x(i)), f1(height-8), pt.run.ID)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// ticks are up to five round values spanning lo..hi.
func ticks(lo, hi float64) []float64 {
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/4)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(step*m) <= 5 {
			step *= m
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, math.Round(v/step)*step)
	}
	return out
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func num(v float64) string { return strconv.FormatFloat(math.Round(v*1000)/1000+0, 'f', -1, 64) }

func esc(s string) string { return template.HTMLEscapeString(s) }

var page = template.Must(template.New("trend").Funcs(template.FuncMap{
	"upper": func(s any) string { return strings.ToUpper(fmt.Sprint(s)) },
	"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"short": func(s string) string { return s[:min(12, len(s))] },
	"join":  func(s []string) string { return strings.Join(s, "") },
	"dec":   func(n int) int { return n - 1 },
}).Parse(pageHTML))

// Render writes the page.
func (p *Page) Render() ([]byte, error) {
	var b bytes.Buffer
	data := struct {
		*Page
		Links []string
	}{Page: p}
	for _, r := range p.Runs {
		data.Links = append(data.Links, p.rel(r))
	}
	if err := page.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("trend: %w", err)
	}
	return b.Bytes(), nil
}

// WriteDir writes dir/trend.html for runs (oldest first), linking each point
// to its run's report.html by a path relative to dir where one exists.
func WriteDir(dir string, runs []*history.Run, filter string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("trend: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("trend: %w", err)
	}
	link := func(r *history.Run) string {
		report := filepath.Join(r.Bundle, "report.html")
		if rel, err := filepath.Rel(abs, report); err == nil {
			return (&url.URL{Path: filepath.ToSlash(rel)}).String()
		}
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(report)}).String()
	}
	b, err := Build(runs, filter, link).Render()
	if err != nil {
		return "", err
	}
	path := filepath.Join(abs, FileName)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", fmt.Errorf("trend: %w", err)
	}
	return path, nil
}
