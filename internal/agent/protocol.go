// Package agent sends a drill's load from other places: `regiondrill agent`
// is a process placed in a region that announces itself over NATS and runs
// the load generator (package load) for the vantage point it is assigned;
// the Coordinator, inside `regiondrill run`, measures each agent's clock
// offset, assigns the schedules, keeps a lease alive and journals the
// records the agents stream through a JetStream stream on one timeline.
//
// Everything between them is NATS: core request/reply for the clock and the
// assignment, core subjects for heartbeats and the lease, and a JetStream
// stream per run for the data, so a record an agent published survives a
// coordinator crash and a NATS server restart.
package agent

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Prefix starts every subject regiondrill uses on a shared NATS.
const Prefix = "regiondrill"

// Subjects of one agent, by its name: it publishes heartbeats and answers
// clock probes and assignments. NATS permissions can restrict each agent's
// user to its own subjects (docs/AGENTS.md).
func HeartbeatSubject(name string) string { return Prefix + ".agent." + name + ".hb" }
func ClockSubject(name string) string     { return Prefix + ".agent." + name + ".clock" }
func AssignSubject(name string) string    { return Prefix + ".agent." + name + ".assign" }

// HeartbeatWildcard matches every agent's heartbeat.
const HeartbeatWildcard = Prefix + ".agent.*.hb"

// Subjects and stream of one run: the coordinator publishes the lease and
// the stop, each agent its data on DataSubject(run, its vantage).
func LeaseSubject(run string) string         { return Prefix + ".run." + run + ".lease" }
func StopSubject(run string) string          { return Prefix + ".run." + run + ".stop" }
func DataSubject(run, vantage string) string { return Prefix + ".run." + run + ".data." + vantage }
func StreamName(run string) string           { return "RD_RUN_" + strings.ToUpper(run) }

// Agent states in heartbeats.
const (
	StateIdle    = "idle"
	StateLoading = "loading"
)

// Heartbeat is what an agent publishes every second.
type Heartbeat struct {
	Name     string `json:"name"`
	Instance string `json:"instance"` // random per process: a restarted agent is a new instance
	Version  string `json:"version"`
	ClockNS  int64  `json:"clock_ns"` // the agent's wall clock, Unix ns
	State    string `json:"state"`
	Run      string `json:"run,omitempty"` // the run it is loading for
	Seq      uint64 `json:"seq"`
}

// ClockReply answers a clock probe: when the agent received it and when it
// answered, both by its own wall clock (Unix ns).
type ClockReply struct {
	RecvNS int64 `json:"recv_ns"`
	SendNS int64 `json:"send_ns"`
}

// Assignment is one vantage point's work. It carries everything the agent
// needs; the agent holds no target credentials of its own.
type Assignment struct {
	Run         string   `json:"run"`
	Vantage     string   `json:"vantage"`
	Instance    string   `json:"instance"` // only this instance of the named agent may take it
	Entry       string   `json:"entry"`
	Rate        float64  `json:"rate"` // requests/s
	Sessions    int      `json:"sessions"`
	SessionMS   int64    `json:"session_ms"` // how long each session lasts before a new one takes its place; 0 = the whole run
	WriteRatio  float64  `json:"write_ratio"`
	ReplayRatio float64  `json:"replay_ratio"`
	TimeoutMS   int      `json:"timeout_ms"`
	MaxRetries  int      `json:"max_retries"`
	MaxWorkers  int      `json:"max_workers,omitempty"` // cap on concurrent requests; 0 = the generator's default
	MinWorkers  int      `json:"min_workers,omitempty"` // workers started up front; 0 = grow from one
	Tenants     []string `json:"tenants"`
	Questions   []string `json:"questions"`
	Seed        int64    `json:"seed"`
	TokenAuth   string   `json:"token_auth,omitempty"` // the credential the target wants with POST /token, if any
	StartNS     int64    `json:"start_ns"`             // when to start, by the agent's clock (Unix ns)
	DurationMS  int64    `json:"duration_ms"`          // length of the schedule: an upper bound, the stop ends it
	LeaseMS     int64    `json:"lease_ms"`             // stop when no lease renewal arrived for this long
	Subject     string   `json:"subject"`              // where the data goes (a JetStream subject)
	Lease       string   `json:"lease"`                // subject of the lease renewals
	Stop        string   `json:"stop"`                 // subject of the stop order
}

// AssignReply accepts or refuses an assignment.
type AssignReply struct {
	Accepted bool   `json:"accepted"`
	Error    string `json:"error,omitempty"`
}

// Data message kinds, in the Kind header of each message on the run's stream.
const (
	KindHeader  = "Rd-Kind"
	RegionsHdr  = "Rd-Regions" // the agent's region table, comma-joined (records only)
	KindStart   = "start"
	KindRecords = "records"
	KindWrites  = "writes"
	KindEnd     = "end"
)

// Start is the first data message: when the generator started, by the
// agent's clock. Record times are ns since this instant.
type Start struct {
	StartedNS int64 `json:"started_ns"`
}

// The last data message of a vantage is an event.VantageEnd: the
// coordinator journals it as it came.

// Version is this binary's module version and VCS revision, for heartbeats.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v = fmt.Sprintf("%s (%s)", v, s.Value[:12])
		}
	}
	return v
}
