package verdict

// VantagePoint is the drill as one vantage point's clients saw it: one
// agent's share of the load, judged against its own baseline. A run without
// agents has none (its one vantage, "local", is the whole report).
type VantagePoint struct {
	Name          string   `json:"name"`
	Entry         string   `json:"entry,omitempty"`
	Requests      int      `json:"requests"`        // asks and writes that ended
	Errors        int      `json:"errors"`          // of which failed
	CutoverS      *float64 `json:"cutover_s"`       // first evacuation judged; null if none
	Max5xxBurstS  float64  `json:"max_5xx_burst_s"` // longest over the drills
	P95VsBaseline *float64 `json:"p95_vs_baseline"` // worst over the drills, as a ratio (0.1 = +10%); null if not measured
	ClockOffsetMS float64  `json:"clock_offset_ms"` // the agent's clock minus the coordinator's, as measured before the load
	ClockErrorMS  float64  `json:"clock_error_ms"`  // bound on the offset's error: half the probe's round trip
	Verdict       Outcome  `json:"verdict"`
	Reason        string   `json:"reason,omitempty"`
	Series        []Second `json:"series,omitempty"` // per second, for its SLO chart
}
