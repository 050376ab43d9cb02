// Package contract holds the wire types of the drill contract: what a region
// exposes over HTTP so regiondrill can drill it. The lab implements every
// endpoint; adapters for real targets speak the same shapes.
package contract

import "time"

// Role is what a region does with writes.
type Role string

const (
	RolePrimary  Role = "primary"  // applies writes to its store
	RoleFollower Role = "follower" // forwards writes to the primary through its queue
	RoleFrozen   Role = "frozen"   // accepts and enqueues, applies nothing, forwards nothing
)

// EnvStamp identifies the release and runtime a region runs, for env-parity checks.
type EnvStamp struct {
	Release string `json:"release"`
	Runtime string `json:"runtime"`
	Config  string `json:"config"` // digest of serving settings that must match across regions
}

// Health is GET /health. A bare 200 is not health: every field is required.
type Health struct {
	Region       string     `json:"region"`
	Ready        bool       `json:"ready"`
	Role         Role       `json:"role"`
	Epoch        uint64     `json:"epoch"` // fencing epoch of the primary this region knows
	Primary      string     `json:"primary"`
	IndexHash    string     `json:"index_hash"`
	Metric       string     `json:"metric"`
	Analyzer     string     `json:"analyzer"`
	Embedder     string     `json:"embedder"`
	BuildTS      time.Time  `json:"build_ts"`
	SchemaRev    string     `json:"schema_rev"`
	ModelTag     string     `json:"model_tag"`
	SecretsRev   string     `json:"secrets_rev"`
	Env          EnvStamp   `json:"env"`
	Frozen       bool       `json:"frozen"`
	EmitFrom     []string   `json:"emit_from"` // regions allowed to send webhooks
	MinInstances int        `json:"min_instances"`
	Concurrency  int        `json:"concurrency"`
	K            int        `json:"k"` // top-k a request asking for 0 gets
	Queue        QueueStats `json:"queue"`
	Cache        CacheStats `json:"cache"`
}

// QueueStats is the visible state of a region's durable queues.
type QueueStats struct {
	Backlog          int     `json:"backlog"`            // messages not yet applied or forwarded
	OldestAgeSeconds float64 `json:"oldest_age_seconds"` // age of the oldest pending message
	WebhookBacklog   int     `json:"webhook_backlog"`
	Applied          int     `json:"applied"`      // writes this region applied to its store
	DedupeHits       int     `json:"dedupe_hits"`  // writes dropped as already applied
	DeadLetters      int     `json:"dead_letters"` // writes set aside as never applicable (kept, listed by GET /writes/dead)
}

// CacheStats are the answer cache counters.
type CacheStats struct {
	Entries int   `json:"entries"`
	Hits    int64 `json:"hits"`
	Misses  int64 `json:"misses"`
}

// AskRequest is POST /ask.
type AskRequest struct {
	Tenant   string `json:"tenant"`
	Question string `json:"question"`
	K        int    `json:"k,omitempty"` // top-k chunks; 0 means the region's default
	NoCache  bool   `json:"no_cache,omitempty"`
}

// Chunk is one retrieved passage with its fused score.
type Chunk struct {
	DocID   string  `json:"doc_id"`
	ChunkID string  `json:"chunk_id"`
	Score   float64 `json:"score"`
	Text    string  `json:"text"`
}

// Citation names the chunk an answer sentence came from.
type Citation struct {
	DocID   string `json:"doc_id"`
	ChunkID string `json:"chunk_id"`
}

// AskResponse is the answer of POST /ask.
type AskResponse struct {
	Region    string     `json:"region"`
	Answer    string     `json:"answer"`
	Citations []Citation `json:"citations"`
	Chunks    []Chunk    `json:"chunks"`
	IndexHash string     `json:"index_hash"`
	K         int        `json:"k"`
	Cached    bool       `json:"cached"`
	Cold      bool       `json:"cold"` // served by an instance that paid a cold start
}

// WriteRequest is the body of POST /write; the Idempotency-Key header is the
// page's dedupe_key.
type WriteRequest struct {
	Tenant  string `json:"tenant"`
	EventID string `json:"event_id"`
	Rev     int    `json:"rev"`
	Payload string `json:"payload"`
}

// WriteAck is the answer of POST /write once the write is durable.
type WriteAck struct {
	Key      string `json:"key"`
	Region   string `json:"region"` // region that accepted it
	Status   string `json:"status"` // "queued" (durable, not yet applied) or "applied"
	Sequence uint64 `json:"sequence"`
}

// StoredWrite is one record of a region's store, as GET /writes lists it.
type StoredWrite struct {
	Key       string    `json:"key"`
	Tenant    string    `json:"tenant"`
	BodyHash  string    `json:"body_hash"`
	AppliedBy string    `json:"applied_by"` // region whose applier wrote it
	Epoch     uint64    `json:"epoch"`      // primary epoch the applier held
	Direct    bool      `json:"direct"`     // written without the queue (a frozen region must never do this)
	AppliedAt time.Time `json:"applied_at"`
	Replica   bool      `json:"replica"` // copied from the applying region, not applied here
}

// Writes is GET /writes.
type Writes struct {
	Region string        `json:"region"`
	Writes []StoredWrite `json:"writes"`
	// Queued lists the keys still waiting in this region's write queue, so a
	// write not applied yet is never mistaken for a lost one (optional).
	Queued []string `json:"queued,omitempty"`
	// Dead lists writes set aside as never applicable (optional).
	Dead []DeadWrite `json:"dead,omitempty"`
}

// DeadWrite is a queued write the region set aside, with its reason.
type DeadWrite struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// Admin requests. All mutations require "Authorization: Bearer <admin token>".
type (
	FreezeRequest struct {
		Frozen bool `json:"frozen"`
	}
	PromoteRequest struct {
		Primary string `json:"primary"` // region that becomes primary
		Epoch   uint64 `json:"epoch"`   // must exceed every epoch seen so far
	}
	RebuildRequest struct {
		Analyzer string `json:"analyzer,omitempty"` // empty keeps the current one
		Metric   string `json:"metric,omitempty"`
	}
	PurgeRequest struct {
		Prefix string `json:"prefix,omitempty"`
		Tenant string `json:"tenant,omitempty"`
	}
	PurgeResult struct {
		Purged int `json:"purged"`
	}
	WarmRequest struct {
		Tenant    string   `json:"tenant"`
		Questions []string `json:"questions"`
	}
	ScaleRequest struct {
		MinInstances *int `json:"min_instances,omitempty"`
		K            *int `json:"k,omitempty"` // default top-k for requests that ask for 0; 0 restores the index's own
		Concurrency  *int `json:"concurrency,omitempty"`
	}
	EmitRequest struct {
		EmitFrom []string `json:"emit_from"`
	}
	RotateRequest struct {
		Current string   `json:"current"` // key id used for signing
		Accept  []string `json:"accept"`  // key ids accepted
	}
)

// Header names of the contract.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderRegion         = "X-Region"        // region that served the response
	HeaderStickyRegion   = "X-Sticky-Region" // region the session is pinned to
	HeaderRegionPin      = "X-Region-Pin"    // request: pin to this region if healthy
	HeaderSession        = "X-Session"       // request: session id for stickiness
	HeaderKeyID          = "X-Key-Id"
	HeaderColdStart      = "X-Cold-Start"
	HeaderToolError      = "X-Tool-Error" // a region's tool (embedder) failed
	HeaderCache          = "X-Cache"      // response: "hit" when the answer came from the answer cache, else "miss"
	HeaderIndexHash      = "X-Index-Hash" // response: INDEX_HASH of the index that answered
	StickyCookie         = "rd_sticky"
)

// ProxyNames names the fault proxies of a region among these regions, as the
// fault service of the contract names them: its ingress (the region's name),
// one egress proxy per peer region, and one each to the ledger and the
// webhook sink. A blackhole of the region cuts all of them.
func ProxyNames(name string, regions []string) []string {
	out := []string{name}
	for _, peer := range regions {
		if peer != name {
			out = append(out, name+">"+peer)
		}
	}
	return append(out, name+">ledger", name+">sink")
}
