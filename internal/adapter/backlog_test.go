package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/regiondrill/regiondrill/internal/adapter"
)

// The broker asks for credentials (targets.queue.nats_auth): the backlog is
// read with them and refused without.
func TestJetStreamBacklog(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		Users: []*server.User{{Username: "drill", Password: "pw"}}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats not ready")
	}
	ctx := context.Background()
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("drill", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WRITES_EAST", Subjects: []string{"east.>"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, fmt.Sprintf("east.%d", i), []byte("w")); err != nil {
			t.Fatal(err)
		}
	}
	b := &adapter.JetStreamBacklog{URL: srv.ClientURL(), Streams: map[string]string{"us-east": "WRITES_EAST"}}
	if _, err := b.Backlog(ctx, "us-east"); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("backlog without credentials: err = %v, want an authorization violation", err)
	}
	b.Options = []nats.Option{nats.UserInfo("drill", "pw")}
	if n, err := b.Backlog(ctx, "us-east"); err != nil || n != 3 {
		t.Fatalf("stream backlog %d, %v; want 3", n, err)
	}
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "relay", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := c.Fetch(1)
	for m := range msgs.Messages() {
		_ = m.Ack()
	}
	time.Sleep(100 * time.Millisecond)
	b.Consumer = "relay"
	if n, err := b.Backlog(ctx, "us-east"); err != nil || n != 2 {
		t.Fatalf("consumer backlog %d, %v; want 2 after one ack", n, err)
	}
	if _, err := b.Backlog(ctx, "eu-west"); err == nil {
		t.Fatal("a region without a stream gave a backlog")
	}
}

func TestPrometheusBacklog(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// client_golang posts the query as a form (Prometheus takes GET or POST).
		if r.URL.Path != "/api/v1/query" || r.FormValue("query") != `queue_depth{region="eu-west"}` {
			http.Error(w, `{"status":"error","errorType":"bad_data","error":"unexpected query `+r.FormValue("query")+`"}`, http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"17"]}]}}`)
	}))
	defer srv.Close()
	b := &adapter.PrometheusBacklog{URL: srv.URL, Query: `queue_depth{region="{region}"}`}
	if n, err := b.Backlog(context.Background(), "eu-west"); err != nil || n != 17 {
		t.Fatalf("backlog %d, %v; want 17", n, err)
	}
	if _, err := b.Backlog(context.Background(), "us-east"); err == nil {
		t.Fatal("a failed query gave a backlog")
	}
}

// PromQuery against a real Prometheus: each result type it reads, and
// the ones it refuses.
func TestPromQueryAgainstPrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte("global:\n  scrape_interval: 1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr + "/"
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ok, _ := adapter.PromQuery(ctx, base, "1"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus never answered:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range []struct {
		query string
		v     float64
		ok    bool
		why   string
	}{
		{"scalar(vector(2.5))", 2.5, true, ""},
		{"vector(7)", 7, true, ""},
		{"up", 0, true, "empty result"},
		{`"text"`, 0, false, "string"}, // client_golang refuses a string result itself
		{"up[1m]", 0, false, "unsupported result type matrix"},
		{"sum(", 0, false, "prometheus: bad_data"},
	} {
		v, ok, why := adapter.PromQuery(ctx, base, c.query)
		if v != c.v || ok != c.ok || !strings.Contains(why, c.why) || (c.why == "" && why != "") {
			t.Errorf("%s: got %v, %v, %q; want %v, %v, %q", c.query, v, ok, why, c.v, c.ok, c.why)
		}
	}
	if _, ok, why := adapter.PromQuery(ctx, "http://127.0.0.1:1", "1"); ok || why == "" {
		t.Errorf("an unreachable Prometheus answered: %v %q", ok, why)
	}
}
