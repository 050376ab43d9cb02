package ledger

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// WebhookClass is the verdict on one webhook id.
type WebhookClass uint8

const (
	WebhookMissing     WebhookClass = iota // applied, never delivered
	WebhookDuplicate                       // delivered more than once
	WebhookDisallowed                      // delivered from a region not allowed to emit at that time
	WebhookUnexpected                      // delivered, matches no applied write
	WebhookReplayed                        // a delivery received again (not counted as a duplicate)
	WebhookRedelivered                     // sent again by its region after the drill's own fault cut the answer to the first (not counted as a duplicate)
)

var webhookNames = [...]string{"missing", "duplicate", "disallowed_region", "unexpected", "replayed", "redelivered"}

func (c WebhookClass) String() string {
	if int(c) < len(webhookNames) {
		return webhookNames[c]
	}
	return fmt.Sprintf("webhook(%d)", uint8(c))
}

// MarshalText writes the class name.
func (c WebhookClass) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// WebhookItem is one webhook id with a problem.
type WebhookItem struct {
	ID      string       `json:"id"`
	Class   WebhookClass `json:"class"`
	Regions []string     `json:"regions,omitempty"` // senders, one entry per delivery
	Count   int          `json:"count"`             // deliveries involved
}

// WebhookLedger reconciles applied writes with webhook deliveries.
// Duplicates counts the extra deliveries (beyond the first per id); Replays
// counts receptions of a delivery beyond its first, which are no deliveries.
type WebhookLedger struct {
	WebhookCounts
	Items []WebhookItem `json:"items"`
}

// WebhookCounts are the deliveries by class; the verdict reports them as
// they are (verdict.Webhooks).
type WebhookCounts struct {
	Expected             int `json:"expected"`
	Delivered            int `json:"delivered"` // expected ids delivered at least once
	Missing              int `json:"missing"`
	Duplicates           int `json:"duplicates"`
	FromDisallowedRegion int `json:"from_disallowed_region"`
	Unexpected           int `json:"unexpected"`        // deliveries of ids no applied write explains
	Replays              int `json:"replays,omitempty"` // receptions of a delivery beyond its first: not duplicates
	// Redeliveries are deliveries a region sent again after an attempt the
	// sink received just as the drill cut that region off: the answer never
	// reached the sender, which had to retry (at least once is all a sender
	// can promise; the receiver drops the copy by its webhook id).
	Redeliveries int `json:"redeliveries,omitempty"`
}

// Allowed says whether region may emit webhooks at time at.
type Allowed func(region string, at time.Time) bool

// AllowRegions is an Allowed for a fixed set of regions.
func AllowRegions(regions map[string]bool) Allowed {
	return func(region string, _ time.Time) bool { return regions[region] }
}

// Cut says whether the drill had cut region off (a blackhole of its egress)
// at time at, so that an answer the sink sent it then was lost.
type Cut func(region string, at time.Time) bool

// ReconcileWebhooks expects one delivery per distinct id among applied
// (replica records ignored; idOf maps a write to its webhook id). A nil
// allowed accepts every region; a nil cut excuses no second delivery.
func ReconcileWebhooks(applied []contract.StoredWrite, deliveries []contract.Delivery, allowed Allowed, cut Cut, idOf func(contract.StoredWrite) string) WebhookLedger {
	// Expected ids and deliveries, each sorted by id, walked side by side:
	// no per-id allocation, and the items come out in id order.
	expected := make([]string, 0, len(applied))
	for i := range applied {
		if !applied[i].Replica {
			expected = append(expected, idOf(applied[i]))
		}
	}
	slices.Sort(expected)
	expected = slices.Compact(expected)
	order := make([]int32, len(deliveries)) // by id, then arrival: sorting indexes moves 4 bytes, not a Delivery
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := strings.Compare(deliveries[a].ID, deliveries[b].ID); c != 0 {
			return c
		}
		return int(a - b)
	})
	ds := make([]contract.Delivery, len(order))
	for i, j := range order {
		ds[i] = deliveries[j]
	}
	l := WebhookLedger{WebhookCounts: WebhookCounts{Expected: len(expected)}}
	e, d := 0, 0
	for e < len(expected) || d < len(ds) {
		var id string
		switch {
		case d == len(ds) || (e < len(expected) && expected[e] <= ds[d].ID):
			id = expected[e]
		default:
			id = ds[d].ID
		}
		isExpected := e < len(expected) && expected[e] == id
		if isExpected {
			e++
		}
		end := d
		for end < len(ds) && ds[end].ID == id {
			end++
		}
		group, replays := distinctAttempts(ds[d:end])
		d = end
		if replays > 0 {
			l.Replays += replays
			l.Items = append(l.Items, WebhookItem{ID: id, Class: WebhookReplayed, Count: replays})
		}
		var redelivered int
		if group, redelivered = retriesAfterCut(group, cut); redelivered > 0 {
			l.Redeliveries += redelivered
			l.Items = append(l.Items, WebhookItem{ID: id, Class: WebhookRedelivered, Regions: []string{group[0].Region}, Count: redelivered})
		}
		senders := func() []string {
			out := make([]string, 0, len(group))
			for _, x := range group {
				out = append(out, x.Region)
			}
			return out
		}
		var disallowed []string
		for _, x := range group {
			if allowed != nil && !allowed(x.Region, x.ReceivedAt) {
				disallowed = append(disallowed, x.Region)
			}
		}
		switch {
		case !isExpected:
			l.Unexpected += len(group)
			l.Items = append(l.Items, WebhookItem{ID: id, Class: WebhookUnexpected, Regions: senders(), Count: len(group)})
		case len(group) == 0:
			l.Missing++
			l.Items = append(l.Items, WebhookItem{ID: id, Class: WebhookMissing})
		default:
			l.Delivered++
		}
		if len(group) > 1 {
			l.Duplicates += len(group) - 1
			l.Items = append(l.Items, WebhookItem{ID: id, Class: WebhookDuplicate, Regions: senders(), Count: len(group)})
		}
		if len(disallowed) > 0 {
			l.FromDisallowedRegion += len(disallowed)
			l.Items = append(l.Items, WebhookItem{ID: id, Class: WebhookDisallowed, Regions: disallowed, Count: len(disallowed)})
		}
	}
	return l
}

// retriesAfterCut folds into the delivery before it each delivery (in
// arrival order) that its region sent again after the sink received the one
// before while the drill had that region cut off: the sender never heard
// the answer. It returns the deliveries left and how many it folded.
func retriesAfterCut(group []contract.Delivery, cut Cut) ([]contract.Delivery, int) {
	if cut == nil || len(group) < 2 {
		return group, 0
	}
	out := make([]contract.Delivery, 0, len(group))
	folded := 0
	for _, x := range group {
		if n := len(out); n > 0 && out[n-1].Region == x.Region && cut(x.Region, out[n-1].ReceivedAt) {
			out[n-1] = x // the sender's last attempt stands for the event
			folded++
			continue
		}
		out = append(out, x)
	}
	return out, folded
}

// distinctAttempts folds the records of one id (in arrival order) into
// deliveries: a record whose attempt an earlier record had is a replay of
// it. It returns the deliveries and the replays, the sink's counts included.
func distinctAttempts(group []contract.Delivery) ([]contract.Delivery, int) {
	replays := 0
	for _, x := range group {
		replays += max(x.Replays, 0)
	}
	if len(group) < 2 {
		return group, replays
	}
	out := make([]contract.Delivery, 0, len(group))
	for _, x := range group {
		if x.Attempt != "" && slices.ContainsFunc(out, func(y contract.Delivery) bool { return y.Attempt == x.Attempt }) {
			replays++
			continue
		}
		out = append(out, x)
	}
	return out, replays
}
