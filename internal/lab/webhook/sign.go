// Package webhook signs, sends and receives third-party webhook deliveries
// in the Standard Webhooks format (https://www.standardwebhooks.com): the
// headers webhook-id, webhook-timestamp and webhook-signature, the latter a
// space-separated list of "v1,<base64 HMAC-SHA256 of id.timestamp.body>",
// one per live key, so a rotation overlaps without a receiver noticing.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Header names of a signed delivery.
const (
	HeaderID        = "webhook-id"        // the event's id: the same on every attempt
	HeaderTimestamp = "webhook-timestamp" // unix seconds of this attempt
	HeaderSignature = "webhook-signature" // space-separated "v1,<base64 mac>", one per signing key
	HeaderRegion    = "X-Region"          // sending region (unsigned; the signed body names it too)
)

// DefaultTolerance bounds the age (and future skew) of a delivery's timestamp.
const DefaultTolerance = 5 * time.Minute

// maxSignatures is how many entries of a webhook-signature header Verify
// looks at: a rotation needs two, a hostile header may carry thousands.
const maxSignatures = 8

// Keys is a key ring: the key ids to sign with, the key ids a signature may
// verify under, and their key material. Key ids never go on the wire; they
// name the key that verified a delivery in the sink's records.
type Keys interface {
	SigningKIDs() []string
	AcceptedKIDs() []string
	Key(kid string) ([]byte, bool)
}

// StaticKeys is a fixed key ring: Signing lists the kids to sign with; every
// kid in Secrets is accepted.
type StaticKeys struct {
	Signing []string
	Secrets map[string][]byte
}

// SigningKIDs implements Keys.
func (k StaticKeys) SigningKIDs() []string { return k.Signing }

// AcceptedKIDs implements Keys: every kid in Secrets, sorted.
func (k StaticKeys) AcceptedKIDs() []string {
	out := make([]string, 0, len(k.Secrets))
	for kid := range k.Secrets {
		out = append(out, kid)
	}
	slices.Sort(out)
	return out
}

// Key implements Keys.
func (k StaticKeys) Key(kid string) ([]byte, bool) {
	b, ok := k.Secrets[kid]
	return b, ok
}

// SecretPrefix marks a serialized webhook secret, as the spec has it.
const SecretPrefix = "whsec_"

// FormatSecret serializes a signing key the way Standard Webhooks libraries
// take it: "whsec_" followed by the key in standard base64.
func FormatSecret(key []byte) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ErrSecret means a serialized secret is not "whsec_" + base64 of 24 to 64 bytes.
var ErrSecret = errors.New("webhook: bad secret")

// ParseSecret reads a "whsec_<base64>" secret and returns the key bytes the
// HMAC uses. The spec asks for 24 to 64 random bytes.
func ParseSecret(s string) ([]byte, error) {
	enc, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: no %q prefix", ErrSecret, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSecret, err)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("%w: %d bytes, want 24 to 64", ErrSecret, len(key))
	}
	return key, nil
}

// Verification errors.
var (
	ErrMissingHeaders = errors.New("webhook: missing signature headers")
	ErrTimestamp      = errors.New("webhook: timestamp outside tolerance")
	ErrSignature      = errors.New("webhook: no valid signature")
)

// mac is HMAC-SHA256 over the spec's signed content "id.timestamp.body".
func mac(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Sign returns the webhook-signature value: one "v1,<base64>" entry per
// signing key, space-separated, in the order of keys.SigningKIDs().
func Sign(keys Keys, id string, ts time.Time, body []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	var sigs []string
	for _, kid := range keys.SigningKIDs() {
		key, ok := keys.Key(kid)
		if !ok {
			continue
		}
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac(key, id, t, body)))
	}
	return strings.Join(sigs, " ")
}

// SetHeaders signs body and sets the delivery headers on h.
func SetHeaders(h http.Header, keys Keys, id, region string, ts time.Time, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, Sign(keys, id, ts, body))
	h.Set(HeaderRegion, region)
}

// Verify checks a delivery as a Standard Webhooks receiver does: the three
// headers present, the timestamp within tolerance of now (0 means
// DefaultTolerance), and at least one v1 signature (of the first
// maxSignatures entries) equal, in constant time, to the HMAC under an
// accepted key. Entries of other versions (v1a) are skipped. It returns the
// kid of the key that verified.
func Verify(keys Keys, hdr http.Header, body []byte, now time.Time, tolerance time.Duration) (string, error) {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	id, tsRaw, sigs := hdr.Get(HeaderID), hdr.Get(HeaderTimestamp), hdr.Get(HeaderSignature)
	if id == "" || tsRaw == "" || sigs == "" {
		return "", ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: %q is not unix seconds", ErrTimestamp, clip(tsRaw))
	}
	ts := time.Unix(sec, 0)
	if now.Sub(ts) > tolerance || ts.Sub(now) > tolerance {
		return "", fmt.Errorf("%w: %s vs now %s", ErrTimestamp, ts.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	kids := keys.AcceptedKIDs()
	macs := make([][]byte, len(kids)) // computed on first need
	seen := 0
	for s := range strings.FieldsSeq(sigs) {
		if seen++; seen > maxSignatures {
			break
		}
		enc, ok := strings.CutPrefix(s, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(got) != sha256.Size {
			continue
		}
		for i, kid := range kids {
			if macs[i] == nil {
				key, ok := keys.Key(kid)
				if !ok {
					macs[i] = []byte{}
					continue
				}
				macs[i] = mac(key, id, tsRaw, body)
			}
			if len(macs[i]) > 0 && hmac.Equal(got, macs[i]) {
				return kid, nil
			}
		}
	}
	return "", ErrSignature
}

// clip bounds a string taken from a request before it goes into an error or
// a record.
func clip(s string) string {
	const n = 128
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

var _ Keys = StaticKeys{}
