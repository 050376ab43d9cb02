package writepath

import (
	"github.com/regiondrill/regiondrill/internal/natsauth"
	"testing"

	"github.com/nats-io/nats.go"
)

// A region's embedded broker opens no port and is given a random password
// when none is set; its own process connects with it. (The ledger server's
// refusal of other clients is in TestLedgerServerRefusesClientsWithoutCredentials.)
func TestEmbeddedBrokerOpensNoPortAndNeedsCredentials(t *testing.T) {
	var auth natsauth.Credentials
	ns, err := startEmbedded("r", t.TempDir(), &auth, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if ns.Addr() != nil {
		t.Fatalf("embedded region broker listens on %s", ns.Addr())
	}
	if auth.User == "" || len(auth.Password) < 32 {
		t.Fatalf("no random credentials were made: %s", auth)
	}
	nc, err := nats.Connect("", append(auth.Options(), nats.InProcessServer(ns))...)
	if err != nil {
		t.Fatalf("with the credentials: %v", err)
	}
	nc.Close()
}
