package report

import (
	"strings"

	"github.com/regiondrill/regiondrill/internal/verdict"
)

// TargetName is a target's id, with the vantage point it judges when it
// judges one ("cutover_s@eu").
func TargetName(t verdict.Target) string {
	if t.Vantage == "" {
		return t.ID
	}
	return t.ID + "@" + t.Vantage
}

// vantageRow is one line of the vantage table.
type vantageRow struct {
	Name, Entry, Requests, Errors, Cutover, Burst, P95, Clock, Verdict, Reason string
	Class                                                                      string // pass, fail or inconclusive: the badge's colour
}

// vantageView is the vantage table and one SLO chart per vantage point: the
// whole run's chart drawn from that vantage's own series.
func vantageView(r *verdict.Report, regions []string, tl *timeline) ([]vantageRow, []chartView) {
	var rows []vantageRow
	var charts []chartView
	for _, v := range r.VantagePoints {
		row := vantageRow{Name: v.Name, Entry: v.Entry, Requests: fmtValue(v.Requests), Errors: fmtValue(v.Errors),
			Cutover: "—", Burst: fmtNum(v.Max5xxBurstS) + " s", P95: "—",
			Clock:   signed(v.ClockOffsetMS) + " ms ± " + fmtNum(v.ClockErrorMS),
			Verdict: strings.ToUpper(string(v.Verdict)), Reason: v.Reason, Class: string(v.Verdict)}
		if v.CutoverS != nil {
			row.Cutover = fmtNum(*v.CutoverS) + " s"
		}
		if v.P95VsBaseline != nil {
			row.P95 = signed(100**v.P95VsBaseline) + " %"
		}
		rows = append(rows, row)
		own := *r
		own.Series = v.Series
		c := sloChart(&own, buckets(v.Series), regions, tl)
		c.id, c.title = "slo-"+v.Name, "SLO seen from "+v.Name
		c.caption = "The SLO chart of " + v.Name + "'s clients alone (entry " + v.Entry + "), on the drill's timeline after clock correction."
		charts = append(charts, chartView{ID: c.id, Title: c.title, Caption: c.caption, SVG: c.render()})
	}
	return rows, charts
}

func signed(v float64) string {
	s := fmtNum(v)
	if v > 0 {
		s = "+" + s
	}
	return s
}
