package secrets_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/regiondrill/regiondrill/internal/lab/secrets"
)

func TestDualAcceptAcrossRegions(t *testing.T) {
	master := []byte("lab-master")
	east, _ := secrets.NewRing(master, "k1", []string{"k1", "k2"})
	west, _ := secrets.NewRing(master, "k2", []string{"k1", "k2"})
	tok, kid := east.Mint("s-1")
	if kid != "k1" {
		t.Fatalf("kid = %s", kid)
	}
	gotKID, sess, err := west.Verify(tok)
	if err != nil || gotKID != "k1" || sess != "s-1" {
		t.Fatalf("west refused east's token: %v %s %s", err, gotKID, sess)
	}
}

func TestRefusesUnknownAndForged(t *testing.T) {
	master := []byte("lab-master")
	east, _ := secrets.NewRing(master, "k-east", nil)
	west, _ := secrets.NewRing(master, "k-west", nil)
	tok, _ := east.Mint("s")
	if _, _, err := west.Verify(tok); !errors.Is(err, secrets.ErrUnknownKID) {
		t.Fatalf("want ErrUnknownKID, got %v", err)
	}
	forged := tok[:len(tok)-2] + "xx"
	if _, _, err := east.Verify(forged); !errors.Is(err, secrets.ErrBadSignature) {
		t.Fatalf("want ErrBadSignature, got %v", err)
	}
	other, _ := secrets.NewRing([]byte("other-master"), "k-east", nil)
	tok2, _ := other.Mint("s")
	if _, _, err := east.Verify(tok2); !errors.Is(err, secrets.ErrBadSignature) {
		t.Fatalf("token from another master verified: %v", err)
	}
	if _, _, err := east.Verify("garbage"); !errors.Is(err, secrets.ErrMalformed) {
		t.Fatalf("want ErrMalformed, got %v", err)
	}
}

func TestRotate(t *testing.T) {
	r, _ := secrets.NewRing([]byte("m"), "k1", nil)
	rev1 := r.Rev()
	old, _ := r.Mint("s")
	if err := r.Rotate("k2", []string{"k1"}); err != nil {
		t.Fatal(err)
	}
	if r.Rev() == rev1 {
		t.Fatal("rev unchanged by rotation")
	}
	if _, _, err := r.Verify(old); err != nil {
		t.Fatalf("old key refused during rotation: %v", err)
	}
	if err := r.Rotate("k3", []string{"k1", "k2"}); !errors.Is(err, secrets.ErrBadRotation) {
		t.Fatalf("three live keys accepted: %v", err)
	}
	if err := r.Rotate("k2", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Verify(old); !errors.Is(err, secrets.ErrUnknownKID) {
		t.Fatalf("revoked key still accepted: %v", err)
	}
	if got := r.WebhookKeys().SigningKIDs(); len(got) != 1 || got[0] != "k2" {
		t.Fatalf("signing kids = %v", got)
	}
}

// A webhook receiver holds the webhook secret of a key id; with it, it must
// not be able to mint a session token the regions accept. The keys are
// derived for each purpose, so a token forged with the webhook key is refused
// and the two keys differ.
func TestWebhookKeyCannotMintSessionTokens(t *testing.T) {
	r, _ := secrets.NewRing([]byte("lab-master"), "k1", nil)
	hookKey, ok := r.WebhookKeys().Key("k1")
	if !ok {
		t.Fatal("no webhook key for k1")
	}
	if string(hookKey) == string(secrets.Derive([]byte("lab-master"), secrets.PurposeSession, "k1")) {
		t.Fatal("the webhook key is the session key")
	}
	genuine, _ := r.Mint("s-1")
	parts := strings.Split(genuine, ".")
	m := hmac.New(sha256.New, hookKey)
	m.Write([]byte(parts[1] + "." + parts[2]))
	forged := strings.Join(append(parts[:3:3], base64.RawURLEncoding.EncodeToString(m.Sum(nil))), ".")
	if _, _, err := r.Verify(forged); !errors.Is(err, secrets.ErrBadSignature) {
		t.Fatalf("a token signed with the webhook key: err = %v, want ErrBadSignature", err)
	}
	if _, _, err := r.Verify(genuine); err != nil {
		t.Fatalf("genuine token refused: %v", err)
	}
}

func TestDeriveSeparatesPurposesAndKeys(t *testing.T) {
	m := []byte("m")
	seen := map[string]string{}
	for _, p := range []secrets.Purpose{secrets.PurposeSession, secrets.PurposeWebhook, secrets.PurposeNATS} {
		for _, kid := range []string{"k1", "k2"} {
			k := secrets.Derive(m, p, kid)
			if len(k) != 32 {
				t.Fatalf("%s/%s: %d bytes", p, kid, len(k))
			}
			if prev, dup := seen[string(k)]; dup {
				t.Fatalf("%s/%s derives the same key as %s", p, kid, prev)
			}
			seen[string(k)] = string(p) + "/" + kid
		}
	}
	if string(secrets.Derive(m, secrets.PurposeWebhook, "k1")) == string(secrets.Derive([]byte("other"), secrets.PurposeWebhook, "k1")) {
		t.Fatal("the key does not depend on the master secret")
	}
}
