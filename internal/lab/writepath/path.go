// Package writepath is a region's write path: idempotent accept into a
// durable local queue, a relay that applies (primary) or forwards (follower),
// a global dedupe ledger, and webhook events routed by the emit policy.
// See docs/WRITEPATH.md.
package writepath

import (
	"context"
	"errors"
	"fmt"
	"github.com/regiondrill/regiondrill/internal/natsauth"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/regiondrill/regiondrill/internal/contract"
)

// Faults are lab misconfigurations; only the lab sets them.
type Faults struct {
	NoFreeze        bool // a frozen region still writes accepted writes directly to its store
	NoDedupe        bool // idempotency keys are ignored everywhere
	WebhooksFromAll bool // every region emits every event, regardless of emit_from
}

// WebhookSender delivers one event to the third-party sink.
type WebhookSender interface {
	Deliver(ctx context.Context, ev Event) error
}

// Config configures one region's write path.
type Config struct {
	Region  string
	DataDir string // bbolt store and embedded JetStream files live here
	// NATSURL "" starts an embedded JetStream server under DataDir; otherwise
	// the region connects to it and uses per-region stream names.
	NATSURL string
	// NATSAuth authenticates to NATSURL. With an embedded server it is the
	// one user that server accepts (zero: a random password); that server
	// opens no port, only this process reaches it.
	NATSAuth natsauth.Credentials
	// LedgerURL is the NATS URL of the global ledger (see StartLedgerServer),
	// reached through the region's egress proxy.
	LedgerURL     string
	LedgerAuth    natsauth.Credentials       // authenticates to LedgerURL
	PeerURL       func(region string) string // base URL of a peer's internal endpoints
	InternalToken string                     // bearer token of /internal/* calls, both ways
	Webhook       WebhookSender
	Faults        Faults
	Clock         func() time.Time // default time.Now
	Logger        *slog.Logger     // default discards
	HTTPClient    *http.Client     // default: 5 s timeout
	Primary       string           // initial primary
	Epoch         uint64           // initial epoch; a higher persisted epoch wins
	// EmitFrom is the initial emit policy; empty means "the current primary".
	EmitFrom []string
	// Regions lists every region of the lab; WebhooksFromAll sends to all of them.
	Regions []string
	// RetryMin and RetryMax bound the backoff of held messages (default 50 ms, 1 s).
	RetryMin, RetryMax time.Duration
}

// State is the region's write-path role as the health endpoint reports it.
type State struct {
	Role     contract.Role `json:"role"` // primary or follower
	Primary  string        `json:"primary"`
	Epoch    uint64        `json:"epoch"`
	Frozen   bool          `json:"frozen"`
	EmitFrom []string      `json:"emit_from"`
}

// ErrStaleEpoch is returned by Promote for an epoch below the current one.
var ErrStaleEpoch = errors.New("epoch below current")

// Path is one region's write path.
type Path struct {
	cfg   Config
	log   *slog.Logger
	clock func() time.Time
	http  *http.Client

	ns       *server.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	writesQ  *queue
	hooksQ   *queue
	deadQ    *queue
	ledgerNC *nats.Conn
	ledger   *ledger
	st       *store
	met      *metrics

	mu       sync.Mutex
	primary  string
	epoch    uint64
	frozen   bool
	emitFrom []string
	changed  chan struct{} // closed and replaced on every state change

	acceptHook func(key string)        // test hook: runs while the key is in flight
	applyHook  func(key, stage string) // test hook: runs at each stage of an apply

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Open starts the region's write path: store, broker, streams and loops.
func Open(ctx context.Context, cfg Config) (*Path, error) {
	if cfg.Region == "" || cfg.DataDir == "" {
		return nil, errors.New("writepath: region and data dir are required")
	}
	p := &Path{cfg: cfg, log: cfg.Logger, clock: cfg.Clock, http: cfg.HTTPClient, changed: make(chan struct{})}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.clock == nil {
		p.clock = time.Now
	}
	if p.http == nil {
		p.http = &http.Client{Timeout: 5 * time.Second}
	}
	if p.cfg.PeerURL == nil {
		p.cfg.PeerURL = func(string) string { return "" }
	}
	if p.cfg.RetryMin <= 0 {
		p.cfg.RetryMin = 50 * time.Millisecond
	}
	if p.cfg.RetryMax <= 0 {
		p.cfg.RetryMax = time.Second
	}
	p.log = p.log.With("region", cfg.Region)
	p.met = newMetrics(cfg.Region, p)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("writepath: data dir: %w", err)
	}
	if err := p.open(ctx); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("writepath: %w", err)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.relayLoop(loopCtx) }()
	go func() { defer p.wg.Done(); p.emitLoop(loopCtx) }()
	return p, nil
}

func (p *Path) open(ctx context.Context) error {
	var err error
	if p.st, err = openStore(p.cfg.DataDir); err != nil {
		return err
	}
	f, err := p.st.loadFencing()
	if err != nil {
		return fmt.Errorf("load fencing: %w", err)
	}
	p.primary, p.epoch = p.cfg.Primary, p.cfg.Epoch
	if f.Epoch > p.epoch {
		p.primary, p.epoch = f.Primary, f.Epoch
	}
	p.emitFrom = slices.Clone(p.cfg.EmitFrom)

	if p.cfg.NATSURL == "" {
		if p.ns, err = startEmbedded(p.cfg.Region, filepath.Join(p.cfg.DataDir, "jetstream"), &p.cfg.NATSAuth, false); err != nil {
			return err
		}
		p.nc, err = nats.Connect("", append(p.cfg.NATSAuth.Options(), nats.InProcessServer(p.ns), nats.Name("writepath-"+p.cfg.Region))...)
	} else {
		p.nc, err = nats.Connect(p.cfg.NATSURL, append(p.cfg.NATSAuth.Options(), nats.Name("writepath-"+p.cfg.Region),
			nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))...)
	}
	if err != nil {
		return fmt.Errorf("connect broker: %w", err)
	}
	if p.js, err = jetstream.New(p.nc); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if p.writesQ, err = openQueue(ctx, p.js, "writes", p.cfg.Region); err != nil {
		return err
	}
	if p.hooksQ, err = openQueue(ctx, p.js, "webhooks", p.cfg.Region); err != nil {
		return err
	}
	if p.deadQ, err = openDeadLetters(ctx, p.js, p.cfg.Region); err != nil {
		return err
	}
	if p.cfg.LedgerURL != "" {
		// The ledger may be unreachable now (blackholed region): keep trying in
		// the background; applies wait for it.
		p.ledgerNC, err = nats.Connect(p.cfg.LedgerURL, append(p.cfg.LedgerAuth.Options(), nats.Name("ledger-"+p.cfg.Region),
			nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
			nats.ReconnectWait(100*time.Millisecond), nats.ReconnectJitter(50*time.Millisecond, 50*time.Millisecond))...)
		if err != nil {
			return fmt.Errorf("connect ledger: %w", err)
		}
	}
	p.ledger = newLedger(p.ledgerNC)
	n, err := p.st.writes()
	if err != nil {
		return fmt.Errorf("count writes: %w", err)
	}
	for _, w := range n {
		if w.AppliedBy == p.cfg.Region {
			p.met.applied.Add(1)
		}
	}
	return nil
}

// Close stops the loops and releases the broker and the store. Queued
// messages, the store and the idempotency records stay on disk.
func (p *Path) Close() error {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	var errs []error
	if p.ledgerNC != nil {
		p.ledgerNC.Close()
	}
	if p.nc != nil {
		if err := p.nc.Flush(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, fmt.Errorf("flush broker: %w", err))
		}
		p.nc.Close()
	}
	if p.ns != nil {
		p.ns.Shutdown()
		p.ns.WaitForShutdown()
	}
	if p.st != nil {
		if err := p.st.close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
	}
	return errors.Join(errs...)
}

// State reports role, primary, epoch, freeze and emit policy.
func (p *Path) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return State{Role: p.roleLocked(), Primary: p.primary, Epoch: p.epoch, Frozen: p.frozen, EmitFrom: p.emitPolicyLocked()}
}

func (p *Path) roleLocked() contract.Role {
	if p.primary == p.cfg.Region {
		return contract.RolePrimary
	}
	return contract.RoleFollower
}

func (p *Path) emitPolicyLocked() []string {
	if len(p.emitFrom) == 0 && p.primary != "" {
		return []string{p.primary}
	}
	return slices.Clone(p.emitFrom)
}

// notifyLocked wakes every loop waiting on a state change.
func (p *Path) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Promote records primary as the writer at epoch (which must not go back).
func (p *Path) Promote(primary string, epoch uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if epoch < p.epoch {
		return fmt.Errorf("promote %s at %d (current %d): %w", primary, epoch, p.epoch, ErrStaleEpoch)
	}
	if err := p.st.saveFencing(fencing{Primary: primary, Epoch: epoch}); err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	p.primary, p.epoch = primary, epoch
	p.notifyLocked()
	return nil
}

// SetFrozen freezes (accept and enqueue only) or unfreezes the region.
func (p *Path) SetFrozen(frozen bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = frozen
	p.notifyLocked()
}

// SetEmitFrom sets the regions allowed to deliver webhooks.
func (p *Path) SetEmitFrom(regions []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.emitFrom = slices.Clone(regions)
	p.notifyLocked()
}

// snapshot returns the state and a channel closed at the next change.
func (p *Path) snapshot() (State, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return State{Role: p.roleLocked(), Primary: p.primary, Epoch: p.epoch, Frozen: p.frozen, EmitFrom: p.emitPolicyLocked()}, p.changed
}

// Stats reports the queues' visible state.
func (p *Path) Stats() contract.QueueStats {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	qs := contract.QueueStats{
		Applied:    int(p.met.applied.Load()),
		DedupeHits: int(p.met.deduped.Load()),
	}
	if p.writesQ != nil {
		n, oldest, err := p.writesQ.backlog(ctx)
		if err != nil {
			p.log.Warn("write backlog", "err", err)
		}
		qs.Backlog = n
		if !oldest.IsZero() {
			qs.OldestAgeSeconds = max(0, p.clock().Sub(oldest).Seconds())
		}
	}
	if p.hooksQ != nil {
		n, _, err := p.hooksQ.backlog(ctx)
		if err != nil {
			p.log.Warn("webhook backlog", "err", err)
		}
		qs.WebhookBacklog = n
	}
	if p.deadQ != nil {
		if info, err := p.deadQ.stream.Info(ctx); err != nil {
			p.log.Warn("dead letters", "err", err)
		} else {
			qs.DeadLetters = int(info.State.Msgs)
		}
	}
	return qs
}

// Writes lists the local store in apply order, the keys still queued and the
// dead letters.
func (p *Path) Writes() (contract.Writes, error) {
	ws, err := p.st.writes()
	if err != nil {
		return contract.Writes{}, fmt.Errorf("list writes: %w", err)
	}
	out := contract.Writes{Region: p.cfg.Region, Writes: ws}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if p.writesQ != nil {
		err = p.writesQ.each(ctx, func(m *jetstream.RawStreamMsg) {
			out.Queued = append(out.Queued, m.Header.Get(hdrKey))
		})
		if err != nil {
			return contract.Writes{}, fmt.Errorf("list queued writes: %w", err)
		}
	}
	if p.deadQ != nil {
		err = p.deadQ.each(ctx, func(m *jetstream.RawStreamMsg) {
			out.Dead = append(out.Dead, contract.DeadWrite{Key: m.Header.Get(hdrKey), Reason: m.Header.Get(hdrReason)})
		})
		if err != nil {
			return contract.Writes{}, fmt.Errorf("list dead letters: %w", err)
		}
	}
	return out, nil
}
