package fault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// DefaultLease is the lease a fault gets when its Spec leaves Lease zero.
const DefaultLease = 30 * time.Second

// Spec asks for one fault on one or more proxies. In JSON it is a
// contract.FaultRequest: durations are Go duration strings ("250ms").
type Spec struct {
	Kind    Kind
	Targets []string      // proxy names
	Latency time.Duration // Latency kind only
	Jitter  time.Duration // Latency kind only
	Lease   time.Duration // removed after this unless renewed; 0 means DefaultLease
}

// MarshalJSON writes durations as strings.
func (s Spec) MarshalJSON() ([]byte, error) {
	w := contract.FaultRequest{Kind: string(s.Kind), Targets: s.Targets}
	if s.Latency != 0 {
		w.Latency = s.Latency.String()
	}
	if s.Jitter != 0 {
		w.Jitter = s.Jitter.String()
	}
	if s.Lease != 0 {
		w.Lease = s.Lease.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads durations as strings.
func (s *Spec) UnmarshalJSON(b []byte) error {
	var w contract.FaultRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // strict: a typo must not silently apply a different fault
	if err := dec.Decode(&w); err != nil {
		return err
	}
	out := Spec{Kind: Kind(w.Kind), Targets: w.Targets}
	var errs []error
	for _, f := range []struct {
		name string
		in   string
		dst  *time.Duration
	}{{"latency", w.Latency, &out.Latency}, {"jitter", w.Jitter, &out.Jitter}, {"lease", w.Lease, &out.Lease}} {
		if f.in == "" {
			continue
		}
		d, err := time.ParseDuration(f.in)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
			continue
		}
		*f.dst = d
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	*s = out
	return nil
}

// ErrInvalidSpec marks every validation problem of a Spec.
var ErrInvalidSpec = errors.New("invalid fault spec")

// Validate returns every problem of the spec, each wrapping ErrInvalidSpec.
func (s Spec) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidSpec}, a...)...))
	}
	if !s.Kind.Valid() {
		bad("kind: %q is not one of %v", s.Kind, Kinds())
	}
	if len(s.Targets) == 0 {
		bad("targets: at least one proxy is required")
	}
	seen := map[string]bool{}
	for i, t := range s.Targets {
		if t == "" {
			bad("targets[%d]: empty name", i)
		}
		if seen[t] {
			bad("targets[%d]: %q listed twice", i, t)
		}
		seen[t] = true
	}
	if s.Kind == Latency && s.Latency <= 0 {
		bad("latency: must be > 0 for kind latency")
	}
	if s.Latency < 0 || s.Jitter < 0 {
		bad("latency/jitter: must not be negative")
	}
	if s.Jitter > s.Latency {
		bad("jitter: must not exceed latency")
	}
	if s.Lease < 0 {
		bad("lease: must not be negative")
	}
	return errors.Join(errs...)
}
