// Package webhook signs, sends and receives third-party webhook deliveries
// in the Standard Webhooks style, with key ids so rotation can overlap.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of a signed delivery.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp" // unix seconds
	HeaderSignature = "webhook-signature" // space-separated "v1,<kid>,<base64 mac>"
	HeaderRegion    = "X-Region"          // sending region
)

// DefaultTolerance bounds the age (and future skew) of a delivery's timestamp.
const DefaultTolerance = 5 * time.Minute

// Keys is a key ring: the key ids to sign with and every accepted key.
type Keys interface {
	SigningKIDs() []string
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

// Key implements Keys.
func (k StaticKeys) Key(kid string) ([]byte, bool) {
	b, ok := k.Secrets[kid]
	return b, ok
}

// Verification errors.
var (
	ErrMissingHeaders = errors.New("webhook: missing signature headers")
	ErrTimestamp      = errors.New("webhook: timestamp outside tolerance")
	ErrSignature      = errors.New("webhook: no valid signature")
)

func mac(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Sign returns the webhook-signature value: one v1 signature per signing key.
func Sign(keys Keys, id string, ts time.Time, body []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	var sigs []string
	for _, kid := range keys.SigningKIDs() {
		key, ok := keys.Key(kid)
		if !ok {
			continue
		}
		sigs = append(sigs, "v1,"+kid+","+base64.StdEncoding.EncodeToString(mac(key, id, t, body)))
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

// Verify checks a delivery: the timestamp within tolerance of now (0 means
// DefaultTolerance) and at least one listed signature valid under an
// accepted key. It returns the kid that verified.
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
		return "", fmt.Errorf("%w: %q", ErrTimestamp, tsRaw)
	}
	ts := time.Unix(sec, 0)
	if now.Sub(ts) > tolerance || ts.Sub(now) > tolerance {
		return "", fmt.Errorf("%w: %s vs now %s", ErrTimestamp, ts.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	for _, s := range strings.Fields(sigs) {
		version, rest, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		kid, enc, ok := strings.Cut(rest, ",")
		if !ok {
			continue
		}
		key, ok := keys.Key(kid)
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			continue
		}
		if hmac.Equal(got, mac(key, id, tsRaw, body)) {
			return kid, nil
		}
	}
	return "", ErrSignature
}

var _ Keys = StaticKeys{}
