package contract

import "time"

// The fault service a plan's targets.faults names (the lab's is
// toxiproxy-backed) cuts or slows a region's proxies, each fault under a
// lease so that it ends by itself when the drill dies:
//
//	POST   /faults             a FaultRequest → 201 {"id": "..."}
//	GET    /faults             the active faults, []Fault
//	POST   /faults/{id}/renew  a FaultRenewal (optional)
//	DELETE /faults/{id}        removes it (idempotent) → 204
//
// Mutations carry the admin token as a bearer token.

// Fault kinds every fault service knows.
const (
	FaultBlackhole = "blackhole" // connections accepted, nothing passed, both directions
	FaultLatency   = "latency"   // responses delayed by latency ± jitter
	FaultReset     = "reset"     // connections reset as soon as data flows
)

// FaultRequest is POST /faults: one fault on proxies. Durations are Go
// duration strings ("250ms"); an empty lease takes the service's default.
type FaultRequest struct {
	Kind    string   `json:"kind"`
	Targets []string `json:"targets"` // proxy names (ProxyNames)
	Latency string   `json:"latency,omitempty"`
	Jitter  string   `json:"jitter,omitempty"`
	Lease   string   `json:"lease,omitempty"`
}

// FaultRenewal is POST /faults/{id}/renew's body: the new lease from now,
// empty for the service's default.
type FaultRenewal struct {
	Lease string `json:"lease"`
}

// Fault is an active fault as GET /faults lists it.
type Fault struct {
	ID        string        `json:"id"`
	Kind      string        `json:"kind"`
	Targets   []string      `json:"targets"`
	Latency   time.Duration `json:"latency_ns,omitempty"`
	Jitter    time.Duration `json:"jitter_ns,omitempty"`
	AppliedAt time.Time     `json:"applied_at"`
	ExpiresAt time.Time     `json:"expires_at"`
}
