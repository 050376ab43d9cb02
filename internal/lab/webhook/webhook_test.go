package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/lab/secrets"
	"github.com/regiondrill/regiondrill/internal/lab/webhook"
	"github.com/regiondrill/regiondrill/internal/lab/writepath"
)

var (
	t0          = time.Unix(1_700_000_000, 0)
	testSecrets = map[string][]byte{"k1": []byte("old-secret"), "k2": []byte("new-secret"), "k3": []byte("stranger")}
)

func keys(signing []string, accept ...string) webhook.StaticKeys {
	k := webhook.StaticKeys{Signing: signing, Secrets: map[string][]byte{}}
	for _, kid := range accept {
		k.Secrets[kid] = testSecrets[kid]
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

// The signature is the Standard Webhooks one, checked against the spec's
// algorithm written out here: HMAC-SHA256 keyed with the base64-decoded
// "whsec_" secret over "msg_id.timestamp.payload", standard base64, "v1,"
// in front. The expected literal is the reference libraries' test vector.
func TestStandardWebhooksSignature(t *testing.T) {
	const (
		secret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		msgID   = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts      = 1614265330
		payload = `{"test": 2432232314}`
		want    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	key, err := webhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	m := hmac.New(sha256.New, raw)
	m.Write([]byte(msgID + "." + strconv.Itoa(ts) + "." + payload))
	if byHand := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); byHand != want {
		t.Fatalf("the spec's algorithm gives %s, the vector says %s", byHand, want)
	}
	ref := webhook.StaticKeys{Signing: []string{"ref"}, Secrets: map[string][]byte{"ref": key}}
	if got := webhook.Sign(ref, msgID, time.Unix(ts, 0), []byte(payload)); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if got := webhook.FormatSecret(key); got != secret {
		t.Fatalf("FormatSecret = %s, want %s", got, secret)
	}

	// Verified as a receiver would, from the headers alone; during a
	// rotation the header lists both keys' signatures and either key
	// verifies; entries of other schemes are skipped.
	other := webhook.StaticKeys{Signing: []string{"next"}, Secrets: map[string][]byte{"next": bytes.Repeat([]byte{7}, 32)}}
	h := http.Header{}
	h.Set(webhook.HeaderID, msgID)
	h.Set(webhook.HeaderTimestamp, strconv.Itoa(ts))
	h.Set(webhook.HeaderSignature, "v1a,bm90IGEgc2lnbmF0dXJl "+webhook.Sign(other, msgID, time.Unix(ts, 0), []byte(payload))+" "+want)
	now := time.Unix(ts+60, 0)
	for _, tc := range []struct {
		accept  webhook.StaticKeys
		wantKID string
		wantErr error
	}{
		{ref, "ref", nil},
		{other, "next", nil},
		{webhook.StaticKeys{Secrets: map[string][]byte{"ref": key, "next": other.Secrets["next"]}}, "next", nil},
		{keys(nil, "k1"), "", webhook.ErrSignature},
	} {
		kid, err := webhook.Verify(tc.accept, h, []byte(payload), now, 0)
		if kid != tc.wantKID || !errors.Is(err, tc.wantErr) {
			t.Errorf("accepting %v: kid %q err %v, want %q %v", tc.accept.AcceptedKIDs(), kid, err, tc.wantKID, tc.wantErr)
		}
	}
}

func TestParseSecret(t *testing.T) {
	for _, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_***", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65))} {
		if _, err := webhook.ParseSecret(bad); !errors.Is(err, webhook.ErrSecret) {
			t.Errorf("ParseSecret(%q) = %v, want ErrSecret", bad, err)
		}
	}
}

// Session tokens and webhook signatures use keys derived for their purpose:
// a webhook signed with a region's session key is refused, one signed with
// its webhook key verifies. (The other direction, a token forged with the
// webhook key, is in package secrets.)
func TestSessionKeysDoNotSignWebhooks(t *testing.T) {
	master := []byte("lab-master")
	ring, _ := secrets.NewRing(master, "k1", nil)
	body := []byte(`{"id":"evt-1"}`)
	session := webhook.StaticKeys{Signing: []string{"k1"}, Secrets: map[string][]byte{"k1": secrets.Derive(master, secrets.PurposeSession, "k1")}}
	if _, err := webhook.Verify(ring.WebhookKeys(), signed(session, t0, body), body, t0, 0); !errors.Is(err, webhook.ErrSignature) {
		t.Fatalf("a webhook signed with the session key: err = %v, want ErrSignature", err)
	}
	if kid, err := webhook.Verify(ring.WebhookKeys(), signed(ring.WebhookKeys(), t0, body), body, t0, 0); err != nil || kid != "k1" {
		t.Fatalf("a webhook signed with the webhook key: kid %q err %v", kid, err)
	}
}

// recorder keeps a copy of every request a client sends, as an outsider on
// the path would.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs, r.body = append(r.reqs, req.Clone(context.Background())), append(r.body, b)
	r.mu.Unlock()
	req.Body = io.NopCloser(bytes.NewReader(b))
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) replay(t *testing.T, i int) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.reqs[i].URL.String(), bytes.NewReader(r.body[i]))
	req.Header = r.reqs[i].Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A delivery captured and re-sent by someone else within the tolerance is a
// replay: answered 2xx (the receiver is idempotent) and counted on its
// delivery, never as a second delivery. The system delivering the same event
// again (a new attempt) is a duplicate.
func TestSinkCountsReplaysApartFromDuplicates(t *testing.T) {
	now := t0
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sink := webhook.NewSink(keys(nil, "k1"), clock, 0)
	url, err := sink.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	rec := &recorder{}
	c := &webhook.Client{URL: url + "/hook", Region: "eu-west", Keys: keys([]string{"k1"}, "k1"), Clock: clock, HTTP: &http.Client{Transport: rec}}
	ev := writepath.Event{ID: writepath.EventID("e1", 1), EventID: "e1", Rev: 1}
	if err := c.Deliver(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(4 * time.Minute) // still within the 5-minute tolerance
	mu.Unlock()
	for range 3 {
		if code := rec.replay(t, 0); code/100 != 2 {
			t.Fatalf("replay answered %d", code)
		}
	}
	rep := sink.Report()
	if len(rep.Deliveries) != 1 || rep.Duplicates != 0 || rep.Replays != 3 || rep.Deliveries[0].Replays != 3 {
		t.Fatalf("after 3 replays: %d deliveries, %d duplicates, %d replays (%+v)", len(rep.Deliveries), rep.Duplicates, rep.Replays, rep.Deliveries)
	}
	if d := rep.Deliveries[0]; d.Attempt == "" || d.Region != "eu-west" || d.ID != ev.ID {
		t.Fatalf("delivery record %+v", d)
	}

	if err := c.Deliver(context.Background(), ev); err != nil { // the system sends it again
		t.Fatal(err)
	}
	rep = sink.Report()
	if len(rep.Deliveries) != 2 || rep.Duplicates != 1 || rep.Replays != 3 || rep.Deliveries[0].Attempt == rep.Deliveries[1].Attempt {
		t.Fatalf("after a re-delivery: %d deliveries, %d duplicates, %d replays", len(rep.Deliveries), rep.Duplicates, rep.Replays)
	}

	mu.Lock()
	now = now.Add(2 * time.Minute) // the first capture is now 6 minutes old
	mu.Unlock()
	if code := rec.replay(t, 0); code != http.StatusUnauthorized {
		t.Fatalf("replay beyond the tolerance answered %d, want 401", code)
	}
	if rep = sink.Report(); rep.Replays != 3 || rep.RejectedBy[webhook.RejectTimestamp] != 1 {
		t.Fatalf("late replay: %d replays, rejections %v", rep.Replays, rep.RejectedBy)
	}
}

// statusOnly is a ResponseWriter that keeps the status and drops the body.
type statusOnly struct {
	h    http.Header
	code int
}

func (w *statusOnly) Header() http.Header         { return w.h }
func (w *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (w *statusOnly) WriteHeader(code int)        { w.code = code }

// Heap held by the sink, measured after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A flood of refused requests costs the sink a fixed amount of memory: the
// last RecentRejections records of clipped size and counters. 100,000
// bad-signature requests with 10 KB bodies and 200-byte ids must leave the
// heap less than 1 MiB larger (the ring holds at most 256 records of about
// 500 bytes, 128 KiB; the old sink, keeping every rejection, grew by 38.7 MB).
func TestSinkMemoryBoundedUnderRejectFlood(t *testing.T) {
	const n, bound = 100_000, 1 << 20
	sink := webhook.NewSink(keys(nil, "k1"), func() time.Time { return t0 }, 0)
	body := bytes.Repeat([]byte("x"), 10<<10)
	forger := keys([]string{"k3"}, "k3")
	sig := webhook.Sign(forger, "evt", t0, body)
	id := strings.Repeat("i", 190)
	before := heapInUse()
	w := &statusOnly{}
	u, _ := url.Parse("/hooks")
	for i := range n {
		req := &http.Request{Method: http.MethodPost, URL: u, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
		req.Header.Set(webhook.HeaderID, fmt.Sprintf("%010d%s", i, id))
		req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(t0.Unix(), 10))
		req.Header.Set(webhook.HeaderSignature, sig)
		req.Header.Set(webhook.HeaderRegion, "outsider")
		w.code, w.h = 0, http.Header{}
		sink.ServeHTTP(w, req)
		if w.code != http.StatusUnauthorized {
			t.Fatalf("request %d answered %d", i, w.code)
		}
	}
	grew := int64(heapInUse()) - int64(before)
	rep := sink.Report()
	t.Logf("%d rejected requests: heap grew %d bytes (bound %d), ring %d, %d body bytes counted", n, grew, bound, len(rep.Rejected), rep.RejectedBytes)
	if grew > bound {
		t.Fatalf("heap grew %d bytes under %d rejected requests, bound %d", grew, n, bound)
	}
	if rep.RejectedTotal != n || rep.RejectedBytes != int64(n*len(body)) || rep.RejectedBy[webhook.RejectSignature] != n {
		t.Fatalf("counters: total %d, bytes %d, by reason %v", rep.RejectedTotal, rep.RejectedBytes, rep.RejectedBy)
	}
	if len(rep.Rejected) != webhook.RecentRejections || len(rep.Rejected[0].ID) > 140 ||
		!strings.HasPrefix(rep.Rejected[len(rep.Rejected)-1].ID, fmt.Sprintf("%010d", n-1)) || len(rep.Deliveries) != 0 {
		t.Fatalf("ring: %d records, first id %q", len(rep.Rejected), rep.Rejected[0].ID)
	}
	runtime.KeepAlive(sink)
}
