package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// Seen is what the contract's response headers say about one answer: the
// region that served it, whether it came from the answer cache and which
// index answered it. An empty field is a header the response did not carry.
type Seen struct {
	Status    int    `json:"status"`
	Region    string `json:"region,omitempty"`
	Cache     string `json:"cache,omitempty"`      // X-Cache: hit or miss
	IndexHash string `json:"index_hash,omitempty"` // X-Index-Hash
}

// AskSeen asks a region directly and returns the answer's headers with it.
func (t *HTTP) AskSeen(ctx context.Context, region, token string, ask contract.AskRequest) (contract.AskResponse, Seen, error) {
	u, err := t.regionURL(region, "/ask")
	if err != nil {
		return contract.AskResponse{}, Seen{}, err
	}
	return t.askURL(ctx, u, token, "", ask)
}

// AskEdge asks through the target's entry (the edge), as a client with a
// session would, and returns the answer's headers with it.
func (t *HTTP) AskEdge(ctx context.Context, session, token string, ask contract.AskRequest) (contract.AskResponse, Seen, error) {
	return t.askURL(ctx, t.ep.Edge+"/ask", token, session, ask)
}

// EdgeToken mints a session token through the target's entry, with the
// admin token as the credential /token asks for.
func (t *HTTP) EdgeToken(ctx context.Context, session string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	err := t.call(ctx, http.MethodPost, t.ep.Edge+"/token", map[string]string{"session": session}, &out, t.ep.Token)
	return out.Token, err
}

func (t *HTTP) askURL(ctx context.Context, u, token, session string, ask contract.AskRequest) (contract.AskResponse, Seen, error) {
	var out contract.AskResponse
	b, err := json.Marshal(ask)
	if err != nil {
		return out, Seen{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return out, Seen{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session != "" {
		req.Header.Set(contract.HeaderSession, session)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return out, Seen{}, err
	}
	defer resp.Body.Close()
	seen := Seen{Status: resp.StatusCode, Region: resp.Header.Get(contract.HeaderRegion),
		Cache: resp.Header.Get(contract.HeaderCache), IndexHash: resp.Header.Get(contract.HeaderIndexHash)}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return out, seen, fmt.Errorf("%s: read body: %w", u, err)
	}
	if resp.StatusCode/100 != 2 {
		return out, seen, &Error{URL: u, Status: resp.StatusCode, Body: string(bytes.TrimSpace(body[:min(len(body), 300)]))}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return out, seen, fmt.Errorf("%s: decode: %w", u, err)
	}
	return out, seen, nil
}

// slowAdmin is an admin call that may take up to a minute (an index
// rebuild), not the 3 s of the others.
func (t *HTTP) slowAdmin(ctx context.Context, region, path string, body any) error {
	u, err := t.regionURL(region, path)
	if err != nil {
		return err
	}
	slow := *t
	c := *t.client
	c.Timeout = time.Minute
	slow.client = &c
	return slow.call(ctx, http.MethodPost, u, body, nil, t.ep.Token)
}
