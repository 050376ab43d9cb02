package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/regiondrill/regiondrill/internal/verdict"
)

// WriteCSV writes samples.csv: one row per second of r.Series with the
// overall columns, four columns per region and the cache columns.
func WriteCSV(w io.Writer, r *verdict.Report) error {
	regions := regionNames(r)
	cw := csv.NewWriter(w)
	head := []string{"t", "requests", "errors", "err_5xx", "p50_ms", "p95_ms", "p99_ms"}
	for _, rg := range regions {
		head = append(head, rg+"_requests", rg+"_p95_ms", rg+"_backlog", rg+"_backlog_age_s")
	}
	head = append(head, "cache_hit_ratio", "cold")
	if err := cw.Write(head); err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	row := make([]string, 0, len(head))
	for _, s := range r.Series {
		row = append(row[:0],
			strconv.FormatInt(s.T, 10),
			strconv.Itoa(s.Requests),
			strconv.Itoa(s.Errors),
			strconv.Itoa(s.Err5xx),
			csvFloat(s.P50), csvFloat(s.P95), csvFloat(s.P99))
		for _, rg := range regions {
			row = append(row,
				strconv.Itoa(s.ByRegion[rg]),
				csvFloat(s.P95Region[rg]),
				strconv.Itoa(s.Backlog[rg]),
				csvFloat(s.BacklogAge[rg]))
		}
		row = append(row, csvFloat(s.CacheHit), strconv.Itoa(s.Cold))
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("report: csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	return nil
}

// csvFloat is the shortest exact decimal form of v.
func csvFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
