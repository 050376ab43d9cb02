package load

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/contract"
)

func TestAskBodyIsJSONMarshal(t *testing.T) {
	tenants := []string{"default", `quo"te`, "<html>&", "ünï\u2028"}
	questions := []string{"what is the refund policy?", "back\\slash\n", ""}
	p := newAskParts(tenants, questions)
	for ti, tn := range tenants {
		for qi, q := range questions {
			want, _ := json.Marshal(contract.AskRequest{Tenant: tn, Question: q})
			if got := p.body(ti, qi); !bytes.Equal(got, want) {
				t.Errorf("body(%q, %q) = %s, want %s", tn, q, got, want)
			}
		}
	}
}

// Past maxAskBodies pairs the bodies are built per request; both ways give
// the same bytes.
func TestAskBodyTableAndFallback(t *testing.T) {
	small, err := New(Config{URL: "http://x", Rate: 1, Duration: 1, Tenants: []string{"a", "b"}, Questions: []string{"q1", "q2", "q3"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(small.askBodies) != 6 {
		t.Fatalf("%d table bodies, want 6", len(small.askBodies))
	}
	many := make([]string, 300)
	for i := range many {
		many[i] = strings.Repeat("x", i)
	}
	big, err := New(Config{URL: "http://x", Rate: 1, Duration: 1, Tenants: many, Questions: many})
	if err != nil {
		t.Fatal(err)
	}
	if big.askBodies != nil {
		t.Fatalf("built a table of %d bodies; want none past %d", len(big.askBodies), maxAskBodies)
	}
	for _, g := range []*Generator{small, big} {
		for ti, tn := range g.cfg.Tenants {
			for qi, q := range g.cfg.Questions[:3] {
				want, _ := json.Marshal(contract.AskRequest{Tenant: tn, Question: q})
				if got := g.askBody(ti, qi); !bytes.Equal(got, want) {
					t.Fatalf("askBody(%d, %d) = %s, want %s", ti, qi, got, want)
				}
			}
		}
	}
}

var askBodies = []string{
	`{"region":"eu-west","answer":"ok","cached":true,"cold":false}`,
	`{"region":"eu-west","answer":"says \"cached\":true","cached":false}`,
	` { "Region" : "us-east" , "CACHED" : true , "Cold":true } `,
	`{"chunks":[{"doc_id":"d","text":"{\"cached\":true}","score":1.5}],"citations":[],"cached":true,"k":4,"index_hash":null}`,
	`{"region":"a","region":"b","cached":true,"cached":false}`,
	`{"r\u0065gion":"escaped-key","cached":true}`,
	`{"region":"esc\u0061ped","cold":true}`,
	`{"region":"x","cached":null}`,
	`{"region":"x","cached":"yes"}`,
	`{"region":7}`,
	`{}`,
	`{"answer":"a\\","cached":true}`,
	`{"region":"x"} trailing`,
	`{"region":"x",}`,
	`[1,2]`,
	`not json`,
	``,
	`{"region":"unterminated`,
	`{"nested":{"cached":true,"region":"inner"},"region":"outer"}`,
	`{"numbers":[-1.5e3,0,true,false,null],"cold":true}`,
}

// scanAsk must agree with encoding/json on every body that decodes.
func TestScanAskMatchesEncodingJSON(t *testing.T) {
	for _, b := range askBodies {
		checkScanAsk(t, []byte(b))
	}
}

func FuzzScanAsk(f *testing.F) {
	for _, b := range askBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(checkScanAsk)
}

func checkScanAsk(t *testing.T, b []byte) {
	var want contract.AskResponse
	werr := json.Unmarshal(b, &want)
	got, ok := scanAsk(b)
	if werr != nil {
		return // lenient about bodies encoding/json rejects
	}
	if !ok || string(got.region) != want.Region || got.cached != want.Cached || got.cold != want.Cold {
		t.Errorf("scanAsk(%s) = {%q %v %v} ok=%v; encoding/json says {%q %v %v}",
			b, got.region, got.cached, got.cold, ok, want.Region, want.Cached, want.Cold)
	}
}

// The fast path must take the plain bodies a region sends, not fall back.
func TestScanAskFastPathTakesPlainBodies(t *testing.T) {
	b, _ := json.Marshal(contract.AskResponse{Region: "eu-west", Answer: "a \"quoted\" answer", Cached: true, K: 4,
		Chunks: []contract.Chunk{{DocID: "d1", ChunkID: "c1", Score: 0.5, Text: "t"}}})
	a, ok := scanAskFast(b)
	if !ok || string(a.region) != "eu-west" || !a.cached || a.cold {
		t.Fatalf("scanAskFast(%s) = %+v, %v", b, a, ok)
	}
}

func BenchmarkScanAsk(b *testing.B) {
	body, _ := json.Marshal(contract.AskResponse{Region: "eu-west", Answer: strings.Repeat("an answer ", 40), Cached: true, K: 4,
		Chunks: []contract.Chunk{{DocID: "d1", ChunkID: "c1", Score: 0.5, Text: strings.Repeat("chunk text ", 30)}}})
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			scanAsk(body)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var a contract.AskResponse
			_ = json.Unmarshal(body, &a)
		}
	})
}

func TestContractHeadersAreCanonical(t *testing.T) {
	for _, k := range []string{contract.HeaderRegion, contract.HeaderStickyRegion, contract.HeaderColdStart, contract.HeaderToolError} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("header %q is read as %q; header() needs the canonical form", k, c)
		}
	}
}
