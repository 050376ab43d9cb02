package lab

import (
	"fmt"
	"sort"
	"strings"
)

// Misconfig is one of the page's typical failures built into a lab on
// purpose, as a real change of its behaviour. Only the lab reads these names:
// a drill has to find each failure from what it observes.
type Misconfig string

// The misconfigurations.
const (
	NoFreeze             Misconfig = "no_freeze"
	NoDedupe             Misconfig = "no_dedupe"
	RebuildWrongAnalyzer Misconfig = "rebuild_wrong_analyzer"
	WebhooksFromAll      Misconfig = "webhooks_from_all"
	StaleKeys            Misconfig = "stale_keys"
	ColdStart            Misconfig = "cold_start"
	PurgeNoop            Misconfig = "purge_noop"
	EdgeIgnoresIndex     Misconfig = "edge_ignores_index_hash"
	ReturnIgnored        Misconfig = "return_ignored"
)

// misconfigs is the one registry of misconfigurations: name → what it breaks.
var misconfigs = map[Misconfig]string{
	NoFreeze:             "frozen followers still write accepted writes directly to their store",
	NoDedupe:             "the write path ignores idempotency keys",
	RebuildWrongAnalyzer: "index rebuilds silently use another analyzer and the edge's contract gate ignores index_hash",
	WebhooksFromAll:      "every region emits webhooks whatever the emit policy",
	StaleKeys:            "each region accepts only its own key id",
	ColdStart:            "the pre-warm (minimum instances) setting is ignored",
	PurgeNoop:            "cache purges report success and purge nothing",
	EdgeIgnoresIndex:     "the edge's contract gate ignores index_hash, so a region serving another index stays in rotation",
	ReturnIgnored:        "the edge acknowledges weight changes but never puts a region back in rotation once its weight was 0",
}

// Misconfigs lists every misconfiguration name, sorted.
func Misconfigs() []Misconfig {
	out := make([]Misconfig, 0, len(misconfigs))
	for m := range misconfigs {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Describe says what a misconfiguration breaks.
func (m Misconfig) Describe() string { return misconfigs[m] }

// ParseMisconfigs checks names against the registry.
func ParseMisconfigs(names []string) ([]Misconfig, error) {
	var out []Misconfig
	for _, n := range names {
		m := Misconfig(strings.TrimSpace(n))
		if _, ok := misconfigs[m]; !ok {
			return nil, fmt.Errorf("unknown misconfiguration %q (known: %v)", n, Misconfigs())
		}
		out = append(out, m)
	}
	return out, nil
}

type misconfigSet map[Misconfig]bool

func (s misconfigSet) has(m Misconfig) bool { return s[m] }
