// Package secrets is a region's key ring: the key ids it signs with and the
// key ids it accepts (two keys live during a rotation), client session tokens
// minted and verified against it, and the key material webhooks are signed with.
package secrets

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Errors returned by Verify and Rotate.
var (
	ErrMalformed    = errors.New("malformed token")
	ErrUnknownKID   = errors.New("key id not accepted")
	ErrBadSignature = errors.New("bad token signature")
	ErrBadRotation  = errors.New("bad rotation")
)

// Ring holds the signing key id and the accepted key ids. Key material is
// derived from a lab-wide master secret and the key id, so every component
// given the master secret agrees on a key without shipping it around.
type Ring struct {
	master []byte

	mu      sync.RWMutex
	current string
	accept  []string
}

// NewRing returns a ring that signs with current and accepts accept (current
// is always accepted).
func NewRing(master []byte, current string, accept []string) (*Ring, error) {
	r := &Ring{master: slices.Clone(master)}
	if err := r.Rotate(current, accept); err != nil {
		return nil, err
	}
	return r, nil
}

// Rotate sets the signing key id and the accepted set. At most two keys live
// at once; the signing key must be one of them.
func (r *Ring) Rotate(current string, accept []string) error {
	if current == "" || strings.ContainsAny(current, ". ,") {
		return fmt.Errorf("%w: key id %q", ErrBadRotation, current)
	}
	set := []string{current}
	for _, k := range accept {
		if k == "" || strings.ContainsAny(k, ". ,") {
			return fmt.Errorf("%w: key id %q", ErrBadRotation, k)
		}
		if !slices.Contains(set, k) {
			set = append(set, k)
		}
	}
	if len(set) > 2 {
		return fmt.Errorf("%w: %d keys accepted, at most 2 may be live", ErrBadRotation, len(set))
	}
	r.mu.Lock()
	r.current, r.accept = current, set
	r.mu.Unlock()
	return nil
}

// State returns the signing key id and the accepted key ids.
func (r *Ring) State() (current string, accept []string) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current, slices.Clone(r.accept)
}

// Rev is a short digest of the ring's state, reported as secrets_rev in health.
func (r *Ring) Rev() string {
	cur, acc := r.State()
	sorted := slices.Clone(acc)
	sort.Strings(sorted)
	sum := sha256.Sum256([]byte(cur + "|" + strings.Join(sorted, ",")))
	return "sr-" + hex.EncodeToString(sum[:6])
}

// Key returns the key material of kid when kid is accepted.
func (r *Ring) Key(kid string) ([]byte, bool) {
	r.mu.RLock()
	ok := slices.Contains(r.accept, kid)
	r.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return Derive(r.master, kid), true
}

// SigningKIDs lists the key ids outbound signatures use: every live key, the
// signing key first, so a receiver that knows either verifies during rotation.
func (r *Ring) SigningKIDs() []string {
	_, acc := r.State()
	return acc
}

// Derive computes the key material of kid from the master secret.
func Derive(master []byte, kid string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("regiondrill-key:" + kid))
	return m.Sum(nil)
}

// Mint issues a session token signed with the current key:
// "v1.<kid>.<session>.<signature>".
func (r *Ring) Mint(session string) (token, kid string) {
	r.mu.RLock()
	kid = r.current
	r.mu.RUnlock()
	sess := base64.RawURLEncoding.EncodeToString([]byte(session))
	return "v1." + kid + "." + sess + "." + sign(Derive(r.master, kid), kid, sess), kid
}

// Verify checks a token and returns its key id and session.
func (r *Ring) Verify(token string) (kid, session string, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return "", "", ErrMalformed
	}
	kid = parts[1]
	key, ok := r.Key(kid)
	if !ok {
		return kid, "", fmt.Errorf("%w: %s", ErrUnknownKID, kid)
	}
	want := sign(key, kid, parts[2])
	if !hmac.Equal([]byte(want), []byte(parts[3])) {
		return kid, "", ErrBadSignature
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return kid, "", ErrMalformed
	}
	return kid, string(raw), nil
}

func sign(key []byte, kid, sess string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kid + "." + sess))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
