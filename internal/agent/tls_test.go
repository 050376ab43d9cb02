package agent_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/regiondrill/regiondrill/internal/agent"
)

// selfSigned makes a CA for 127.0.0.1 and returns the server's TLS config
// and the path of the CA's PEM file.
func selfSigned(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "regiondrill test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	return cfg, ca
}

// A server that requires TLS is reached over tls:// with the private CA; an
// agent that does not trust the CA refuses to start with the reason, and a
// token is checked over it.
func TestTLSAndToken(t *testing.T) {
	cfg, ca := selfSigned(t)
	s := natsServer(t, &server.Options{TLSConfig: cfg, TLS: true, Authorization: "s3cret"})
	url := strings.Replace(s.ClientURL(), "nats://", "tls://", 1)
	if err := agent.Run(t.Context(), agent.Config{URL: url, Name: "eu", Auth: agent.Auth{Token: "s3cret"}}); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an agent that does not trust the server's CA: %v", err)
	}
	if err := agent.Run(t.Context(), agent.Config{URL: url, Name: "eu", Auth: agent.Auth{Token: "wrong", TLSCA: ca}}); !errors.Is(err, agent.ErrAuth) {
		t.Fatalf("a wrong token over TLS: %v, want ErrAuth", err)
	}
	startAgent(t, url, "eu", 0, agent.Auth{Token: "s3cret", TLSCA: ca})
	t.Setenv("RD_TEST_TOKEN", "s3cret")
	p := agentsPlan(t, url, `"token_env": "RD_TEST_TOKEN", "tls_ca": "`+ca+`",`, "eu")
	c, err := agent.Dial(p, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if live, err := c.Prepare(t.Context()); err != nil || len(live) != 1 {
		t.Fatalf("the coordinator over TLS with a token: %v %v", live, err)
	}
}
