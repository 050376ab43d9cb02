package report

import (
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/regiondrill/regiondrill/internal/verdict"
)

// Layout of every time chart, in SVG user units.
const (
	chartW     = 960.0
	padLeft    = 70.0
	padRight   = 20.0
	plotW      = chartW - padLeft - padRight
	labelPx    = 11.0
	eventRowH  = 13.0
	maxEvRows  = 7
	panelGap   = 30.0
	stepLaneH  = 18.0
	legendRowH = 18.0
)

// line is one drawn series; xs are seconds since start.
type line struct {
	key, name, color string
	dash             string
	width            float64
	xs, ys           []float64
}

// span is a highlighted x range inside one panel.
type span struct {
	x0, x1       float64
	class, label string
}

// hline is a horizontal reference line.
type hline struct {
	y            float64
	class, label string
}

// panel is one plot area sharing the chart's x axis.
type panel struct {
	yLabel  string
	height  float64
	yMax    float64 // fixed top of the y axis when > 0
	stacked []line  // drawn as stacked areas, bottom first
	lines   []line
	spans   []span
	hlines  []hline
}

type legendItem struct{ name, color, kind, dash string }

// timeline is what every time chart draws behind its data.
type timeline struct {
	xmax    float64
	steps   []verdict.Step
	events  []verdict.Event
	cutover *span
	emph    string // events whose label contains this are drawn emphasised
}

type timeChart struct {
	id, title, caption string
	panels             []panel
	legend             []legendItem
	tl                 *timeline
}

func (c timeChart) hasData() bool {
	for _, p := range c.panels {
		if p.hasData() {
			return true
		}
	}
	return false
}

func (p panel) hasData() bool {
	for _, l := range append(append([]line(nil), p.stacked...), p.lines...) {
		if len(l.xs) > 0 {
			return true
		}
	}
	return false
}

// placedEvent is an event label assigned to a row of the label lane.
type placedEvent struct {
	x      float64
	row    int
	label  string
	anchor string
	emph   bool
}

func placeEvents(tl *timeline, f frame) ([]placedEvent, int) {
	var out []placedEvent
	var taken [][][2]float64 // label extents per row
	free := func(row int, lo, hi float64) bool {
		for _, iv := range taken[row] {
			if lo < iv[1]+6 && hi > iv[0]-6 {
				return false
			}
		}
		return true
	}
	for _, e := range tl.events {
		x := f.px(float64(e.AtMS) / 1000)
		lab := clip(e.Label, 220, labelPx)
		w := textWidth(lab, labelPx)
		anchor, lo, hi := "start", x+3, x+3+w
		if hi > f.right() {
			anchor, lo, hi = "end", x-3-w, x-3
		}
		row := -1
		for i := range taken {
			if free(i, lo, hi) {
				row = i
				break
			}
		}
		if row < 0 && len(taken) < maxEvRows {
			taken = append(taken, nil)
			row = len(taken) - 1
		}
		if row < 0 { // lane is full: share the row with the fewest labels
			row = 0
			for i := range taken {
				if len(taken[i]) < len(taken[row]) {
					row = i
				}
			}
		}
		taken[row] = append(taken[row], [2]float64{lo, hi})
		emph := tl.emph != "" && strings.Contains(strings.ToLower(e.Label), tl.emph)
		out = append(out, placedEvent{x: x, row: row, label: lab, anchor: anchor, emph: emph})
	}
	return out, len(taken)
}

// render draws the chart as one <svg>.
func (c timeChart) render() template.HTML {
	var s svg
	tl := c.tl
	xf := frame{x0: 0, x1: tl.xmax, left: padLeft, w: plotW}

	// Legend rows.
	y := 4.0
	legendY := []float64{}
	lx := padLeft
	items := c.legend
	for range items {
		legendY = append(legendY, 0)
	}
	for i, it := range items {
		w := 26 + textWidth(it.name, labelPx) + 16
		if lx+w > chartW-padRight && lx > padLeft {
			lx = padLeft
			y += legendRowH
		}
		legendY[i] = y
		_ = lx
		lx += w
	}
	legendBottom := y + legendRowH
	if len(items) == 0 {
		legendBottom = 4
	}
	stepTop := legendBottom + 2
	evTop := stepTop + stepLaneH + 2
	events, rows := placeEvents(tl, xf)
	plotTop := evTop + float64(rows)*eventRowH + 4

	// Panel frames.
	frames := make([]frame, len(c.panels))
	top := plotTop
	for i, p := range c.panels {
		h := p.height
		if h == 0 {
			h = 190
		}
		frames[i] = frame{x0: 0, x1: tl.xmax, y0: 0, y1: p.yTop(), left: padLeft, top: top, w: plotW, ht: h}
		top += h + panelGap
	}
	total := top - panelGap + 40

	s.raw(`<svg class="chart" data-chart="`, esc(c.id), `" viewBox="0 0 `)
	s.n(chartW)
	s.raw(" ")
	s.n(total)
	s.raw(`" width="100%" role="img" aria-label="`, esc(c.title), `" font-size="11">`)
	s.raw("<title>", esc(c.title), "</title>")

	// Legend.
	lx = padLeft
	for i, it := range items {
		if i > 0 && legendY[i] != legendY[i-1] {
			lx = padLeft
		}
		ly := legendY[i] + 9
		switch it.kind {
		case "area", "band", "span":
			s.el("rect", "x", lx, "y", ly-6, "width", 18.0, "height", 10.0, "fill", it.color, "class", "lg-"+it.kind)
		default:
			kv := []any{"x1", lx, "y1", ly, "x2", lx + 18, "y2", ly, "stroke", it.color, "stroke-width", 2.5}
			if it.dash != "" {
				kv = append(kv, "stroke-dasharray", it.dash)
			}
			s.el("line", kv...)
		}
		s.text(lx+24, ly+4, "start", "lg", it.name)
		lx += 26 + textWidth(it.name, labelPx) + 16
	}

	// Step lane.
	s.text(padLeft-6, stepTop+12, "end", "lane", "steps")
	for i, st := range tl.steps {
		x0, x1 := xf.px(float64(st.StartMS)/1000), xf.px(float64(st.EndMS)/1000)
		if x1 < x0+1 {
			x1 = x0 + 1
		}
		cls := "step step" + strconv.Itoa(i%2)
		if st.Outcome != "" && st.Outcome != "ok" {
			cls += " step-" + st.Outcome
		}
		s.raw("<g>")
		s.el("rect", "x", x0, "y", stepTop, "width", x1-x0, "height", stepLaneH, "class", cls)
		s.raw("<title>", esc(drillLetter(st.Drill)+" "+st.Name+" ("+st.Outcome+")"), "</title>")
		if lab := clip(drillLetter(st.Drill)+" "+st.Name, x1-x0-4, labelPx); lab != "" {
			s.text(x0+3, stepTop+13, "start", "steplabel", lab)
		}
		s.raw("</g>")
	}
	if rows > 0 {
		s.text(padLeft-6, evTop+10, "end", "lane", "actions")
	}

	bottom := frames[len(frames)-1].bottom()
	for i, p := range c.panels {
		c.drawPanel(&s, p, frames[i], i == 0)
	}

	// Event lines and labels over every panel.
	for _, e := range events {
		cls := "ev"
		if e.emph {
			cls = "ev ev-emph"
		}
		ly := evTop + float64(e.row)*eventRowH + 10
		s.el("line", "x1", e.x, "y1", ly-9, "x2", e.x, "y2", bottom, "class", cls)
		tx := e.x + 3
		if e.anchor == "end" {
			tx = e.x - 3
		}
		s.text(tx, ly, e.anchor, "evlabel"+map[bool]string{true: " evlabel-emph"}[e.emph], e.label)
	}

	// Shared x axis title.
	s.text(padLeft+plotW/2, bottom+34, "middle", "axis-title", "seconds since start (s)")
	s.raw("</svg>")
	return s.html()
}

func (p panel) yTop() float64 {
	if p.yMax > 0 {
		return p.yMax
	}
	max := 0.0
	if len(p.stacked) > 0 {
		n := 0
		for _, l := range p.stacked {
			if len(l.ys) > n {
				n = len(l.ys)
			}
		}
		for i := 0; i < n; i++ {
			sum := 0.0
			for _, l := range p.stacked {
				if i < len(l.ys) && finite(l.ys[i]) {
					sum += l.ys[i]
				}
			}
			max = math.Max(max, sum)
		}
	}
	for _, l := range p.lines {
		for _, v := range l.ys {
			if finite(v) {
				max = math.Max(max, v)
			}
		}
	}
	for _, h := range p.hlines {
		max = math.Max(max, h.y)
	}
	top, _ := niceMax(max * 1.05)
	return top
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func (c timeChart) drawPanel(s *svg, p panel, f frame, first bool) {
	tl := c.tl
	s.raw(`<g class="panel">`)
	s.el("rect", "x", f.left, "y", f.top, "width", f.w, "height", f.ht, "class", "plotbg")
	// Steps as shaded bands.
	for i, st := range tl.steps {
		x0, x1 := f.px(float64(st.StartMS)/1000), f.px(float64(st.EndMS)/1000)
		if x1 > x0 {
			s.el("rect", "x", x0, "y", f.top, "width", x1-x0, "height", f.ht, "class", "band band"+strconv.Itoa(i%2))
		}
	}
	// Grid and y ticks.
	_, step := niceMax(f.y1)
	if f.y1 > 0 {
		step = niceStep(f.y1, 5)
	}
	for v := 0.0; v <= f.y1+step*1e-6; v += step {
		y := f.py(v)
		s.el("line", "x1", f.left, "y1", y, "x2", f.right(), "y2", y, "class", "grid")
		s.text(f.left-6, y+4, "end", "tick", tickLabel(v, step))
	}
	// x ticks.
	ts := timeStep(f.x1)
	for v := 0.0; v <= f.x1+1e-9; v += ts {
		x := f.px(v)
		s.el("line", "x1", x, "y1", f.bottom(), "x2", x, "y2", f.bottom()+4, "class", "axis")
		s.text(x, f.bottom()+16, "middle", "tick", tickLabel(v, ts))
	}
	// y axis title.
	cy := f.top + f.ht/2
	s.text(18, cy, "middle", "axis-title", p.yLabel, "transform", "rotate(-90 18 "+fmtFixed(cy, 1)+")")

	for _, sp := range p.spans {
		x0, x1 := f.px(sp.x0), f.px(sp.x1)
		if x1-x0 < 1.5 {
			x1 = x0 + 1.5
		}
		s.raw("<g>")
		s.el("rect", "x", x0, "y", f.top, "width", x1-x0, "height", f.ht, "class", sp.class)
		if sp.label != "" {
			s.raw("<title>", esc(sp.label), "</title>")
			if x1-x0 > textWidth(sp.label, 10)+6 {
				s.text((x0+x1)/2, f.bottom()-6, "middle", "spanlabel", sp.label)
			}
		}
		s.raw("</g>")
	}
	if co := tl.cutover; co != nil {
		x0, x1 := f.px(co.x0), f.px(co.x1)
		if x1-x0 < 2 {
			x1 = x0 + 2
		}
		s.el("rect", "x", x0, "y", f.top, "width", x1-x0, "height", f.ht, "class", "cutover")
		if first {
			s.text(x0+4, f.top+13, "start", "cutlabel", co.label)
		}
	}
	if !p.hasData() {
		s.text(f.left+f.w/2, f.top+f.ht/2+5, "middle", "nodata", "no data")
	}
	// Stacked areas.
	if len(p.stacked) > 0 {
		n := len(p.stacked[0].xs)
		base := make([]float64, n)
		for _, l := range p.stacked {
			if len(l.xs) != n || n == 0 {
				continue
			}
			top := make([]float64, n)
			for i := range top {
				v := l.ys[i]
				if !finite(v) {
					v = 0
				}
				top[i] = base[i] + v
			}
			s.raw(`<path data-series="`, esc(l.key), `" data-points="`, strconv.Itoa(n), `" fill="`, esc(l.color), `" class="area" d="`)
			for i := 0; i < n; i++ {
				s.raw(map[bool]string{true: "M", false: "L"}[i == 0])
				s.n(f.px(l.xs[i]))
				s.raw(" ")
				s.n(f.py(top[i]))
			}
			for i := n - 1; i >= 0; i-- {
				s.raw("L")
				s.n(f.px(l.xs[i]))
				s.raw(" ")
				s.n(f.py(base[i]))
			}
			s.raw(`Z"><title>`, esc(l.name), `</title></path>`)
			base = top
		}
	}
	for _, h := range p.hlines {
		y := f.py(h.y)
		s.el("line", "x1", f.left, "y1", y, "x2", f.right(), "y2", y, "class", h.class)
		s.text(f.left+4, y-4, "start", "hlabel", h.label)
	}
	for _, l := range p.lines {
		if len(l.xs) == 0 {
			continue
		}
		s.raw(`<path data-series="`, esc(l.key), `" data-points="`, strconv.Itoa(len(l.xs)), `" fill="none" stroke="`, esc(l.color), `" stroke-width="`)
		w := l.width
		if w == 0 {
			w = 1.6
		}
		s.n(w)
		s.raw(`"`)
		if l.dash != "" {
			s.raw(` stroke-dasharray="`, esc(l.dash), `"`)
		}
		s.raw(` stroke-linejoin="round" d="`)
		pen := "M"
		for i := range l.xs {
			if !finite(l.ys[i]) {
				pen = "M"
				continue
			}
			s.raw(pen)
			s.n(f.px(l.xs[i]))
			s.raw(" ")
			s.n(f.py(l.ys[i]))
			pen = "L"
		}
		s.raw(`"><title>`, esc(l.name), `</title></path>`)
		if len(l.xs) == 1 { // a single point is invisible as a path
			s.el("circle", "cx", f.px(l.xs[0]), "cy", f.py(l.ys[0]), "r", 2.5, "fill", l.color, "data-series", l.key)
		}
	}
	s.el("rect", "x", f.left, "y", f.top, "width", f.w, "height", f.ht, "class", "frame")
	s.raw("</g>")
}
