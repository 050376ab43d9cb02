package agent

import (
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/load"
)

// SessionShift does for Session what event.VantageShift does for Seq: each
// agent numbers its sessions from 0, and a session of one vantage must not
// look like the same client as another's (stickiness is judged per session).
const SessionShift = 24

// regionIndex is the coordinator's one region table: every agent numbers
// the regions it saw in its own order, and the merged records use this one.
type regionIndex struct {
	names []string
	index map[string]uint8
}

func newRegionIndex() *regionIndex {
	return &regionIndex{names: []string{""}, index: map[string]uint8{"": 0}}
}

// mapping translates an agent's table to this one, adding the names it did
// not hold yet; grown says whether it did. Past 255 names, new ones map to
// 0 (no region), as in the generator.
func (x *regionIndex) mapping(table []string) (m [256]uint8, grown bool) {
	for i, name := range table {
		if i > 255 {
			break
		}
		g, ok := x.index[name]
		if !ok && len(x.names) <= 255 {
			g = uint8(len(x.names))
			x.index[name] = g
			x.names = append(x.names, name)
			grown = true
		}
		m[i] = g
	}
	return m, grown
}

// rebase puts one agent's records on the coordinator's timeline in place:
// times move by shift (End 0, still in flight, stays 0), Seq and Session
// take the vantage index in their top bits, regions are renumbered by m.
func rebase(recs []load.Record, vantage int, shift int64, m *[256]uint8) {
	top := uint64(vantage) << event.VantageShift
	for i := range recs {
		r := &recs[i]
		r.Seq = top | r.Seq&(1<<event.VantageShift-1)
		r.Sched += shift
		r.Start += shift
		if r.End != 0 {
			r.End += shift
		}
		r.Region, r.Sticky = m[r.Region], m[r.Sticky]
		r.Session = uint32(vantage)<<SessionShift | r.Session&(1<<SessionShift-1)
	}
}

// rebaseWrites does the same for write attempts: times move by shift and
// the id takes the vantage (keys already differ: each vantage has its seed).
func rebaseWrites(ws []load.WriteAttempt, vantage int, shift int64) {
	top := uint64(vantage) << event.VantageShift
	for i := range ws {
		w := &ws[i]
		w.ID = top | w.ID&(1<<event.VantageShift-1)
		if w.FirstSent != 0 {
			w.FirstSent += shift
		}
		if w.LastEnd != 0 {
			w.LastEnd += shift
		}
	}
}
