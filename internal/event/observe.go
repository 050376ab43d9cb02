package event

import (
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/probe"
	"github.com/regiondrill/regiondrill/internal/pulse"
)

// Health is the data of health: one sample of every region, taken every
// second while the drill runs.
type Health struct {
	Regions map[string]contract.Health `json:"regions"`
	Errors  map[string]string          `json:"errors,omitempty"`
	// Rotation says which regions the router had in rotation, when its
	// status can be read (the lab edge's can): a session may leave a region
	// that left the rotation.
	Rotation map[string]bool `json:"rotation,omitempty"`
	// Load is the client's requests that ended since the previous sample,
	// for the live and terminal views (the report measures from records).
	Load *pulse.Second `json:"load,omitempty"`
}

// Check is the data of check: one reading of a plan check.
type Check struct {
	Phase  plan.Phase     `json:"phase"`
	Name   plan.CheckName `json:"name"`
	Drill  Letter         `json:"drill"`
	Pass   bool           `json:"pass"`
	Value  string         `json:"value"`
	Detail string         `json:"detail,omitempty"`
	AtMS   int64          `json:"at_ms"`
	// Advisory checks are reported; their failure fails no drill.
	Advisory bool `json:"advisory,omitempty"`
}

// Probe is the data of probe: a probe set's results in one region.
type Probe struct {
	Drill   Letter         `json:"drill"`
	Phase   ProbePhase     `json:"phase"`
	Region  string         `json:"region"`
	Results []probe.Result `json:"results"`
	Error   string         `json:"error,omitempty"`
}

// Stop conditions of the engine's own, beside the plan's metrics.
const (
	// StopLeaseLost: the drill lost a lease it holds, the drill lock
	// (another drill may now change the target) or an injected fault's
	// (the outage it judges may have ended).
	StopLeaseLost = "lease_lost"
	// StopAgentsLost: fewer agents than agents.min_agents are alive.
	StopAgentsLost = "agents_lost"
)

// Stop is the data of stop: the condition that tripped.
type Stop struct {
	Condition string  `json:"condition"` // a plan.StopMetric, StopLeaseLost or StopAgentsLost
	Value     float64 `json:"value"`
	Above     float64 `json:"above"`
	Detail    string  `json:"detail,omitempty"` // why, for conditions without a threshold (lease_lost)
}

// Stall is a span in which the measuring process could not run (journal
// ms): requests in flight across it were timed by a clock that was not
// looking, and the judge leaves them out of latency comparisons.
type Stall struct {
	FromMS int64 `json:"from_ms"`
	ToMS   int64 `json:"to_ms"`
}

// LoadStart is when the load started: record times are ns since then.
type LoadStart struct {
	AtMS int64 `json:"at_ms"`
}

// LoadError is why the load could not run (or stopped).
type LoadError string

// RegionsIndex names the regions the records' region numbers index.
type RegionsIndex []string

// StoreError is a region's store that could not be read: "region: why".
type StoreError string

// DeliveriesError is why the sink's deliveries could not be read.
type DeliveriesError string

// DeliveriesWaived says the plan waives the sink.
type DeliveriesWaived string

// CachePurge is journaled around every cache purge: the region's hot
// questions asked from its cache right before the purge (they must be
// hits, or the purge has nothing to prove) and right after it (they must be
// misses), with the entry count at both moments. The answers' X-Cache
// header says hit or miss.
type CachePurge struct {
	Drill         Letter `json:"drill"`
	Region        string `json:"region"`
	AtMS          int64  `json:"at_ms"` // when the purge returned
	EntriesBefore int    `json:"entries_before"`
	EntriesAfter  int    `json:"entries_after"`
	Asked         int    `json:"asked"`       // hot questions asked each time
	HitsBefore    int    `json:"hits_before"` // answered from cache before the purge
	HitsAfter     int    `json:"hits_after"`  // answered from cache after it
	// Unlabelled counts answers without an X-Cache header: the contract
	// field the judgement rests on was missing.
	Unlabelled int    `json:"unlabelled"`
	Error      string `json:"error,omitempty"` // what could not be observed
}

// IndexTraffic is drill C's client traffic: sessions asking through the
// entry from before the skewed follower is published until after its
// rebuild. Each answer's X-Index-Hash says which index answered it.
type IndexTraffic struct {
	Drill  Letter    `json:"drill"`
	Skewed string    `json:"skewed"`
	FromMS int64     `json:"from_ms"`
	ToMS   int64     `json:"to_ms"`
	Asks   []SeenAsk `json:"asks"`
}

// SeenAsk is one answer of IndexTraffic.
type SeenAsk struct {
	AtMS      int64  `json:"at_ms"`
	Session   int    `json:"session"`
	Status    int    `json:"status,omitempty"`
	Region    string `json:"region,omitempty"`
	IndexHash string `json:"index_hash,omitempty"` // X-Index-Hash of the answer
	Err       string `json:"err,omitempty"`
}
