// Package kind holds the drill kinds, one file each (a.go for drill A, …),
// the way toxiproxy keeps one file per toxic. A kind says what it is (its
// letter, name and description), what it needs from a target, what each of
// the seven steps of the page's runbook does for it, and which targets the
// judge adds for it. Registered once, a kind is what plan validation, the
// JSON Schema, the dry run, conform's rules, the engine (package drill) and
// the judge know of it; docs/ADDING_A_DRILL.md walks through adding one.
//
// The package sits below the engine and the judge: a kind's steps act
// through the Drill the engine hands them, and its judging is data the
// judge reads.
package kind

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// Kind is one drill kind.
type Kind interface {
	// Info is what the kind is, needs and is judged on.
	Info() Info
	// Regions picks the region the drill changes and the one that keeps
	// serving, from the plan and the target's primary before the drill.
	Regions(p *plan.Plan, primary string) (changed, serving string)
	// Runbook is what each of the seven steps does for this kind.
	Runbook() Runbook
}

// Info is what a kind is, needs and is judged on.
type Info struct {
	Letter      event.Letter
	Name        plan.DrillKind
	Description string
	// Needs are the admin endpoints of the drill contract the kind calls:
	// conform rules it out when one of them fails.
	Needs []Need
	// Faults and Sink say why the kind needs a fault control API
	// (targets.faults) and the webhook sink (targets.sink, or its waiver);
	// "" when it does not. Plan validation refuses targets without them.
	Faults, Sink string
	// Evacuates is true when the changed region leaves service: the
	// cutover and p95 are judged from the evacuation decision, the region's
	// queue waits for its return, and it is no reference for answers.
	Evacuates bool
	// Unplanned is true when the region fails rather than drains: p95 is
	// judged from the end of the cutover, not from the decision.
	Unplanned bool
	// Targets are the judge's targets for this kind beyond those every
	// drill gets.
	Targets []Target
}

// Need is an admin endpoint of the drill contract (docs/CONTRACT.md).
type Need string

const (
	NeedFreeze  Need = "/admin/freeze"
	NeedPromote Need = "/admin/promote"
	NeedRebuild Need = "/admin/rebuild"
	NeedPurge   Need = "/admin/purge"
	NeedWarm    Need = "/admin/warm"
	NeedScale   Need = "/admin/scale"
	NeedEmit    Need = "/admin/emit"
)

// Target names an acceptance target the judge (package judge) adds for the
// kinds that list it.
type Target string

const (
	// NoFlapping: no session goes back to the evacuated region before the
	// return starts.
	NoFlapping Target = "no_flapping"
	// Stickiness: a session stays on its region while that region serves
	// (judged when the plan asks for sticky sessions).
	Stickiness Target = "stickiness"
	// SkewedIndexServed: no client is answered from the skewed index.
	SkewedIndexServed Target = "skewed_index_served"
	// Webhooks: webhook_duplicates and webhook_missing.
	Webhooks Target = "webhooks"
	// CachePurged: the return purges the region's cache, so the purge's
	// evidence must be in the journal when the plan purges (every drill's
	// purges are judged whenever they happened).
	CachePurged Target = "cache_purged"
	// Rebalanced: after the return's last weight step, new sessions reach
	// the returned region about as often as before the drill.
	Rebalanced Target = "rebalanced"
)

// Runbook is the seven steps of the page's runbook (event.Steps) in order,
// as a kind runs them.
type Runbook [7]Step

// Step is what one runbook step does for a kind, and what the dry run
// says it will do. A step without Do is skipped: the journal says so.
type Step struct {
	Do   func(ctx context.Context, d Drill) ([]string, error)
	Says func(p *plan.Plan) string
}

// Drill is one drill of a run as a kind's steps see it: the engine
// (package drill) implements it. Every change goes through Apply and so
// through the journal (intent with undo, then applied) and the survivor
// guard; everything else is journaled by the engine.
type Drill interface {
	Plan() *plan.Plan
	Changed() string // the region the drill changes
	Serving() string // the region that keeps serving
	// Snapshot is the target's state before the drill.
	Snapshot() event.Snapshot

	// The steps every kind shares.
	PreChecks(ctx context.Context) ([]string, error)             // baseline, canary probes, the pre-check gate
	Promote(ctx context.Context) ([]string, error)               // promote the serving region with a new epoch, emit webhooks from it
	Hold(ctx context.Context) ([]string, error)                  // live checks while the change holds; clamp top-k when p95 is over the SLO
	Verify(ctx context.Context, region string) ([]string, error) // the probe set in region; rebuild and purge when it is off
	Restore(ctx context.Context) ([]string, error)               // undo every change, re-warm the changed region
	Closeout(ctx context.Context) ([]string, error)              // drain, canary probes, post-checks

	// What a kind's own steps are made of.
	Mark(kind event.MarkKind, label string)
	Apply(ctx context.Context, do adapter.Action, undo *adapter.Action, why string) error
	Prewarm(ctx context.Context) error                                // raise the serving region's minimum instances
	Blackhole(ctx context.Context, region string) error               // cut a region's ingress and egress, its fault leases renewed
	StartIndexTraffic(ctx context.Context)                            // client sessions asking through the entry until the index is rebuilt (drill C)
	Weights(ctx context.Context, region string, w int) map[string]int // the router's weights with region's set to w
	Health(ctx context.Context, region string) (contract.Health, error)
	Warm(ctx context.Context, region string) error
	PurgeWithEvidence(ctx context.Context, region string) error
	LiveChecks(ctx context.Context) []string // run the live checks now; the names of those that failed
	Sleep(ctx context.Context, d time.Duration) error
	RestoreAll(ctx context.Context) error    // restore the snapshot now
	RefuseReuse(region string)               // journal that region keeps weight 0: its index differs
	Failed(format string, args ...any) error // the drill found a failure it must not go past
}

// kinds are the registered kinds, by letter.
var kinds []Kind

// Register adds a kind: each kind's file registers it in its init. It
// registers the kind with plan too (plan.RegisterDrill).
func Register(k Kind) {
	info := k.Info()
	if info.Description == "" || len(strings.TrimSpace(string(info.Name))) == 0 {
		panic(fmt.Sprintf("kind %s: a name and a description are required", info.Letter))
	}
	for i, s := range k.Runbook() {
		if s.Says == nil {
			panic(fmt.Sprintf("kind %s: step %s says nothing for the dry run", info.Letter, event.Steps[i]))
		}
	}
	plan.RegisterDrill(plan.DrillInfo{Kind: info.Name, Letter: string(info.Letter), Description: info.Description,
		Faults: info.Faults, Sink: info.Sink})
	kinds = append(kinds, k)
	slices.SortFunc(kinds, func(a, b Kind) int { return strings.Compare(string(a.Info().Letter), string(b.Info().Letter)) })
}

// All are the registered kinds by letter.
func All() []Kind { return slices.Clone(kinds) }

// Lookup finds a kind by letter (any case) or name.
func Lookup(s string) (Kind, bool) {
	for _, k := range kinds {
		if info := k.Info(); string(info.Name) == s || strings.EqualFold(string(info.Letter), s) {
			return k, true
		}
	}
	return nil, false
}

// Needing lists the kinds that need n, by letter.
func Needing(n Need) []plan.DrillKind {
	var out []plan.DrillKind
	for _, k := range kinds {
		if info := k.Info(); slices.Contains(info.Needs, n) {
			out = append(out, info.Name)
		}
	}
	return out
}

// Names are every kind's name, by letter.
func Names() []plan.DrillKind {
	var out []plan.DrillKind
	for _, k := range kinds {
		out = append(out, k.Info().Name)
	}
	return out
}

// Evacuation gives the kinds that embed it their regions: the plan's
// evacuated region changes, its promoted survivor keeps serving.
type Evacuation struct{}

// Regions are the plan's evacuate and promote_survivor.
func (Evacuation) Regions(p *plan.Plan, _ string) (changed, serving string) {
	return p.Evacuate, p.PromoteSurvivor
}

// MovesPrimary are the admin endpoints a kind that moves the primary away
// and back calls: freeze writes, promote, warm, scale, emit policy.
var MovesPrimary = []Need{NeedFreeze, NeedPromote, NeedWarm, NeedScale, NeedEmit}

// Title is a drill's title for people, "drill A: planned evacuation", for
// a letter or name; "" for an unknown one.
func Title(s string) string {
	k, ok := Lookup(s)
	if !ok {
		return ""
	}
	info := k.Info()
	return "drill " + string(info.Letter) + ": " + strings.ReplaceAll(string(info.Name), "_", " ")
}
