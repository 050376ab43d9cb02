// Package fault injects network faults (blackhole, latency, reset) between
// the edge and a region, using toxiproxy as a library. Every fault holds a
// lease: it is removed when the lease runs out unless renewed, so a crashed
// drill never leaves a region broken.
package fault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// Errors of the injector.
var (
	ErrUnknownProxy = errors.New("unknown proxy")
	ErrUnknownFault = errors.New("unknown fault")
	ErrProxyExists  = errors.New("proxy already exists")
	ErrClosed       = errors.New("injector closed")
)

// SweepInterval is how often the background loop removes expired faults.
const SweepInterval = 100 * time.Millisecond

type applied struct {
	contract.Fault
	toxics []string // toxic names added on every target
}

// Injector owns the toxiproxy proxies in front of regions and the faults on them.
type Injector struct {
	logger *slog.Logger
	clock  func() time.Time
	server *toxiproxy.ApiServer

	mu      sync.Mutex
	proxies map[string]*toxiproxy.Proxy
	faults  map[string]*applied
	seq     uint64
	closed  bool

	stop chan struct{}
	done chan struct{}
}

// New returns an injector whose lease loop runs until Close. A nil logger
// discards; a nil clock is time.Now.
func New(logger *slog.Logger, clock func() time.Time) *Injector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = time.Now
	}
	in := &Injector{
		logger:  logger,
		clock:   clock,
		server:  toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		proxies: map[string]*toxiproxy.Proxy{},
		faults:  map[string]*applied{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go in.loop()
	return in
}

func (in *Injector) loop() {
	defer close(in.done)
	t := time.NewTicker(SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-in.stop:
			return
		case <-t.C:
			in.Sweep()
		}
	}
}

// Sweep removes every fault whose lease has expired at the injector's clock
// and returns their ids. The background loop calls it; tests call it directly.
func (in *Injector) Sweep() []string {
	now := in.clock()
	in.mu.Lock()
	var expired []string
	for id, f := range in.faults {
		if !now.Before(f.ExpiresAt) {
			expired = append(expired, id)
		}
	}
	in.mu.Unlock()
	sort.Strings(expired)
	for _, id := range expired {
		if err := in.Remove(id); err != nil {
			in.logger.Error("fault lease expiry removal failed", "id", id, "err", err)
			continue
		}
		in.logger.Info("fault lease expired", "id", id)
	}
	return expired
}

// AddProxy starts a proxy named name on 127.0.0.1:0 forwarding to upstream
// (host:port) and returns the address it listens on.
func (in *Injector) AddProxy(name, upstream string) (string, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return "", ErrClosed
	}
	if _, ok := in.proxies[name]; ok {
		return "", fmt.Errorf("add proxy %q: %w", name, ErrProxyExists)
	}
	p := toxiproxy.NewProxy(in.server, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return "", fmt.Errorf("add proxy %q: %w", name, err)
	}
	in.proxies[name] = p
	in.logger.Info("fault proxy started", "name", name, "listen", p.Listen, "upstream", upstream)
	return p.Listen, nil
}

// Apply validates spec and adds its toxics on every target. If any target
// fails, what was added is taken back and nothing is recorded.
func (in *Injector) Apply(spec Spec) (string, error) {
	if err := spec.Validate(); err != nil {
		return "", err
	}
	if spec.Lease == 0 {
		spec.Lease = DefaultLease
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return "", ErrClosed
	}
	for _, t := range spec.Targets {
		if _, ok := in.proxies[t]; !ok {
			return "", fmt.Errorf("apply %s: %q: %w", spec.Kind, t, ErrUnknownProxy)
		}
	}
	in.seq++
	id := "f" + strconv.FormatUint(in.seq, 10)
	toxs := registry[spec.Kind].toxics(spec)
	names := make([]string, len(toxs))
	for i, tx := range toxs {
		names[i] = id + "_" + tx.Type + "_" + tx.Stream
	}
	var done []string
	for _, target := range spec.Targets {
		p := in.proxies[target]
		for i, tx := range toxs {
			body, err := json.Marshal(map[string]any{
				"name": names[i], "type": tx.Type, "stream": tx.Stream,
				"toxicity": 1.0, "attributes": tx.Attributes,
			})
			if err == nil {
				_, err = p.Toxics.AddToxicJson(bytes.NewReader(body))
			}
			if err != nil {
				for _, d := range done {
					in.removeToxics(d, names)
				}
				in.removeToxics(target, names)
				return "", fmt.Errorf("apply %s on %q: %w", spec.Kind, target, err)
			}
		}
		done = append(done, target)
	}
	now := in.clock()
	in.faults[id] = &applied{
		Fault: contract.Fault{
			ID: id, Kind: string(spec.Kind), Targets: slices.Clone(spec.Targets),
			Latency: spec.Latency, Jitter: spec.Jitter,
			AppliedAt: now, ExpiresAt: now.Add(spec.Lease),
		},
		toxics: names,
	}
	in.logger.Info("fault applied", "id", id, "kind", spec.Kind, "targets", spec.Targets, "lease", spec.Lease)
	return id, nil
}

// removeToxics removes the named toxics from a proxy, ignoring absent ones.
// Caller holds in.mu.
func (in *Injector) removeToxics(target string, names []string) error {
	p, ok := in.proxies[target]
	if !ok {
		return nil
	}
	var errs []error
	for _, n := range names {
		err := p.Toxics.RemoveToxic(context.Background(), n)
		if err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
			errs = append(errs, fmt.Errorf("remove toxic %s on %q: %w", n, target, err))
		}
	}
	return errors.Join(errs...)
}

// Renew extends a fault's lease to lease from now (0 means DefaultLease).
func (in *Injector) Renew(id string, lease time.Duration) error {
	if lease < 0 {
		return fmt.Errorf("%w: lease: must not be negative", ErrInvalidSpec)
	}
	if lease == 0 {
		lease = DefaultLease
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	f, ok := in.faults[id]
	if !ok {
		return fmt.Errorf("renew %q: %w", id, ErrUnknownFault)
	}
	f.ExpiresAt = in.clock().Add(lease)
	return nil
}

// Remove takes a fault off all its targets. Removing an unknown or already
// removed fault is not an error. Connections that were open through a
// blackhole are closed on removal; new ones flow normally.
func (in *Injector) Remove(id string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	f, ok := in.faults[id]
	if !ok {
		return nil
	}
	var errs []error
	for _, t := range f.Targets {
		errs = append(errs, in.removeToxics(t, f.toxics))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove fault %s: %w", id, err)
	}
	delete(in.faults, id)
	in.logger.Info("fault removed", "id", id)
	return nil
}

// Active lists the applied faults, ordered by id.
func (in *Injector) Active() []contract.Fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]contract.Fault, 0, len(in.faults))
	for _, f := range in.faults {
		ff := f.Fault
		ff.Targets = slices.Clone(ff.Targets)
		out = append(out, ff)
	}
	slices.SortFunc(out, func(a, b contract.Fault) int {
		if len(a.ID) != len(b.ID) {
			return len(a.ID) - len(b.ID)
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// Close removes every fault, stops every proxy and the lease loop.
func (in *Injector) Close() error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil
	}
	in.closed = true
	ids := make([]string, 0, len(in.faults))
	for id := range in.faults {
		ids = append(ids, id)
	}
	in.mu.Unlock()
	close(in.stop)
	<-in.done
	var errs []error
	for _, id := range ids {
		errs = append(errs, in.Remove(id))
	}
	in.mu.Lock()
	for name, p := range in.proxies {
		p.Stop()
		delete(in.proxies, name)
	}
	in.mu.Unlock()
	return errors.Join(errs...)
}
