package report

import (
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/regiondrill/regiondrill/internal/verdict"
)

// maxPoints caps the points of one drawn series; longer series are bucketed.
const maxPoints = 600

var regionPalette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"}

func regionColor(i int) string { return regionPalette[i%len(regionPalette)] }

// buckets splits the series into at most maxPoints consecutive groups.
func buckets(s []verdict.Second) [][]verdict.Second {
	if len(s) == 0 {
		return nil
	}
	size := (len(s) + maxPoints - 1) / maxPoints
	out := make([][]verdict.Second, 0, (len(s)+size-1)/size)
	for i := 0; i < len(s); i += size {
		out = append(out, s[i:min(i+size, len(s))])
	}
	return out
}

// reduceMax keeps spikes visible when bucketing.
func reduceMax(gs [][]verdict.Second, key, name, color string, f func(verdict.Second) float64) line {
	l := line{key: key, name: name, color: color}
	for _, g := range gs {
		m := math.Inf(-1)
		for _, s := range g {
			m = math.Max(m, f(s))
		}
		l.xs = append(l.xs, float64(g[0].T))
		l.ys = append(l.ys, m)
	}
	return l
}

func reduceMean(gs [][]verdict.Second, key, name, color string, f func(verdict.Second) float64) line {
	l := line{key: key, name: name, color: color}
	for _, g := range gs {
		sum := 0.0
		for _, s := range g {
			sum += f(s)
		}
		l.xs = append(l.xs, float64(g[0].T))
		l.ys = append(l.ys, sum/float64(len(g)))
	}
	return l
}

// newTimeline gathers the steps, actions and cutover span every chart shows.
func newTimeline(r *verdict.Report) *timeline {
	tl := &timeline{steps: r.Steps, events: slices.Clone(r.Events)}
	slices.SortStableFunc(tl.events, func(a, b verdict.Event) int { return int(a.AtMS - b.AtMS) })
	xmax := r.DurationS
	if n := len(r.Series); n > 0 {
		xmax = math.Max(xmax, float64(r.Series[n-1].T+1))
	}
	for _, s := range r.Steps {
		xmax = math.Max(xmax, float64(s.EndMS)/1000)
	}
	for _, e := range r.Events {
		xmax = math.Max(xmax, float64(e.AtMS)/1000)
	}
	if at, ok := evacuateAt(r); ok && r.CutoverS != nil {
		end := at + *r.CutoverS
		xmax = math.Max(xmax, end)
		tl.cutover = &span{x0: at, x1: end, class: "cutover", label: "cutover " + fmtFixed(*r.CutoverS, 1) + " s"}
	}
	if !(xmax > 0) {
		xmax = 1
	}
	tl.xmax = xmax
	return tl
}

// evacuateAt is the time in seconds of the first evacuation action.
func evacuateAt(r *verdict.Report) (float64, bool) {
	best, ok := int64(0), false
	for _, kw := range []string{"evacuat", "blackhole"} {
		for _, e := range r.Events {
			if strings.Contains(strings.ToLower(e.Label), kw) && (!ok || e.AtMS < best) {
				best, ok = e.AtMS, true
			}
		}
		if ok {
			return float64(best) / 1000, true
		}
	}
	return 0, false
}

func (tl *timeline) with(emph string) *timeline {
	c := *tl
	c.emph = emph
	return &c
}

func timelineLegend(tl *timeline) []legendItem {
	var out []legendItem
	if len(tl.steps) > 0 {
		out = append(out, legendItem{name: "runbook step", color: "#e3e9f2", kind: "band"})
	}
	if tl.cutover != nil {
		out = append(out, legendItem{name: "cutover", color: "#c9b3f0", kind: "span"})
	}
	if len(tl.events) > 0 {
		out = append(out, legendItem{name: "action", color: "#555", kind: "line", dash: "4 3"})
	}
	return out
}

// sloChart: latency percentiles and per-region p95, then error rate.
func sloChart(r *verdict.Report, gs [][]verdict.Second, regions []string, tl *timeline) timeChart {
	lat := panel{yLabel: "latency (ms)", height: 210}
	lat.lines = []line{
		reduceMax(gs, "p50", "p50", "#74a9cf", func(s verdict.Second) float64 { return s.P50 }),
		reduceMax(gs, "p95", "p95", "#0b4f8a", func(s verdict.Second) float64 { return s.P95 }),
		reduceMax(gs, "p99", "p99", "#222", func(s verdict.Second) float64 { return s.P99 }),
	}
	lat.lines[1].width = 2.4
	lat.lines[2].dash = "2 2"
	for i, rg := range regions {
		l := reduceMax(gs, "p95:"+rg, "p95 "+rg, regionColor(i), func(s verdict.Second) float64 {
			if v, ok := s.P95Region[rg]; ok {
				return v
			}
			return math.NaN()
		})
		l.dash = "6 3"
		lat.lines = append(lat.lines, l)
	}
	if b, ok := baselineP95(r); ok {
		lat.hlines = append(lat.hlines, hline{y: b * 1.25, class: "ref", label: "pre-incident p95 + 25% = " + fmtFixed(b*1.25, 0) + " ms"})
	}
	errs := panel{yLabel: "errors (%)", height: 150}
	errs.lines = []line{
		rateLine(gs, "error_rate", "error rate", "#d62728", func(s verdict.Second) int { return s.Errors }),
		rateLine(gs, "5xx_rate", "5xx rate", "#7f0000", func(s verdict.Second) int { return s.Err5xx }),
	}
	errs.lines[1].dash = "4 2"
	errs.spans = runs5xx(r.Series, gs)
	legend := []legendItem{
		{name: "p50", color: "#74a9cf"}, {name: "p95", color: "#0b4f8a"}, {name: "p99", color: "#222", dash: "2 2"},
	}
	for i, rg := range regions {
		legend = append(legend, legendItem{name: "p95 " + rg, color: regionColor(i), dash: "6 3"})
	}
	legend = append(legend, legendItem{name: "error rate %", color: "#d62728"}, legendItem{name: "5xx rate %", color: "#7f0000", dash: "4 2"},
		legendItem{name: "5xx run", color: "#f4b6b6", kind: "span"})
	return timeChart{
		id: "slo", title: "SLO: latency and errors",
		caption: "p95 should stay under the dotted pre-incident line +25% for served markets; red spans are seconds with 5xx — none may last over 60 s.",
		panels:  []panel{lat, errs}, legend: append(legend, timelineLegend(tl)...), tl: tl,
	}
}

func rateLine(gs [][]verdict.Second, key, name, color string, bad func(verdict.Second) int) line {
	l := line{key: key, name: name, color: color}
	for _, g := range gs {
		req, b := 0, 0
		for _, s := range g {
			req += s.Requests
			b += bad(s)
		}
		v := 0.0
		if req > 0 {
			v = 100 * float64(b) / float64(req)
		}
		l.xs = append(l.xs, float64(g[0].T))
		l.ys = append(l.ys, v)
	}
	return l
}

// runs5xx are the consecutive seconds with 5xx answers, merged across gaps
// shorter than one bucket so a long drill stays readable.
func runs5xx(series []verdict.Second, gs [][]verdict.Second) []span {
	gap := int64(1)
	if len(gs) > 0 {
		gap = int64(len(gs[0]))
	}
	var out []span
	var start, end int64 = -1, -1
	flush := func() {
		if start >= 0 {
			out = append(out, span{x0: float64(start), x1: float64(end + 1), class: "run5xx",
				label: "5xx " + strconv.FormatInt(end+1-start, 10) + " s"})
		}
	}
	for _, s := range series {
		if s.Err5xx == 0 {
			continue
		}
		if start >= 0 && s.T-end <= gap {
			end = s.T
			continue
		}
		flush()
		start, end = s.T, s.T
	}
	flush()
	return out
}

// baselineP95 is the mean p95 of the seconds before the first evacuation.
func baselineP95(r *verdict.Report) (float64, bool) {
	at, ok := evacuateAt(r)
	if !ok {
		return 0, false
	}
	sum, n := 0.0, 0
	for _, s := range r.Series {
		if float64(s.T) >= at {
			break
		}
		if s.Requests > 0 && s.P95 > 0 {
			sum += s.P95
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

func trafficChart(gs [][]verdict.Second, regions []string, tl *timeline) timeChart {
	p := panel{yLabel: "requests/s", height: 220}
	var legend []legendItem
	for i, rg := range regions {
		p.stacked = append(p.stacked, reduceMean(gs, "req:"+rg, rg, regionColor(i), func(s verdict.Second) float64 { return float64(s.ByRegion[rg]) }))
		legend = append(legend, legendItem{name: rg, color: regionColor(i), kind: "area"})
	}
	return timeChart{
		id: "traffic", title: "Traffic share per region",
		caption: "The evacuated region's band should shrink to zero inside the cutover span and stay there, the survivor taking the rest without flapping.",
		panels:  []panel{p}, legend: append(legend, timelineLegend(tl)...), tl: tl,
	}
}

func backlogChart(gs [][]verdict.Second, regions []string, tl *timeline) timeChart {
	n := panel{yLabel: "backlog (messages)", height: 170}
	a := panel{yLabel: "oldest message (s)", height: 150}
	var legend []legendItem
	for i, rg := range regions {
		n.lines = append(n.lines, reduceMax(gs, "backlog:"+rg, rg, regionColor(i), func(s verdict.Second) float64 { return float64(s.Backlog[rg]) }))
		a.lines = append(a.lines, reduceMax(gs, "age:"+rg, rg, regionColor(i), func(s verdict.Second) float64 { return s.BacklogAge[rg] }))
		legend = append(legend, legendItem{name: rg, color: regionColor(i)})
	}
	return timeChart{
		id: "backlog", title: "Queue backlog per region",
		caption: "Writes queue during cutover; both length and oldest age must fall back to the pre-drill baseline within 10 minutes.",
		panels:  []panel{n, a}, legend: append(legend, timelineLegend(tl)...), tl: tl,
	}
}

func cacheChart(gs [][]verdict.Second, tl *timeline) timeChart {
	tl = tl.with("purge")
	h := panel{yLabel: "cache hit ratio (%)", height: 170, yMax: 100}
	h.lines = []line{reduceMean(gs, "cache_hit", "hit ratio", "#2ca02c", func(s verdict.Second) float64 { return 100 * s.CacheHit })}
	h.lines[0].width = 2.2
	c := panel{yLabel: "cold starts/s", height: 110}
	c.lines = []line{reduceMax(gs, "cold", "cold starts", "#9467bd", func(s verdict.Second) float64 { return float64(s.Cold) })}
	legend := []legendItem{{name: "cache hit ratio", color: "#2ca02c"}, {name: "cold starts", color: "#9467bd"},
		{name: "purge", color: "#c2185b"}}
	return timeChart{
		id: "cache", title: "Edge cache hit ratio",
		caption: "Expect a dip right after each purge (magenta) and a climb back as caches re-warm; a lasting dip means re-warm did not happen.",
		panels:  []panel{h, c}, legend: append(legend, timelineLegend(tl)...), tl: tl,
	}
}

// deltaSChart is the ΔS histogram of the probe set before and after.
func deltaSChart(probes []verdict.Probe) template.HTML {
	const bins = 20
	var before, after [bins]int
	nb, na := 0, 0
	for _, p := range probes {
		i := int(math.Floor(p.DeltaS * bins))
		i = max(0, min(bins-1, i))
		switch p.Phase {
		case "before":
			before[i]++
			nb++
		case "after":
			after[i]++
			na++
		}
	}
	top := 0
	for i := range bins {
		top = max(top, before[i], after[i])
	}
	yTop, step := niceMax(float64(top))
	if top <= 5 {
		yTop, step = float64(max(top, 1)), 1
	}
	f := frame{x0: 0, x1: 1, y0: 0, y1: yTop, left: padLeft, top: 34, w: plotW, ht: 220}
	var s svg
	s.raw(`<svg class="chart" data-chart="delta_s" viewBox="0 0 960 300" width="100%" role="img" aria-label="ΔS histogram" font-size="11"><title>ΔS histogram before and after</title>`)
	// Legend.
	s.el("rect", "x", padLeft, "y", 8.0, "width", 18.0, "height", 10.0, "fill", "#6baed6")
	s.text(padLeft+24, 17, "start", "lg", "before ("+strconv.Itoa(nb)+" probes)")
	s.el("rect", "x", padLeft+170, "y", 8.0, "width", 18.0, "height", 10.0, "fill", "#fd8d3c")
	s.text(padLeft+194, 17, "start", "lg", "after ("+strconv.Itoa(na)+" probes)")
	s.el("rect", "x", f.left, "y", f.top, "width", f.w, "height", f.ht, "class", "plotbg")
	s.el("rect", "x", f.px(0.45), "y", f.top, "width", f.px(0.60)-f.px(0.45), "height", f.ht, "class", "zone-warn")
	s.el("rect", "x", f.px(0.60), "y", f.top, "width", f.px(1)-f.px(0.60), "height", f.ht, "class", "zone-risk")
	for v := 0.0; v <= yTop+1e-9; v += step {
		y := f.py(v)
		s.el("line", "x1", f.left, "y1", y, "x2", f.right(), "y2", y, "class", "grid")
		s.text(f.left-6, y+4, "end", "tick", tickLabel(v, step))
	}
	for i := 0; i <= 10; i++ {
		v := float64(i) / 10
		s.el("line", "x1", f.px(v), "y1", f.bottom(), "x2", f.px(v), "y2", f.bottom()+4, "class", "axis")
		s.text(f.px(v), f.bottom()+16, "middle", "tick", fmtFixed(v, 1))
	}
	cy := f.top + f.ht/2
	s.text(18, cy, "middle", "axis-title", "probes", "transform", "rotate(-90 18 "+fmtFixed(cy, 1)+")")
	s.text(f.left+f.w/2, f.bottom()+34, "middle", "axis-title", "ΔS(question, retrieved), 0 = same meaning, 1 = unrelated")
	if nb+na == 0 {
		s.text(f.left+f.w/2, f.top+f.ht/2, "middle", "nodata", "no data")
	}
	bw := f.w / bins
	for i := range bins {
		x := f.left + float64(i)*bw
		for j, c := range []struct {
			n      int
			color  string
			series string
		}{{before[i], "#6baed6", "before"}, {after[i], "#fd8d3c", "after"}} {
			if c.n == 0 {
				continue
			}
			y := f.py(float64(c.n))
			s.raw("<rect")
			s.attrs("data-series", c.series, "x", x+2+float64(j)*(bw-4)/2, "y", y, "width", (bw-4)/2, "height", f.bottom()-y, "fill", c.color)
			s.raw("><title>", esc(c.series+": "+strconv.Itoa(c.n)+" probes with ΔS in ["+fmtFixed(float64(i)/bins, 2)+", "+fmtFixed(float64(i+1)/bins, 2)+")"), "</title></rect>")
		}
	}
	for _, ref := range []struct {
		v          float64
		class, lab string
	}{{0.45, "ref-warn", "target ΔS ≤ 0.45"}, {0.60, "ref-risk", "risk ΔS ≥ 0.60"}} {
		x := f.px(ref.v)
		s.el("line", "x1", x, "y1", f.top-4, "x2", x, "y2", f.bottom(), "class", ref.class)
		s.text(x+4, f.top+12, "start", "hlabel", ref.lab)
	}
	s.el("rect", "x", f.left, "y", f.top, "width", f.w, "height", f.ht, "class", "frame")
	s.raw("</svg>")
	return s.html()
}
