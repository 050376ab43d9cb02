package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Errors of the OpenAI embedder, wrapped with details.
var (
	ErrAPI      = errors.New("embed: embeddings endpoint error")
	ErrResponse = errors.New("embed: malformed embeddings response")
)

// APIError is a non-2xx answer of the embeddings endpoint. It wraps ErrAPI.
type APIError struct {
	Status  int
	Message string // the endpoint's error.message, or the start of its body
}

func (e *APIError) Error() string {
	return fmt.Sprintf("embed: embeddings endpoint: http %d: %s", e.Status, e.Message)
}

func (e *APIError) Unwrap() error { return ErrAPI }

// OpenAI calls POST {BaseURL}/v1/embeddings of any OpenAI-compatible server.
type OpenAI struct {
	BaseURL   string        // e.g. "http://127.0.0.1:8080"; required
	Model     string        // required
	APIKey    string        // sent as a bearer token when set
	Dims      int           // expected vector length; 0 learns it from the first answer
	BatchSize int           // texts per request; default 64
	Timeout   time.Duration // per request; default 30s
	Client    *http.Client  // default http.DefaultClient

	mu     sync.Mutex
	learnt int
}

// Name is "openai:<model>".
func (o *OpenAI) Name() string { return "openai:" + o.Model }

// Dim is Dims, or the length learnt from the first answer, or 0 before it.
func (o *OpenAI) Dim() int {
	if o.Dims > 0 {
		return o.Dims
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.learnt
}

type embeddingsRequest struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type embeddingsResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// Embed sends texts in batches and returns one vector per text, in order.
func (o *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if o.BaseURL == "" || o.Model == "" {
		return nil, fmt.Errorf("embed: openai: base url and model are required")
	}
	batch := o.BatchSize
	if batch <= 0 {
		batch = 64
	}
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += batch {
		end := min(start+batch, len(texts))
		vecs, err := o.call(ctx, texts[start:end])
		if err != nil {
			return nil, fmt.Errorf("embed: openai batch %d-%d: %w", start, end, err)
		}
		out = append(out, vecs...)
	}
	return out, nil
}

func (o *OpenAI) call(ctx context.Context, texts []string) ([][]float32, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := json.Marshal(embeddingsRequest{Model: o.Model, Input: texts})
	if err != nil {
		return nil, err
	}
	url := strings.TrimRight(o.BaseURL, "/") + "/v1/embeddings"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	var er embeddingsResponse
	decodeErr := json.Unmarshal(raw, &er)
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(raw))
		if decodeErr == nil && er.Error != nil && er.Error.Message != "" {
			msg = er.Error.Message
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, &APIError{Status: resp.StatusCode, Message: msg}
	}
	if decodeErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrResponse, decodeErr)
	}
	if len(er.Data) != len(texts) {
		return nil, fmt.Errorf("%w: %d vectors for %d inputs", ErrResponse, len(er.Data), len(texts))
	}
	out := make([][]float32, len(texts))
	for _, d := range er.Data {
		if d.Index < 0 || d.Index >= len(texts) || out[d.Index] != nil {
			return nil, fmt.Errorf("%w: bad or repeated index %d", ErrResponse, d.Index)
		}
		if err := o.checkDim(len(d.Embedding)); err != nil {
			return nil, err
		}
		out[d.Index] = d.Embedding
	}
	return out, nil
}

func (o *OpenAI) checkDim(n int) error {
	want := o.Dims
	if want == 0 {
		o.mu.Lock()
		if o.learnt == 0 {
			o.learnt = n
		}
		want = o.learnt
		o.mu.Unlock()
	}
	if n == 0 || n != want {
		return fmt.Errorf("%w: vector of %d dims, want %d", ErrResponse, n, want)
	}
	return nil
}

var _ Embedder = (*OpenAI)(nil)
