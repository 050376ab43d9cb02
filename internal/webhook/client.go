package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/regiondrill/regiondrill/internal/writepath"
)

// Client delivers signed events to the sink on behalf of one region.
type Client struct {
	URL    string // sink URL the events are POSTed to
	Region string
	Keys   Keys
	HTTP   *http.Client     // default http.DefaultClient
	Clock  func() time.Time // default time.Now
}

// Deliver POSTs ev as JSON, signed; any non-2xx answer is an error.
func (c *Client) Deliver(ctx context.Context, ev writepath.Event) error {
	body, err := json.Marshal(ev)
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
