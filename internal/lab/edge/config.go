package edge

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"time"
)

// Mode is how the router chooses among in-rotation backends.
type Mode string

const (
	ModeWeights Mode = "weights" // weighted random
	ModeLatency Mode = "latency" // power of two weighted choices, lower EWMA latency wins
)

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool { return m == ModeWeights || m == ModeLatency }

// Backend is one region behind the edge.
type Backend struct {
	Name string `json:"name"`
	URL  string `json:"url"` // base URL, e.g. http://127.0.0.1:8081
}

// Defaults applied by New to zero fields.
const (
	DefaultWeight         = 100
	DefaultStickTTL       = 15 * time.Minute
	DefaultHysteresis     = 30 * time.Second
	DefaultHealthInterval = 200 * time.Millisecond
	// DefaultHealthTimeout and DefaultFailAfter leave room for the stalls
	// of a busy shared machine: on 2 cores at a load average of 4 to 15,
	// health answers of a healthy lab region took up to 0.72 s (p99 0.4 s),
	// and the former 300 ms × 2 misses ejected one for the 30 s of
	// hysteresis. A blackholed region now leaves after about 3.2 s instead
	// of 0.7 s (docs/EDGE.md).
	DefaultHealthTimeout = time.Second
	DefaultFailAfter     = 3
	DefaultTryTimeout    = 2 * time.Second
	MaxBodyBytes         = 1 << 20 // request bodies above this get 413
)

// Config of a Router. Zero values take the defaults above.
type Config struct {
	Backends []Backend
	Mode     Mode           // default ModeWeights
	Weights  map[string]int // per backend; missing names get DefaultWeight
	// StickTTL is how long an idle session stays on its region (sliding);
	// default 15m, negative disables stickiness.
	StickTTL time.Duration
	// Hysteresis is how long a region that left rotation must stay
	// continuously healthy before it returns; default 30s, negative means none.
	Hysteresis     time.Duration
	HealthInterval time.Duration // default 200ms
	HealthTimeout  time.Duration // default 1s
	FailAfter      int           // consecutive failures that take a backend out; default 3
	TryTimeout     time.Duration // per-attempt upstream timeout; default 2s
	// GateIndexHash makes the contract gate compare index_hash; default true.
	// Nil means true.
	GateIndexHash *bool
	// StrandEvacuated is a misconfiguration (lab return_ignored): a
	// backend whose weight was set to 0 stays out of rotation whatever
	// weight it is given later, while the control API answers as if the
	// new weight were applied, as an edge that acknowledges a config push
	// it never loads would.
	StrandEvacuated bool
	Token           string           // bearer token for control mutations; empty refuses all
	Clock           func() time.Time // default time.Now; drives hysteresis and stickiness
	Rand            *rand.Rand       // default seeded from the clock
	Logger          *slog.Logger     // default discards
}

// Bool returns a pointer to b, for Config.GateIndexHash.
func Bool(b bool) *bool { return &b }

// ErrConfig marks every configuration problem.
var ErrConfig = errors.New("invalid edge config")

func (c *Config) withDefaults() {
	if c.Mode == "" {
		c.Mode = ModeWeights
	}
	if c.StickTTL == 0 {
		c.StickTTL = DefaultStickTTL
	}
	if c.Hysteresis == 0 {
		c.Hysteresis = DefaultHysteresis
	}
	if c.HealthInterval == 0 {
		c.HealthInterval = DefaultHealthInterval
	}
	if c.HealthTimeout == 0 {
		c.HealthTimeout = DefaultHealthTimeout
	}
	if c.FailAfter == 0 {
		c.FailAfter = DefaultFailAfter
	}
	if c.TryTimeout == 0 {
		c.TryTimeout = DefaultTryTimeout
	}
	if c.GateIndexHash == nil {
		c.GateIndexHash = Bool(true)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Rand == nil {
		seed := uint64(c.Clock().UnixNano())
		c.Rand = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// validate returns every problem of a defaulted config.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...))
	}
	if len(c.Backends) == 0 {
		bad("backends: at least one is required")
	}
	names := map[string]bool{}
	for i, b := range c.Backends {
		if b.Name == "" {
			bad("backends[%d].name: empty", i)
		}
		if names[b.Name] {
			bad("backends[%d].name: %q listed twice", i, b.Name)
		}
		names[b.Name] = true
		u, err := url.Parse(b.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("backends[%d].url: %q is not an absolute http(s) URL", i, b.URL)
		}
	}
	if !c.Mode.Valid() {
		bad("mode: %q is not %q or %q", c.Mode, ModeWeights, ModeLatency)
	}
	for name, w := range c.Weights {
		if !names[name] {
			bad("weights.%s: no such backend", name)
		}
		if w < 0 {
			bad("weights.%s: %d is negative", name, w)
		}
	}
	if c.HealthInterval < 0 || c.HealthTimeout < 0 || c.TryTimeout < 0 {
		bad("health_interval, health_timeout, try_timeout: must not be negative")
	}
	if c.FailAfter < 0 {
		bad("fail_after: must not be negative")
	}
	return errors.Join(errs...)
}
