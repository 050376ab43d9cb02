package lab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab"
	"github.com/regiondrill/regiondrill/internal/target"
)

func start(t *testing.T, mis ...lab.Misconfig) (*lab.Lab, *target.HTTP) {
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
	tg := target.New(target.Endpoints{Edge: ep.Edge, Faults: ep.Faults, Sink: ep.Sink, Regions: ep.Regions, Token: ep.Token,
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
	if err := tg.Do(ctx, target.Action{Kind: target.Rebuild, Region: "eu-west", Analyzer: "simple"}); err != nil {
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
	if err := tg.Do(ctx, target.Action{Kind: target.Blackhole, Region: "eu-west", LeaseMS: 20000}); err != nil {
		t.Fatal(err)
	}
	if err := tg.Do(ctx, target.Action{Kind: target.ClearFaults, Region: "eu-west", Scope: "ingress"}); err != nil {
		t.Fatal(err)
	}
	if code := write(t, ep.Regions["eu-west"], tok, "k-1", body); code != http.StatusAccepted {
		t.Fatalf("write status %d", code)
	}
	time.Sleep(500 * time.Millisecond)
	if h, _ := tg.Health(ctx, "eu-west"); h.Queue.Backlog == 0 {
		t.Fatal("write not queued while cut off")
	}
	if err := tg.Do(ctx, target.Action{Kind: target.ClearFaults, Region: "eu-west"}); err != nil {
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
	var ds []target.Delivery
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
		ep.Regions["eu-west"] + "/admin/rotate", ep.Regions["eu-west"] + "/internal/inbox", ep.Faults + "/faults"}
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
	req, _ := http.NewRequest(http.MethodPut, ep.Edge+"/_edge/weights", bytes.NewBufferString(`{"us-east":0}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("edge weights without token: %d", resp.StatusCode)
	}
}
