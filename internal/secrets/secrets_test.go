package secrets_test

import (
	"errors"
	"testing"

	"github.com/regiondrill/regiondrill/internal/secrets"
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
	if got := r.SigningKIDs(); len(got) != 1 || got[0] != "k2" {
		t.Fatalf("signing kids = %v", got)
	}
}
