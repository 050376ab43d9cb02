package drill

import (
	"context"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
)

// The engine sees a deployment through these small interfaces, each named
// for the part of it that answers: the regions, the router in front of
// them, the fault layer, the webhook sink, the change API and the drill
// lock. adapter.HTTP implements all of them (over the regions' contract
// API, a router adapter and a fault API); a test or another adapter can
// implement them on its own.

// Regions reads the regions' contract endpoints, bypassing the router.
type Regions interface {
	Health(ctx context.Context, region string) (contract.Health, error)
	// HealthAll reads every region; unreachable ones are in errs by name.
	HealthAll(ctx context.Context) (hs map[string]contract.Health, errs map[string]string)
	Token(ctx context.Context, region, session string) (string, error)
	Ask(ctx context.Context, region, token string, ask contract.AskRequest) (contract.AskResponse, error)
	AskSeen(ctx context.Context, region, token string, ask contract.AskRequest) (contract.AskResponse, adapter.Seen, error)
	Writes(ctx context.Context, region string) (contract.Writes, error)
}

// Router is the traffic director in front of the regions, as clients meet it.
type Router interface {
	Weights(ctx context.Context) (map[string]int, error)
	// Rotation is which regions the router has in rotation, by name;
	// an error when it cannot tell (adapter.ErrNoStatus: it has no status).
	Rotation(ctx context.Context) (map[string]bool, error)
	AskEdge(ctx context.Context, session, token string, ask contract.AskRequest) (contract.AskResponse, adapter.Seen, error)
	EdgeToken(ctx context.Context, session string) (string, error)
}

// Faults is the fault layer: what is injected now, and the leases that make
// an injected fault lapse when the drill stops renewing it.
type Faults interface {
	ActiveFaults(ctx context.Context) ([]contract.Fault, error)
	RenewFault(ctx context.Context, id string, lease time.Duration) error
}

// Sink is where the regions' webhooks land.
type Sink interface {
	Deliveries(ctx context.Context) ([]contract.Delivery, error)
}

// Changer makes one change; Describe says what it would send (dry run and
// rollback plans).
type Changer interface {
	Do(ctx context.Context, a adapter.Action) error
	Describe(a adapter.Action) string
}

// Locker holds the target's drill lock: one drill at a time per target.
type Locker interface {
	Lock(ctx context.Context, owner string, lease time.Duration) error
	Unlock(ctx context.Context, owner string) error
}

// Target is every part together, with the addresses the load and the
// journal need.
type Target interface {
	Regions
	Router
	Faults
	Sink
	Changer
	Locker
	Endpoints() adapter.Endpoints
}

var _ Target = (*adapter.HTTP)(nil)
