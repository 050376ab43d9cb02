// Package secrets is a region's key ring: the key ids it signs with and the
// key ids it accepts (two keys live during a rotation), client session tokens
// minted and verified against it, and the key material webhooks are signed with.
//
// Every key is derived from one master secret with HKDF-SHA256 and a label
// naming its use (Purpose), so a key for one use never works for another: a
// webhook receiver holding the webhook secret cannot mint session tokens, and
// a session token is no webhook signature.
package secrets

import (
	"crypto/hkdf"
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
// derived from a lab-wide master secret, the key's purpose and the key id, so
// every component given the master secret agrees on a key without shipping
// it around.
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

// Purpose names what a derived key is for; keys of different purposes are
// independent.
type Purpose string

// The purposes keys are derived for.
const (
	PurposeSession Purpose = "session-token" // client session tokens (Mint, Verify)
	PurposeWebhook Purpose = "webhook"       // Standard Webhooks signatures (WebhookKeys)
	PurposeNATS    Purpose = "nats"          // passwords of the lab's JetStream servers
)

// Derive computes the 32-byte key of kid for purpose from the master secret:
// HKDF-SHA256 with info "regiondrill/v1/<purpose>/<kid>".
func Derive(master []byte, purpose Purpose, kid string) []byte {
	k, err := hkdf.Key(sha256.New, master, nil, "regiondrill/v1/"+string(purpose)+"/"+kid, 32)
	if err != nil { // only for an output longer than 255 hashes
		panic("secrets: hkdf: " + err.Error())
	}
	return k
}

// key returns the key material of kid for purpose when kid is accepted.
func (r *Ring) key(purpose Purpose, kid string) ([]byte, bool) {
	r.mu.RLock()
	ok := slices.Contains(r.accept, kid)
	r.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return Derive(r.master, purpose, kid), true
}

// WebhookKeys is the ring's webhook key set: it signs with every live key
// (the signing key first, so a receiver that knows either verifies during a
// rotation) and accepts every live key. Its keys are not the session keys.
func (r *Ring) WebhookKeys() WebhookKeys { return WebhookKeys{r: r} }

// WebhookKeys is the webhook view of a Ring (it satisfies webhook.Keys).
type WebhookKeys struct{ r *Ring }

// SigningKIDs lists the key ids outbound webhook signatures use.
func (w WebhookKeys) SigningKIDs() []string {
	_, acc := w.r.State()
	return acc
}

// AcceptedKIDs lists the key ids an inbound webhook signature may verify under.
func (w WebhookKeys) AcceptedKIDs() []string { return w.SigningKIDs() }

// Key returns the webhook key of kid when kid is live.
func (w WebhookKeys) Key(kid string) ([]byte, bool) { return w.r.key(PurposeWebhook, kid) }

// Mint issues a session token signed with the current key:
// "v1.<kid>.<session>.<signature>".
func (r *Ring) Mint(session string) (token, kid string) {
	r.mu.RLock()
	kid = r.current
	r.mu.RUnlock()
	sess := base64.RawURLEncoding.EncodeToString([]byte(session))
	return "v1." + kid + "." + sess + "." + sign(Derive(r.master, PurposeSession, kid), kid, sess), kid
}

// Verify checks a token and returns its key id and session.
func (r *Ring) Verify(token string) (kid, session string, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return "", "", ErrMalformed
	}
	kid = parts[1]
	key, ok := r.key(PurposeSession, kid)
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
