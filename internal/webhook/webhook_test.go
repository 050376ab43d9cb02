package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/webhook"
	"github.com/regiondrill/regiondrill/internal/writepath"
)

var (
	t0      = time.Unix(1_700_000_000, 0)
	secrets = map[string][]byte{"k1": []byte("old-secret"), "k2": []byte("new-secret"), "k3": []byte("stranger")}
)

func keys(signing []string, accept ...string) webhook.StaticKeys {
	k := webhook.StaticKeys{Signing: signing, Secrets: map[string][]byte{}}
	for _, kid := range accept {
		k.Secrets[kid] = secrets[kid]
	}
	return k
}

func signed(signer webhook.Keys, ts time.Time, body []byte) http.Header {
	h := http.Header{}
	webhook.SetHeaders(h, signer, "evt-1", "eu-west", ts, body)
	return h
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"evt-1"}`)
	rotating := keys([]string{"k1", "k2"}, "k1", "k2")
	tests := []struct {
		name    string
		signer  webhook.Keys
		accept  webhook.Keys
		ts      time.Time
		body    []byte
		wantKID string
		wantErr error
	}{
		{"signed by current key", keys([]string{"k1"}, "k1"), keys(nil, "k1"), t0, body, "k1", nil},
		{"rotation: old key only, both accepted", keys([]string{"k1"}, "k1"), keys(nil, "k1", "k2"), t0, body, "k1", nil},
		{"rotation: new key only, both accepted", keys([]string{"k2"}, "k2"), keys(nil, "k1", "k2"), t0, body, "k2", nil},
		{"rotation: dual-signed, only new accepted", rotating, keys(nil, "k2"), t0, body, "k2", nil},
		{"signed by neither accepted key", keys([]string{"k3"}, "k3"), keys(nil, "k1", "k2"), t0, body, "", webhook.ErrSignature},
		{"replay older than tolerance", keys([]string{"k1"}, "k1"), keys(nil, "k1"), t0.Add(-6 * time.Minute), body, "", webhook.ErrTimestamp},
		{"too far in the future", keys([]string{"k1"}, "k1"), keys(nil, "k1"), t0.Add(6 * time.Minute), body, "", webhook.ErrTimestamp},
		{"inside tolerance", keys([]string{"k1"}, "k1"), keys(nil, "k1"), t0.Add(-4 * time.Minute), body, "k1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := signed(tc.signer, tc.ts, body)
			kid, err := webhook.Verify(tc.accept, h, tc.body, t0, 0)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if kid != tc.wantKID {
				t.Fatalf("kid = %q, want %q", kid, tc.wantKID)
			}
		})
	}
}

func TestVerifyRefusesTampering(t *testing.T) {
	k := keys([]string{"k1"}, "k1")
	body := []byte(`{"id":"evt-1","payload":"a"}`)
	h := signed(k, t0, body)
	if _, err := webhook.Verify(k, h, []byte(`{"id":"evt-1","payload":"b"}`), t0, 0); !errors.Is(err, webhook.ErrSignature) {
		t.Fatalf("tampered body: err = %v, want ErrSignature", err)
	}
	h2 := h.Clone()
	h2.Set(webhook.HeaderID, "evt-2")
	if _, err := webhook.Verify(k, h2, body, t0, 0); !errors.Is(err, webhook.ErrSignature) {
		t.Fatalf("tampered id: err = %v, want ErrSignature", err)
	}
	h3 := h.Clone()
	h3.Del(webhook.HeaderSignature)
	if _, err := webhook.Verify(k, h3, body, t0, 0); !errors.Is(err, webhook.ErrMissingHeaders) {
		t.Fatalf("no signature: err = %v, want ErrMissingHeaders", err)
	}
	if sig := webhook.Sign(keys([]string{"k1", "k2"}, "k1", "k2"), "evt-1", t0, body); len(bytes.Fields([]byte(sig))) != 2 {
		t.Fatalf("rotation signature %q: want two entries", sig)
	}
}

func TestSinkRecordsDuplicatesAndRejections(t *testing.T) {
	now := t0
	sink := webhook.NewSink(keys(nil, "k1"), func() time.Time { return now }, 0)
	url, err := sink.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	ev := writepath.Event{ID: writepath.EventID("e1", 1), EventID: "e1", Rev: 1}
	good := &webhook.Client{URL: url + "/hook", Region: "eu-west", Keys: keys([]string{"k1"}, "k1"), Clock: func() time.Time { return now }}
	for range 2 {
		if err := good.Deliver(context.Background(), ev); err != nil {
			t.Fatalf("deliver: %v", err)
		}
	}
	bad := &webhook.Client{URL: url + "/hook", Region: "us-east", Keys: keys([]string{"k3"}, "k3"), Clock: func() time.Time { return now }}
	if err := bad.Deliver(context.Background(), ev); err == nil {
		t.Fatal("delivery signed by an unknown key was accepted")
	}
	stale := &webhook.Client{URL: url + "/hook", Region: "eu-west", Keys: keys([]string{"k1"}, "k1"), Clock: func() time.Time { return now.Add(-time.Hour) }}
	if err := stale.Deliver(context.Background(), ev); err == nil {
		t.Fatal("stale delivery was accepted")
	}

	// rotation: the sink now accepts k3 only
	sink.SetKeys(keys(nil, "k3"))
	if err := bad.Deliver(context.Background(), writepath.Event{ID: "other"}); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if err := good.Deliver(context.Background(), ev); err == nil {
		t.Fatal("after rotation the retired key was accepted")
	}

	resp, err := http.Get(url + "/deliveries")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep webhook.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Deliveries) != 3 || rep.Duplicates != 1 || len(rep.Rejected) != 3 {
		t.Fatalf("report = %d deliveries, %d duplicates, %d rejected; want 3, 1, 3", len(rep.Deliveries), rep.Duplicates, len(rep.Rejected))
	}
	d := rep.Deliveries[0]
	if d.ID != ev.ID || d.Region != "eu-west" || d.KID != "k1" || d.BodyHash == "" || !d.ReceivedAt.Equal(t0) {
		t.Fatalf("delivery record = %+v", d)
	}
	if len(sink.Deliveries()) != 3 {
		t.Fatalf("Deliveries() = %d records", len(sink.Deliveries()))
	}
}
