package ledger

import (
	"fmt"
	"sort"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// Delivery is one webhook the sink received.
type Delivery struct {
	ID         string    `json:"id"`
	Region     string    `json:"region"` // region that sent it
	KID        string    `json:"kid"`    // key id of its signature
	ReceivedAt time.Time `json:"received_at"`
}

// WebhookClass is the verdict on one webhook id.
type WebhookClass uint8

const (
	WebhookMissing    WebhookClass = iota // applied, never delivered
	WebhookDuplicate                      // delivered more than once
	WebhookDisallowed                     // delivered from a region not allowed to emit at that time
	WebhookUnexpected                     // delivered, matches no applied write
)

var webhookNames = [...]string{"missing", "duplicate", "disallowed_region", "unexpected"}

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
// Duplicates counts the extra deliveries (beyond the first per id).
type WebhookLedger struct {
	Expected             int           `json:"expected"`
	Delivered            int           `json:"delivered"` // expected ids delivered at least once
	Missing              int           `json:"missing"`
	Duplicates           int           `json:"duplicates"`
	FromDisallowedRegion int           `json:"from_disallowed_region"`
	Unexpected           int           `json:"unexpected"` // deliveries of ids no applied write explains
	Items                []WebhookItem `json:"items"`
}

// Allowed says whether region may emit webhooks at time at.
type Allowed func(region string, at time.Time) bool

// AllowRegions is an Allowed for a fixed set of regions.
func AllowRegions(regions map[string]bool) Allowed {
	return func(region string, _ time.Time) bool { return regions[region] }
}

// ReconcileWebhooks expects one delivery per distinct id among applied
// (replica records ignored; idOf maps a write to its webhook id). A nil
// allowed accepts every region.
func ReconcileWebhooks(applied []contract.StoredWrite, deliveries []Delivery, allowed Allowed, idOf func(contract.StoredWrite) string) WebhookLedger {
	expected := map[string]bool{}
	for _, w := range applied {
		if !w.Replica {
			expected[idOf(w)] = true
		}
	}
	byID := map[string][]Delivery{}
	for _, d := range deliveries {
		byID[d.ID] = append(byID[d.ID], d)
	}
	l := WebhookLedger{Expected: len(expected)}
	ids := make([]string, 0, len(expected)+len(byID))
	for id := range expected {
		ids = append(ids, id)
	}
	for id := range byID {
		if !expected[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		ds := byID[id]
		senders := make([]string, 0, len(ds))
		var disallowed []string
		for _, d := range ds {
			senders = append(senders, d.Region)
			if allowed != nil && !allowed(d.Region, d.ReceivedAt) {
				disallowed = append(disallowed, d.Region)
			}
		}
		switch {
		case !expected[id]:
			l.Unexpected += len(ds)
			l.Items = append(l.Items, WebhookItem{ID: id, Class: WebhookUnexpected, Regions: senders, Count: len(ds)})
		case len(ds) == 0:
			l.Missing++
			l.Items = append(l.Items, WebhookItem{ID: id, Class: WebhookMissing})
		default:
			l.Delivered++
		}
		if len(ds) > 1 {
			l.Duplicates += len(ds) - 1
			l.Items = append(l.Items, WebhookItem{ID: id, Class: WebhookDuplicate, Regions: senders, Count: len(ds)})
		}
		if len(disallowed) > 0 {
			l.FromDisallowedRegion += len(disallowed)
			l.Items = append(l.Items, WebhookItem{ID: id, Class: WebhookDisallowed, Regions: disallowed, Count: len(disallowed)})
		}
	}
	return l
}
