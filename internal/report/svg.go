package report

import (
	"html/template"
	"math"
	"strconv"
	"strings"
)

// svg builds SVG markup. Coordinates are written with one decimal so the
// output is byte-stable; every text goes through esc.
type svg struct{ b strings.Builder }

func (s *svg) raw(parts ...string) {
	for _, p := range parts {
		s.b.WriteString(p)
	}
}

// n writes a coordinate.
func (s *svg) n(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	s.b.WriteString(fmtFixed(v, 1))
}

func (s *svg) attrs(kv ...any) {
	for i := 0; i+1 < len(kv); i += 2 {
		s.raw(" ", kv[i].(string), `="`)
		switch v := kv[i+1].(type) {
		case float64:
			s.n(v)
		case int:
			s.raw(strconv.Itoa(v))
		case string:
			s.raw(esc(v))
		}
		s.raw(`"`)
	}
}

func (s *svg) el(name string, kv ...any) {
	s.raw("<", name)
	s.attrs(kv...)
	s.raw("/>")
}

func (s *svg) text(x, y float64, anchor, class, t string, kv ...any) {
	s.raw("<text")
	s.attrs(append([]any{"x", x, "y", y, "text-anchor", anchor, "class", class}, kv...)...)
	s.raw(">", esc(t), "</text>")
}

func (s *svg) html() template.HTML { return template.HTML(s.b.String()) }

func esc(t string) string { return template.HTMLEscapeString(t) }

// frame maps data coordinates into a pixel box.
type frame struct {
	x0, x1, y0, y1   float64
	left, top, w, ht float64
}

func (f frame) px(x float64) float64 {
	if f.x1 == f.x0 {
		return f.left
	}
	return f.left + (x-f.x0)/(f.x1-f.x0)*f.w
}

func (f frame) py(y float64) float64 {
	if f.y1 == f.y0 {
		return f.top + f.ht
	}
	v := f.top + f.ht - (y-f.y0)/(f.y1-f.y0)*f.ht
	return math.Max(f.top, math.Min(f.top+f.ht, v))
}

func (f frame) bottom() float64 { return f.top + f.ht }
func (f frame) right() float64  { return f.left + f.w }

// niceStep is a 1-2-5 step that cuts span into at most n parts.
func niceStep(span float64, n int) float64 {
	if span <= 0 || math.IsNaN(span) || math.IsInf(span, 0) {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// timeStep picks a tick step in seconds that reads well on a clock.
func timeStep(span float64) float64 {
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200} {
		if span/s <= 12 {
			return s
		}
	}
	return niceStep(span, 10)
}

// niceMax rounds v up to a tick of a 1-2-5 scale with about five ticks.
func niceMax(v float64) (max, step float64) {
	if !(v > 0) || math.IsInf(v, 0) {
		return 1, 0.2
	}
	step = niceStep(v, 5)
	return math.Ceil(v/step-1e-9) * step, step
}

// tickLabel prints a tick with as many decimals as the step needs.
func tickLabel(v, step float64) string {
	d := 0
	if step > 0 && step < 1 {
		d = int(math.Ceil(-math.Log10(step) - 1e-9))
		if math.Abs(step*math.Pow(10, float64(d))-math.Round(step*math.Pow(10, float64(d)))) > 1e-9 {
			d++
		}
	}
	return fmtFixed(v, d)
}

// textWidth estimates the rendered width of t at the page's 11px labels.
func textWidth(t string, px float64) float64 {
	return float64(len([]rune(t))) * px * 0.58
}

// clip shortens t to fit width.
func clip(t string, width, px float64) string {
	r := []rune(t)
	max := int(width / (px * 0.58))
	if len(r) <= max {
		return t
	}
	if max <= 1 {
		return ""
	}
	return string(r[:max-1]) + "…"
}
