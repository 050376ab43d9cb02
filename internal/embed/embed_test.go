package embed_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/embed"
)

func TestTokens(t *testing.T) {
	got := embed.Tokens("How are the Queues retried? Retrying queued messages, e.g. twice.")
	want := []string{"queue", "retri", "retri", "queu", "messag", "twice"}
	if !slices.Equal(got, want) {
		t.Fatalf("Tokens = %q, want %q", got, want)
	}
}

func TestVectorMath(t *testing.T) {
	tests := []struct {
		name   string
		a, b   []float32
		cosine float64
		deltaS float64
	}{
		{"same direction", []float32{1, 2, 3}, []float32{2, 4, 6}, 1, 0},
		{"orthogonal", []float32{1, 0}, []float32{0, 5}, 0, 1},
		{"opposite", []float32{1, 1}, []float32{-3, -3}, -1, 2},
		{"zero vector", []float32{0, 0}, []float32{1, 0}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := embed.Cosine(tt.a, tt.b); math.Abs(c-tt.cosine) > 1e-6 {
				t.Errorf("Cosine = %v, want %v", c, tt.cosine)
			}
			if d := embed.DeltaS(tt.a, tt.b); math.Abs(d-tt.deltaS) > 1e-6 {
				t.Errorf("DeltaS = %v, want %v", d, tt.deltaS)
			}
		})
	}
	n := embed.Normalize([]float32{3, 4})
	if math.Abs(embed.Norm(n)-1) > 1e-6 || n[0] != 0.6 {
		t.Errorf("Normalize([3 4]) = %v", n)
	}
}

func TestHashDeterministicAndRaw(t *testing.T) {
	ctx := context.Background()
	h := embed.NewHash(embed.HashOptions{})
	if h.Name() != "hash512-v1" || h.Dim() != 512 {
		t.Fatalf("default hash is %q/%d", h.Name(), h.Dim())
	}
	texts := []string{"Queues retry failed deliveries five times.", "Queues retry failed deliveries five times. Queues retry failed deliveries five times and more queues."}
	a, _ := h.Embed(ctx, texts)
	b, _ := embed.NewHash(embed.HashOptions{}).Embed(ctx, texts)
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("vector %d differs between two embedders", i)
		}
	}
	// Raw vectors: the longer, repetitive text has a larger norm.
	if embed.Norm(a[1]) <= embed.Norm(a[0]) {
		t.Errorf("norms %v <= %v: vectors look normalised", embed.Norm(a[1]), embed.Norm(a[0]))
	}
}

func TestHashSeparatesRelatedFromUnrelated(t *testing.T) {
	ctx := context.Background()
	h := embed.NewHash(embed.HashOptions{})
	v, _ := h.Embed(ctx, []string{
		"How many retries does a queue delivery get?",
		"A queue delivery gets five retries before it moves to the dead-letter queue.",
		"Lens analytics queries are billed per scanned gigabyte.",
		"What is the monthly cost?",
		"The price is 399 dollars every month.", // a paraphrase: only "month" is shared
	})
	related, unrelated := embed.DeltaS(v[0], v[1]), embed.DeltaS(v[0], v[2])
	if related > 0.45 || unrelated < 0.6 {
		t.Errorf("ΔS related %.3f (want ≤ 0.45), unrelated %.3f (want ≥ 0.6)", related, unrelated)
	}
	// The known limit of a lexical embedder: a paraphrase looks unrelated.
	if para := embed.DeltaS(v[3], v[4]); para < 0.45 {
		t.Errorf("paraphrase ΔS %.3f: the hash embedder is not supposed to see meaning", para)
	}
	if other := embed.NewHash(embed.HashOptions{Bigram: 0.5, Trigram: 0.5}); other.Name() == h.Name() {
		t.Errorf("settings change does not change the name %q", other.Name())
	}
}

func TestHashCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := embed.NewHash(embed.HashOptions{}).Embed(ctx, []string{"x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// fakeEmbeddings serves /v1/embeddings: each vector is [len(text), index].
func fakeEmbeddings(t *testing.T, calls *int, handler func(w http.ResponseWriter, in []string) bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*calls++
		if r.URL.Path != "/v1/embeddings" || r.Method != http.MethodPost {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != "Bearer sekret" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"message":"bad key"}}`))
			return
		}
		var req struct {
			Model string   `json:"model"`
			Input []string `json:"input"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "m1" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if handler != nil && handler(w, req.Input) {
			return
		}
		type item struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		var data []item
		for i := len(req.Input) - 1; i >= 0; i-- { // out of order on purpose
			data = append(data, item{i, []float32{float32(len(req.Input[i])), float32(i)}})
		}
		json.NewEncoder(w).Encode(map[string]any{"data": data})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestOpenAIBatchesAndOrders(t *testing.T) {
	calls := 0
	srv := fakeEmbeddings(t, &calls, nil)
	o := &embed.OpenAI{BaseURL: srv.URL + "/", Model: "m1", APIKey: "sekret", BatchSize: 2}
	texts := []string{"a", "bb", "ccc", "dddd", "eeeee"}
	got, err := o.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Errorf("%d requests, want 3 batches", calls)
	}
	for i, v := range got {
		if int(v[0]) != len(texts[i]) {
			t.Errorf("vector %d = %v, out of order", i, v)
		}
	}
	if o.Dim() != 2 || o.Name() != "openai:m1" {
		t.Errorf("Dim %d Name %q", o.Dim(), o.Name())
	}
}

func TestOpenAIErrors(t *testing.T) {
	ctx := context.Background()
	calls := 0
	srv := fakeEmbeddings(t, &calls, func(w http.ResponseWriter, in []string) bool {
		switch in[0] {
		case "short":
			w.Write([]byte(`{"data":[]}`))
		case "garbage":
			w.Write([]byte(`not json`))
		case "slow":
			time.Sleep(300 * time.Millisecond) // longer than the client timeout below
		case "overload":
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"message":"slow down"}}`))
		default:
			return false
		}
		return true
	})
	tests := []struct {
		name  string
		key   string
		dims  int
		input string
		check func(error) bool
	}{
		{"bad key", "wrong", 0, "x", func(err error) bool {
			var ae *embed.APIError
			return errors.As(err, &ae) && ae.Status == 401 && ae.Message == "bad key" && errors.Is(err, embed.ErrAPI)
		}},
		{"rate limited", "sekret", 0, "overload", func(err error) bool {
			var ae *embed.APIError
			return errors.As(err, &ae) && ae.Status == 429 && ae.Message == "slow down"
		}},
		{"missing vectors", "sekret", 0, "short", func(err error) bool { return errors.Is(err, embed.ErrResponse) }},
		{"not json", "sekret", 0, "garbage", func(err error) bool { return errors.Is(err, embed.ErrResponse) }},
		{"wrong dims", "sekret", 768, "x", func(err error) bool { return errors.Is(err, embed.ErrResponse) }},
		{"timeout", "sekret", 0, "slow", func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &embed.OpenAI{BaseURL: srv.URL, Model: "m1", APIKey: tt.key, Dims: tt.dims, Timeout: 100 * time.Millisecond}
			_, err := o.Embed(ctx, []string{tt.input})
			if err == nil || !tt.check(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if _, err := (&embed.OpenAI{Model: "m1"}).Embed(ctx, []string{"x"}); err == nil {
		t.Error("no base url: want an error")
	}
}
