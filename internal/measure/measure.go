// Package measure turns load records into the numbers a drill is judged by:
// per-second series, latency percentiles from the scheduled time, 5xx bursts,
// cutover time and error breakdowns. Everything here is a pure function of
// the records: no clock, no network.
package measure

import (
	"fmt"
	"time"

	"github.com/regiondrill/regiondrill/internal/load"
)

// AllRegions selects every region where a region index is expected.
const AllRegions = -1

const second = int64(time.Second)

// counted reports whether r takes part in rates and percentiles: a finished
// ask or write. Token fetches are auxiliary; requests canceled at the end of
// the run have no result and are only counted by class.
func counted(r *load.Record) bool {
	return r.Kind != load.KindToken && r.End != 0 && r.Err != load.ErrCanceled
}

func inRegion(r *load.Record, region int) bool {
	return region == AllRegions || int(r.Region) == region
}

// isError: any failure the client saw.
func isError(r *load.Record) bool { return r.Err != load.ErrNone }

// isOutage: the failures that make a 5xx burst: a 5xx, or no answer at all
// (dial failure or timeout).
func isOutage(r *load.Record) bool {
	switch r.Err {
	case load.ErrStatus5xx, load.ErrConnect, load.ErrTimeout:
		return true
	}
	return r.Status >= 500
}

func secondOf(t int64) int {
	if t < 0 {
		return -1
	}
	return int(t / second)
}

// regionName names index i, tolerating a short table.
func regionName(regions []string, i int) string {
	if i < len(regions) && regions[i] != "" {
		return regions[i]
	}
	if i == 0 {
		return "unknown"
	}
	return fmt.Sprintf("region-%d", i)
}
