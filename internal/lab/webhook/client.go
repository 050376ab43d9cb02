package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/regiondrill/regiondrill/internal/lab/writepath"
)

// Client delivers signed events to the sink on behalf of one region.
type Client struct {
	URL    string // sink URL the events are POSTed to
	Region string
	Keys   Keys
	HTTP   *http.Client     // default http.DefaultClient
	Clock  func() time.Time // default time.Now
}

// Payload is the body of a delivery: the event's fields, and the attempt
// that carries it.
type Payload struct {
	writepath.Event
	Delivery Attempt `json:"delivery"`
}

// Attempt names one delivery attempt. The emitter draws a fresh random id for
// every POST it makes, retries included, and puts it in the signed body, so
// no one without the key can make or change one. Two accepted requests with
// one webhook-id and different attempts are two deliveries by the system (a
// duplicate); the same attempt received again is a replay of one delivery.
type Attempt struct {
	ID     string `json:"attempt"` // 128 random bits, hex
	Region string `json:"region"`  // the region that sent this attempt
}

// NewAttemptID draws a delivery attempt id.
func NewAttemptID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// Deliver POSTs ev as JSON with a new attempt, signed; any non-2xx answer is
// an error.
func (c *Client) Deliver(ctx context.Context, ev writepath.Event) error {
	body, err := json.Marshal(Payload{Event: ev, Delivery: Attempt{ID: NewAttemptID(), Region: c.Region}})
	if err != nil {
		return fmt.Errorf("webhook: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	now := time.Now
	if c.Clock != nil {
		now = c.Clock
	}
	req.Header.Set("Content-Type", "application/json")
	SetHeaders(req.Header, c.Keys, ev.ID, c.Region, now(), body)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: deliver %s: %w", ev.ID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: deliver %s: sink answered %d", ev.ID, resp.StatusCode)
	}
	return nil
}

var _ writepath.WebhookSender = (*Client)(nil)
