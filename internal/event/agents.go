package event

import "github.com/regiondrill/regiondrill/internal/load"

// What the agents' coordinator journals (docs/AGENTS.md); the judge gives
// each vantage point its own verdict from it.

// VantageShift is how far left a merged record's Seq is shifted to hold its
// vantage point: Seq>>VantageShift is the vantage's 1-based index in the
// plan's agents.vantage_points, 0 for the local generator. An agent's own
// sequence numbers stay below 2^48.
const VantageShift = 48

// VantageOf is the vantage index a merged record's Seq carries (0 = local).
func VantageOf(seq uint64) int { return int(seq >> VantageShift) }

// Vantage is one vantage point of the run and what it was assigned (the
// data of agents_vantages is every vantage, in index order).
type Vantage struct {
	Index    int          `json:"index"` // Seq>>VantageShift of its records
	Name     string       `json:"name"`
	Share    float64      `json:"share"`
	Entry    string       `json:"entry"`
	Rate     float64      `json:"rate"`
	Sessions int          `json:"sessions"`
	Seed     int64        `json:"seed"`
	Instance string       `json:"instance,omitempty"`
	Version  string       `json:"version,omitempty"`
	Clock    *ClockOffset `json:"clock,omitempty"` // measured before the load
	Assigned bool         `json:"assigned"`
	Why      string       `json:"why,omitempty"` // why it is not assigned
}

// ClockOffset is one agent's clock offset as measured.
type ClockOffset struct {
	OffsetNS int64 `json:"offset_ns"` // agent clock − coordinator clock
	DelayNS  int64 `json:"delay_ns"`  // round trip of the sample used: the error is at most half of it
	Samples  int   `json:"samples"`
}

// AgentsClock is a clock measurement of every agent after the load.
type AgentsClock struct {
	Phase   string                 `json:"phase"`
	Offsets map[string]ClockOffset `json:"offsets"`
	Errors  map[string]string      `json:"errors,omitempty"`
}

// AgentLost says a vantage point's agent was lost: its vantage is
// inconclusive from LastHeartbeatMS on.
type AgentLost struct {
	Vantage         string `json:"vantage"`
	LastHeartbeatMS int64  `json:"last_heartbeat_ms"` // journal ms
	Why             string `json:"why"`
}

// AgentStart is when a vantage's generator started.
type AgentStart struct {
	Vantage   string `json:"vantage"`
	StartedNS int64  `json:"started_ns"` // agent clock, Unix ns
	ShiftNS   int64  `json:"shift_ns"`   // added to its record times
}

// AgentEnd is a vantage's last message as the coordinator received it.
type AgentEnd struct {
	Vantage  string `json:"vantage"`
	Received uint64 `json:"records_received"`
	VantageEnd
}

// VantageEnd is the last message an agent sends for its vantage, and how
// it is journaled.
type VantageEnd struct {
	Reason  EndReason     `json:"reason"`
	Error   string        `json:"error,omitempty"`   // the generator's error
	Records uint64        `json:"records"`           // records published in all
	Batches uint64        `json:"batches"`           // record batches published in all
	Writes  int           `json:"writes"`            // logical writes sent
	Summary *load.Summary `json:"summary,omitempty"` // the generator's own account
}

// EndReason is why a vantage's load ended.
type EndReason string

const (
	EndStopped     EndReason = "stopped"      // the coordinator stopped it: the normal end
	EndLeaseLapsed EndReason = "lease_lapsed" // it lost the coordinator
	EndShutdown    EndReason = "shutdown"     // the agent process was interrupted
	EndDone        EndReason = "done"         // the schedule ran out
	EndError       EndReason = "error"        // the generator failed
)

// AgentBadData is a message of a vantage's stream the coordinator could not
// read.
type AgentBadData struct {
	Error   string `json:"error"`
	Vantage string `json:"vantage"`
}
