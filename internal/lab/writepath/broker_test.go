package writepath_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/regiondrill/regiondrill/internal/natsauth"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/regiondrill/regiondrill/internal/lab/writepath"
)

// The ledger server takes only its user: no credentials and a wrong password
// are refused, the right ones reach the ledger bucket. Starting it without
// credentials is an error, not an open server.
func TestLedgerServerRefusesClientsWithoutCredentials(t *testing.T) {
	if _, _, err := writepath.StartLedgerServer(t.TempDir(), natsauth.Credentials{}); !errors.Is(err, natsauth.ErrCredentials) {
		t.Fatalf("ledger without credentials: err = %v, want ErrCredentials", err)
	}
	url, shutdown, err := writepath.StartLedgerServer(t.TempDir(), ledgerAuth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shutdown)
	for name, auth := range map[string]natsauth.Credentials{
		"none":           {},
		"wrong password": {User: ledgerAuth.User, Password: "guess"},
		"other user":     {User: "admin", Password: ledgerAuth.Password},
	} {
		nc, err := nats.Connect(url, append(auth.Options(), nats.MaxReconnects(0))...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected to the ledger server", name)
		} else if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: err = %v, want an authorization violation", name, err)
		}
	}
	nc, err := nats.Connect(url, ledgerAuth.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.KeyValue(context.Background(), writepath.LedgerBucket); err != nil {
		t.Fatalf("ledger bucket with credentials: %v", err)
	}
}

// An external JetStream server with authentication (the plan's
// lab.nats_url): a region without credentials cannot open its write path; with them
// it takes and applies writes.
func TestExternalNATSWithCredentials(t *testing.T) {
	auth := natsauth.Credentials{User: "regions", Password: "s3cret"}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, Users: []*server.User{{Username: auth.User, Password: auth.Password}}})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if p, err := writepath.Open(ctx, writepath.Config{Region: "eu", DataDir: t.TempDir(), NATSURL: ns.ClientURL()}); err == nil {
		_ = p.Close()
		t.Fatal("a region without credentials opened its write path on the authenticated server")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("no credentials: err = %v, want an authorization violation", err)
	}

	l := newLab(t, writepath.Faults{}, "eu", "us")
	for _, n := range l.names {
		l.start(n, func(c *writepath.Config) { c.NATSURL, c.NATSAuth = ns.ClientURL(), auth })
	}
	key := fmt.Sprintf("ext-%d", time.Now().UnixNano())
	mustAccept(t, l.r("us").url, key, writeBody("ext", 1, "x"))
	waitFor(t, "the write applied over the authenticated broker", func() bool { return len(l.stored(key)) == 1 })
}

// Credentials that mix methods or lack a half fail at connect, before
// reaching any server.
func TestCredentialsRefuseAmbiguity(t *testing.T) {
	for name, c := range map[string]natsauth.Credentials{
		"two methods":       {User: "u", Password: "p", CredsFile: "/nonexistent.creds"},
		"user, no password": {User: "u"},
		"password, no user": {Password: "p"},
		"missing seed file": {NKeyFile: "/nonexistent.nk"},
	} {
		_, err := nats.Connect("nats://127.0.0.1:1", c.Options()...)
		if !errors.Is(err, natsauth.ErrCredentials) {
			t.Errorf("%s: err = %v, want ErrCredentials", name, err)
		}
		if s := c.String(); c.Password != "" && strings.Contains(s, c.Password) {
			t.Errorf("%s: String() shows the password: %s", name, s)
		}
	}
}
