package contract

import "time"

// Delivery is one webhook delivery a sink accepted, as the webhook sink's
// GET /deliveries lists it ({"deliveries": [...]}): one signed request,
// whatever number of times it was received.
//
// Attempt is the delivery attempt id the emitter signed into the body: two
// records of one id with different attempts (or without any) are two
// deliveries; records sharing an attempt are one delivery received again, a
// replay, as are the Replays the sink counted on a record. Replays are
// someone re-sending captured bytes, not the system delivering twice.
type Delivery struct {
	ID         string    `json:"id"`
	Region     string    `json:"region"` // the region that sent it: the signed body's, else X-Region
	KID        string    `json:"kid"`    // key id of its signature
	ReceivedAt time.Time `json:"received_at"`
	BodyHash   string    `json:"body_hash,omitempty"`
	Attempt    string    `json:"attempt,omitempty"`
	Duplicate  bool      `json:"duplicate,omitempty"` // another delivery of this id was accepted before
	Replays    int       `json:"replays,omitempty"`   // times this very request was received again
}
