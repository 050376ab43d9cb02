package measure

import "github.com/regiondrill/regiondrill/internal/load"

// Errors is the error breakdown of the asks and writes of a run.
type Errors struct {
	Total   int                   `json:"total"`  // finished asks and writes, canceled ones included
	Failed  int                   `json:"failed"` // any class but none
	ByClass map[load.ErrClass]int `json:"by_class"`
}

// Timeouts splits the "no usable answer" failures by where they happened.
type Timeouts struct {
	Connect  int `json:"connect"`
	TLS      int `json:"tls"`
	BodyRead int `json:"body_read"`
	Timeout  int `json:"timeout"`
	ToolCall int `json:"tool_call"`
}

// Breakdown counts errors by class for one region index or AllRegions.
func Breakdown(records []load.Record, region int) Errors {
	e := Errors{ByClass: map[load.ErrClass]int{}}
	for i := range records {
		r := &records[i]
		if r.Kind == load.KindToken || r.End == 0 || !inRegion(r, region) {
			continue
		}
		e.Total++
		if r.Err != load.ErrNone {
			e.Failed++
			e.ByClass[r.Err]++
		}
	}
	return e
}

// TimeoutBreakdown picks the timeout-like classes out of a breakdown.
func TimeoutBreakdown(e Errors) Timeouts {
	return Timeouts{
		Connect:  e.ByClass[load.ErrConnect],
		TLS:      e.ByClass[load.ErrTLS],
		BodyRead: e.ByClass[load.ErrBodyRead],
		Timeout:  e.ByClass[load.ErrTimeout],
		ToolCall: e.ByClass[load.ErrToolCall],
	}
}
