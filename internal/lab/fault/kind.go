package fault

import (
	"fmt"
	"slices"
	"strings"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// Kind names a fault the injector can apply to a region's proxy.
type Kind string

const (
	Blackhole Kind = contract.FaultBlackhole // connections accepted, nothing answered, both directions
	Latency   Kind = contract.FaultLatency   // responses delayed by Latency ± Jitter
	Reset     Kind = contract.FaultReset     // connections reset by peer as soon as data flows
)

// toxic is one toxiproxy toxic to add on a proxy.
type toxic struct {
	Type       string
	Stream     string // "upstream" (client→server) or "downstream" (server→client)
	Attributes map[string]int64
}

// kindInfo is how a Kind is described and turned into toxics.
type kindInfo struct {
	help   string
	toxics func(Spec) []toxic
}

// registry is the one list of kinds: validation, help and application derive from it.
var registry = map[Kind]kindInfo{
	Blackhole: {
		help: "accept connections but pass no data either way; existing connections stall too",
		toxics: func(Spec) []toxic {
			return []toxic{
				{Type: "timeout", Stream: "upstream", Attributes: map[string]int64{"timeout": 0}},
				{Type: "timeout", Stream: "downstream", Attributes: map[string]int64{"timeout": 0}},
			}
		},
	},
	Latency: {
		help: "delay data from the region by latency ± jitter",
		toxics: func(s Spec) []toxic {
			return []toxic{{Type: "latency", Stream: "downstream", Attributes: map[string]int64{
				"latency": s.Latency.Milliseconds(), "jitter": s.Jitter.Milliseconds(),
			}}}
		},
	},
	Reset: {
		help: "reset connections (TCP RST) as soon as the client sends data",
		toxics: func(Spec) []toxic {
			return []toxic{
				{Type: "reset_peer", Stream: "upstream", Attributes: map[string]int64{"timeout": 0}},
				{Type: "reset_peer", Stream: "downstream", Attributes: map[string]int64{"timeout": 0}},
			}
		},
	},
}

// Kinds lists every known kind, sorted.
func Kinds() []Kind {
	out := make([]Kind, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { _, ok := registry[k]; return ok }

// Help describes what the kind does.
func (k Kind) Help() string { return registry[k].help }

// Help lists every kind with its description, one per line.
func Help() string {
	var b strings.Builder
	for _, k := range Kinds() {
		fmt.Fprintf(&b, "%-10s %s\n", k, k.Help())
	}
	return b.String()
}
