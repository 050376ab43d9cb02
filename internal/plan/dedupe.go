package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// DedupeFields are the fields a dedupe_key expression may combine.
var DedupeFields = []string{"event_id", "rev", "source", "tenant", "region"}

// ParseDedupeKey parses "sha256(a+b[+c...])" and returns the fields in order.
func ParseDedupeKey(expr string) ([]string, error) {
	s := strings.TrimSpace(expr)
	inner, ok := strings.CutPrefix(s, "sha256(")
	if ok {
		inner, ok = strings.CutSuffix(inner, ")")
	}
	if !ok {
		return nil, fmt.Errorf("%q is not of the form sha256(field+field...); fields: %s", expr, strings.Join(DedupeFields, ", "))
	}
	var fields []string
	for _, f := range strings.Split(inner, "+") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
			return nil, fmt.Errorf("%q has an empty field; write sha256(event_id+rev)", expr)
		case !slices.Contains(DedupeFields, f):
			return nil, fmt.Errorf("unknown field %q in %q%s; fields: %s", f, expr, didYouMean(f, DedupeFields), strings.Join(DedupeFields, ", "))
		case slices.Contains(fields, f):
			return nil, fmt.Errorf("field %q appears twice in %q", f, expr)
		}
		fields = append(fields, f)
	}
	return fields, nil
}

// DedupeKey computes webhook_policy.dedupe_key for one event: the hex
// sha256 of the named fields' values concatenated in order. It returns ""
// if the expression does not parse (Validate reports that).
func (p *Plan) DedupeKey(fields map[string]string) string {
	return p.Deduper()(fields)
}

// Deduper parses the dedupe_key expression once and returns DedupeKey as a
// function, for computing many keys.
func (p *Plan) Deduper() func(fields map[string]string) string {
	names, err := ParseDedupeKey(p.WebhookPolicy.DedupeKey)
	if err != nil {
		return func(map[string]string) string { return "" }
	}
	return func(fields map[string]string) string {
		h := sha256.New()
		for _, n := range names {
			h.Write([]byte(fields[n]))
		}
		return hex.EncodeToString(h.Sum(nil))
	}
}
