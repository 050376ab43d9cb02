package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
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
		if r.URL.Query().Get("query") != `queue_depth{region="eu-west"}` {
			http.Error(w, "unexpected query "+r.URL.Query().Get("query"), http.StatusBadRequest)
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
