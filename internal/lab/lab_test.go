package lab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab"
)

func start(t *testing.T, mis ...lab.Misconfig) (*lab.Lab, *adapter.HTTP) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	began := time.Now()
	l, err := lab.Start(ctx, lab.Config{Regions: []string{"us-east", "eu-west"}, Misconfigure: mis, Hysteresis: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lab started in %s", time.Since(began))
	t.Cleanup(func() { _ = l.Close() })
	ep := l.Endpoints()
	tg := adapter.New(adapter.Endpoints{Edge: ep.Edge, Faults: ep.Faults, Sink: ep.Sink, Regions: ep.Regions, Token: ep.Token,
		Proxies: map[string][]string{"us-east": l.Proxies("us-east"), "eu-west": l.Proxies("eu-west")}})
	return l, tg
}

func TestContractParityAndAnswers(t *testing.T) {
	_, tg := start(t)
	ctx := context.Background()
	hs, errs := tg.HealthAll(ctx)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	e, w := hs["us-east"], hs["eu-west"]
	if e.IndexHash == "" || e.IndexHash != w.IndexHash || e.SchemaRev != w.SchemaRev || e.SecretsRev != w.SecretsRev {
		t.Fatalf("contract differs: %+v vs %+v", e, w)
	}
	tok, err := tg.Token(ctx, "us-east", "s1")
	if err != nil {
		t.Fatal(err)
	}
	q := contract.AskRequest{Tenant: "t1", Question: "What is the default visibility timeout?", NoCache: true}
	a1, err := tg.Ask(ctx, "us-east", tok, q)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := tg.Ask(ctx, "eu-west", tok, q) // dual accept: a token from us-east works in eu-west
	if err != nil {
		t.Fatal(err)
	}
	if a1.Answer == "" || a1.Answer != a2.Answer || len(a1.Citations) == 0 {
		t.Fatalf("answers differ: %q vs %q", a1.Answer, a2.Answer)
	}
	// Rebuild with another analyzer changes the contract.
	if err := tg.Do(ctx, adapter.Action{Kind: adapter.Rebuild, Region: "eu-west", Analyzer: "simple"}); err != nil {
		t.Fatal(err)
	}
	w2, _ := tg.Health(ctx, "eu-west")
	if w2.IndexHash == e.IndexHash || w2.Analyzer != "simple" {
		t.Fatalf("rebuild with another analyzer kept hash %s", w2.IndexHash)
	}
}

func write(t *testing.T, url, token, key string, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/write", bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestFollowerWriteSurvivesBlackholeExactlyOnce(t *testing.T) {
	l, tg := start(t)
	ctx := context.Background()
	ep := l.Endpoints()
	tok, _ := tg.Token(ctx, "eu-west", "s1")
	body := `{"tenant":"t1","event_id":"e1","rev":1,"payload":"x"}`
	// Cut eu-west's egress: its write stays queued.
	if err := tg.Do(ctx, adapter.Action{Kind: adapter.Blackhole, Region: "eu-west", LeaseMS: 20000}); err != nil {
		t.Fatal(err)
	}
	if err := tg.Do(ctx, adapter.Action{Kind: adapter.ClearFaults, Region: "eu-west", Scope: "ingress"}); err != nil {
		t.Fatal(err)
	}
	if code := write(t, ep.Regions["eu-west"], tok, "k-1", body); code != http.StatusAccepted {
		t.Fatalf("write status %d", code)
	}
	time.Sleep(500 * time.Millisecond)
	if h, _ := tg.Health(ctx, "eu-west"); h.Queue.Backlog == 0 {
		t.Fatal("write not queued while cut off")
	}
	if err := tg.Do(ctx, adapter.Action{Kind: adapter.ClearFaults, Region: "eu-west"}); err != nil {
		t.Fatal(err)
	}
	// Replays of the key, and the primary's store holds it once.
	for range 5 {
		write(t, ep.Regions["eu-west"], tok, "k-1", body)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		ws, _ := tg.Writes(ctx, "us-east")
		if len(ws.Writes) >= 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	ws, _ := tg.Writes(ctx, "us-east")
	if len(ws.Writes) != 1 {
		b, _ := json.Marshal(ws)
		t.Fatalf("primary store holds %d records: %s", len(ws.Writes), b)
	}
	deadline = time.Now().Add(10 * time.Second)
	var ds []contract.Delivery
	for time.Now().Before(deadline) {
		ds, _ = tg.Deliveries(ctx)
		if len(ds) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(ds) != 1 {
		t.Fatalf("%d webhook deliveries, want 1", len(ds))
	}
}

func TestMutationsNeedToken(t *testing.T) {
	l, _ := start(t)
	ep := l.Endpoints()
	urls := []string{ep.Regions["us-east"] + "/admin/freeze", ep.Regions["us-east"] + "/admin/promote", ep.Regions["eu-west"] + "/admin/rebuild",
		ep.Regions["eu-west"] + "/admin/purge", ep.Regions["eu-west"] + "/admin/scale", ep.Regions["eu-west"] + "/admin/emit",
		ep.Regions["eu-west"] + "/admin/rotate", ep.Regions["eu-west"] + "/admin/warm", ep.Regions["eu-west"] + "/internal/inbox",
		ep.Regions["eu-west"] + "/internal/webhook", ep.Faults + "/faults", ep.Faults + "/faults/x/renew", ep.Edge + "/_edge/lock",
		// session tokens go to authenticated callers only, directly or through the edge
		ep.Regions["us-east"] + "/token", ep.Direct["eu-west"] + "/token", ep.Edge + "/token"}
	for _, u := range urls {
		for _, tok := range []string{"", "wrong"} {
			req, _ := http.NewRequest(http.MethodPost, u, bytes.NewBufferString(`{}`))
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with token %q: %d, want 401", u, tok, resp.StatusCode)
			}
		}
	}
	for _, m := range []struct{ method, url string }{
		{http.MethodPut, ep.Edge + "/_edge/weights"}, {http.MethodDelete, ep.Edge + "/_edge/lock"}, {http.MethodDelete, ep.Faults + "/faults/x"},
	} {
		req, _ := http.NewRequest(m.method, m.url, bytes.NewBufferString(`{"us-east":0}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without token: %d", m.method, m.url, resp.StatusCode)
		}
	}
}

// Each misconfiguration that lives outside the write path (whose faults are
// tested in writepath) changes the lab's behaviour; the healthy lab does not.
func TestMisconfigurationsChangeBehaviour(t *testing.T) {
	ctx := context.Background()
	t.Run("stale_keys", func(t *testing.T) {
		for _, broken := range []bool{false, true} {
			var mis []lab.Misconfig
			if broken {
				mis = append(mis, lab.StaleKeys)
			}
			_, tg := start(t, mis...)
			tok, _ := tg.Token(ctx, "us-east", "s")
			_, err := tg.Ask(ctx, "eu-west", tok, contract.AskRequest{Tenant: "t", Question: "What is the refund window?"})
			if broken != (err != nil) {
				t.Fatalf("stale_keys=%v: a us-east token in eu-west gave %v", broken, err)
			}
		}
	})
	t.Run("rebuild_wrong_analyzer", func(t *testing.T) {
		for _, broken := range []bool{false, true} {
			var mis []lab.Misconfig
			if broken {
				mis = append(mis, lab.RebuildWrongAnalyzer)
			}
			l, tg := start(t, mis...)
			if err := tg.Do(ctx, adapter.Action{Kind: adapter.Rebuild, Region: "eu-west"}); err != nil {
				t.Fatal(err)
			}
			e, _ := tg.Health(ctx, "us-east")
			w, _ := tg.Health(ctx, "eu-west")
			if broken == (e.IndexHash == w.IndexHash) {
				t.Fatalf("rebuild_wrong_analyzer=%v: hashes %s vs %s (analyzer %s)", broken, e.IndexHash, w.IndexHash, w.Analyzer)
			}
			// Publish a skewed follower on purpose: the edge's contract gate
			// keeps it out, unless the lab's gate ignores index_hash.
			if err := tg.Do(ctx, adapter.Action{Kind: adapter.Rebuild, Region: "eu-west", Analyzer: "whitespace"}); err != nil {
				t.Fatal(err)
			}
			l.Router().CheckNow(ctx)
			in := false
			for _, s := range l.Router().Status() {
				if s.Name == "eu-west" {
					in = s.InRotation
				}
			}
			if in != broken {
				t.Fatalf("rebuild_wrong_analyzer=%v: skewed eu-west in rotation = %v", broken, in)
			}
		}
	})
	t.Run("return_ignored", func(t *testing.T) {
		for _, broken := range []bool{false, true} {
			var mis []lab.Misconfig
			if broken {
				mis = append(mis, lab.ReturnIgnored)
			}
			l, tg := start(t, mis...)
			for _, w := range []int{0, 100} {
				if err := tg.Do(ctx, adapter.Action{Kind: adapter.SetWeights, Weights: map[string]int{"us-east": w}}); err != nil {
					t.Fatal(err)
				}
			}
			in, weight := false, 0
			for _, s := range l.Router().Status() {
				if s.Name == "us-east" {
					in, weight = s.InRotation, s.Weight
				}
			}
			if weight != 100 || in == broken {
				t.Fatalf("return_ignored=%v: us-east back at weight %d, in rotation %v", broken, weight, in)
			}
		}
	})
	t.Run("purge_noop", func(t *testing.T) {
		for _, broken := range []bool{false, true} {
			var mis []lab.Misconfig
			if broken {
				mis = append(mis, lab.PurgeNoop)
			}
			_, tg := start(t, mis...)
			if err := tg.Do(ctx, adapter.Action{Kind: adapter.Warm, Region: "us-east", Tenant: "t1", Questions: []string{"a?", "b?"}}); err != nil {
				t.Fatal(err)
			}
			if err := tg.Do(ctx, adapter.Action{Kind: adapter.Purge, Region: "us-east", Tenant: "t1"}); err != nil {
				t.Fatal(err)
			}
			h, _ := tg.Health(ctx, "us-east")
			if broken != (h.Cache.Entries > 0) {
				t.Fatalf("purge_noop=%v: %d entries after purge", broken, h.Cache.Entries)
			}
		}
	})
}

func TestRotatedKeysAcceptedEverywhere(t *testing.T) {
	_, tg := start(t)
	ctx := context.Background()
	old, _ := tg.Token(ctx, "us-east", "s-old")
	if err := tg.Do(ctx, adapter.Action{Kind: adapter.RotateKeys, KeyCurrent: "k2", KeyAccept: []string{"k1", "k2"}}); err != nil {
		t.Fatal(err)
	}
	fresh, _ := tg.Token(ctx, "eu-west", "s-new")
	q := contract.AskRequest{Tenant: "t", Question: "How long are backups kept?"}
	for _, r := range []string{"us-east", "eu-west"} {
		for _, tok := range []string{old, fresh} {
			if _, err := tg.Ask(ctx, r, tok, q); err != nil {
				t.Fatalf("%s refused a token during rotation: %v", r, err)
			}
		}
	}
	if err := tg.Do(ctx, adapter.Action{Kind: adapter.RotateKeys, KeyCurrent: "k2", KeyAccept: []string{"k2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Ask(ctx, "eu-west", old, q); err == nil {
		t.Fatal("a revoked key is still accepted")
	}
}

// The lab's JetStream servers take only their own credentials: a client
// without them is refused by the ledger server, and the lab works with them
// (the writes of the other tests go through it). The per-region brokers open
// no port at all.
func TestLedgerServerRefusesClientsWithoutCredentials(t *testing.T) {
	l, _ := start(t)
	url := l.Endpoints().Ledger
	if nc, err := nats.Connect(url, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("connected to the lab's ledger server without credentials")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("err = %v, want an authorization violation", err)
	}
	nc, err := nats.Connect(url, l.LedgerAuth().Options()...)
	if err != nil {
		t.Fatalf("with the lab's credentials: %v", err)
	}
	nc.Close()
}

// A plan's routing.weights are the lab edge's weights from its start: the
// split a drill's baseline measures is the one the plan asked for.
func TestLabStartsWithThePlansWeights(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := lab.Start(ctx, lab.Config{Regions: []string{"us-east", "eu-west"}, Weights: map[string]int{"us-east": 70, "eu-west": 30}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := map[string]int{}
	for _, s := range l.Router().Status() {
		got[s.Name] = s.Weight
	}
	if got["us-east"] != 70 || got["eu-west"] != 30 {
		t.Fatalf("edge weights %v, want us-east 70, eu-west 30", got)
	}
}
