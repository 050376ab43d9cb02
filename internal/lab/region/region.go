// Package region is one region of the lab: an HTTP service that answers RAG
// questions from its index, takes idempotent writes through a durable queue,
// caches answers, scales serverless instances, checks session keys, and
// exposes the drill contract (health, admin, metrics).
package region

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/embed"
	"github.com/regiondrill/regiondrill/internal/lab/cache"
	"github.com/regiondrill/regiondrill/internal/lab/pool"
	"github.com/regiondrill/regiondrill/internal/lab/rag"
	"github.com/regiondrill/regiondrill/internal/lab/secrets"
	"github.com/regiondrill/regiondrill/internal/lab/webhook"
	"github.com/regiondrill/regiondrill/internal/lab/writepath"
)

// Version is the lab's release stamp, reported in health's env.
const Version = "regiondrill-lab/0.1.0"

// Faults are the lab's misconfigurations that live in a region. Only the lab
// sets them; nothing in the drill reads them.
type Faults struct {
	WrongAnalyzer string // rebuilds silently use this analyzer ("" = honest rebuilds)
	StaleKeys     bool   // the region accepts only its own key id
	PurgeNoop     bool   // purges report success and remove nothing
	IgnoreMinimum bool   // the pre-warm setting is ignored
}

// Config describes one region.
type Config struct {
	Name       string
	Corpus     *corpus.Corpus
	RAG        rag.Settings
	Embedder   embed.Embedder
	SchemaRev  string // default "sc-1"
	ModelTag   string // default "extractive-v1"
	AdminToken string // bearer token of /admin/* and /internal/*
	// ClientCredentials are bearer credentials, besides AdminToken, that may
	// obtain session tokens from POST /token. Default none.
	ClientCredentials []string
	Master            []byte // lab key master secret
	KeyCurrent        string // signing key id; default "k1"
	KeyAccept         []string
	Pool              pool.Config
	// GenMean and GenJitter simulate the answer generation time of an
	// instance (the model call a real RAG service makes). Defaults 60ms ±25ms.
	GenMean, GenJitter time.Duration
	// Overhead is the runtime cost every invocation pays on its instance,
	// cached answers included. Default 0.
	Overhead time.Duration
	// CacheTTL is how long a cached answer stays fresh; 0 keeps it until purged.
	CacheTTL   time.Duration
	WritePath  writepath.Config // the lab fills its broker, ledger and peers
	WebhookURL string           // where this region delivers webhooks (through its egress proxy)
	Faults     Faults
	Seed       uint64
	Clock      func() time.Time
	Logger     *slog.Logger
	// Listener, when set, is used instead of binding 127.0.0.1:0.
	Listener net.Listener
}

// Region is a running region.
type Region struct {
	cfg     Config
	ring    *secrets.Ring
	cache   *cache.Cache
	pool    *pool.Pool
	writes  *writepath.Path
	reg     *prometheus.Registry
	metrics *metrics
	ln      net.Listener
	srv     *http.Server

	ix      atomic.Pointer[rag.Index]
	kClamp  atomic.Int64 // default top-k set by the admin API; 0: the index's own
	ready   atomic.Bool
	rngMu   sync.Mutex
	rng     *rand.Rand
	closing sync.Once
}

// Start builds the index, opens the write path, binds and serves.
func Start(ctx context.Context, cfg Config) (*Region, error) {
	if cfg.Name == "" || cfg.Corpus == nil || cfg.Embedder == nil {
		return nil, errors.New("region: name, corpus and embedder are required")
	}
	if cfg.SchemaRev == "" {
		cfg.SchemaRev = "sc-1"
	}
	if cfg.ModelTag == "" {
		cfg.ModelTag = "extractive-v1"
	}
	if cfg.KeyCurrent == "" {
		cfg.KeyCurrent = "k1"
	}
	if cfg.GenMean == 0 {
		cfg.GenMean, cfg.GenJitter = 60*time.Millisecond, 25*time.Millisecond
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.RAG = cfg.RAG.WithDefaults()
	if err := cfg.RAG.Validate(); err != nil {
		return nil, fmt.Errorf("region %s: %w", cfg.Name, err)
	}
	current, accept := cfg.KeyCurrent, cfg.KeyAccept
	if cfg.Faults.StaleKeys {
		current, accept = "k-"+cfg.Name, nil
	}
	ring, err := secrets.NewRing(cfg.Master, current, accept)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", cfg.Name, err)
	}
	r := &Region{
		cfg:   cfg,
		ring:  ring,
		cache: cache.New(),
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
	}
	r.cache.PurgeNoop = cfg.Faults.PurgeNoop
	r.cache.TTL = cfg.CacheTTL
	pc := cfg.Pool
	pc.IgnoreMin = cfg.Faults.IgnoreMinimum
	r.pool = pool.New(pc)

	ix, err := rag.Build(ctx, cfg.Corpus, cfg.RAG, cfg.Embedder, cfg.Clock())
	if err != nil {
		r.pool.Close()
		return nil, fmt.Errorf("region %s: build index: %w", cfg.Name, err)
	}
	r.ix.Store(ix)

	wp := cfg.WritePath
	wp.Region = cfg.Name
	if wp.InternalToken == "" {
		wp.InternalToken = cfg.AdminToken
	}
	if wp.Logger == nil {
		wp.Logger = cfg.Logger
	}
	if wp.Clock == nil {
		wp.Clock = cfg.Clock
	}
	if cfg.WebhookURL != "" {
		wp.Webhook = &webhook.Client{URL: cfg.WebhookURL, Region: cfg.Name, Keys: ring.WebhookKeys(),
			HTTP: &http.Client{Timeout: 3 * time.Second}}
	}
	r.writes, err = writepath.Open(ctx, wp)
	if err != nil {
		r.pool.Close()
		ix.Close()
		return nil, fmt.Errorf("region %s: open write path: %w", cfg.Name, err)
	}

	r.reg = prometheus.NewRegistry()
	r.metrics = newMetrics(r)
	if err := r.metrics.register(r.reg, r.writes.Collectors()...); err != nil {
		r.Close()
		return nil, fmt.Errorf("region %s: metrics: %w", cfg.Name, err)
	}

	r.ln = cfg.Listener
	if r.ln == nil {
		if r.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			r.Close()
			return nil, fmt.Errorf("region %s: listen: %w", cfg.Name, err)
		}
	}
	r.srv = &http.Server{Handler: r.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(r.ln) }()
	r.ready.Store(true)
	return r, nil
}

// Name is the region's name.
func (r *Region) Name() string { return r.cfg.Name }

// Addr is the address the region listens on.
func (r *Region) Addr() string { return r.ln.Addr().String() }

// URL is the region's base URL.
func (r *Region) URL() string { return "http://" + r.Addr() }

// Ring is the region's key ring (the lab signs webhooks with it).
func (r *Region) Ring() *secrets.Ring { return r.ring }

// Close stops serving and releases everything; it is safe to call twice.
func (r *Region) Close() error {
	var errs []error
	r.closing.Do(func() {
		r.ready.Store(false)
		if r.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := r.srv.Shutdown(ctx); err != nil {
				_ = r.srv.Close()
			}
			cancel()
		}
		if r.writes != nil {
			errs = append(errs, r.writes.Close())
		}
		r.pool.Close()
		if ix := r.ix.Load(); ix != nil {
			errs = append(errs, ix.Close())
		}
	})
	return errors.Join(errs...)
}

// Health is the region's contract health.
func (r *Region) Health() contract.Health {
	ix := r.ix.Load()
	meta := ix.Meta()
	st := r.writes.State()
	ps := r.pool.Stats()
	// The primary stays "primary" while frozen (Frozen says it), so routers
	// keep their contract reference; a frozen follower reports "frozen".
	role := st.Role
	if st.Frozen && role != contract.RolePrimary {
		role = contract.RoleFrozen
	}
	return contract.Health{
		Region: r.cfg.Name, Ready: r.ready.Load(), Role: role, Epoch: st.Epoch, Primary: st.Primary,
		IndexHash: meta.IndexHash, Metric: meta.Metric, Analyzer: meta.Analyzer, Embedder: meta.Embedder,
		BuildTS: meta.BuildTS, SchemaRev: r.cfg.SchemaRev, ModelTag: r.cfg.ModelTag,
		SecretsRev: r.ring.Rev(), Env: r.env(), Frozen: st.Frozen, EmitFrom: st.EmitFrom,
		MinInstances: ps.MinInstances, Concurrency: ps.Concurrency, K: r.defaultK(),
		Queue: r.writes.Stats(), Cache: r.cache.Stats(),
	}
}

// env is the release stamp: what must be equal across regions for parity.
func (r *Region) env() contract.EnvStamp {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%s|%d", r.cfg.SchemaRev, r.cfg.ModelTag, r.cfg.GenMean, r.cfg.Pool.Concurrency))
	return contract.EnvStamp{Release: Version, Runtime: runtime.Version(), Config: "cfg-" + hex.EncodeToString(sum[:6])}
}

// defaultK is the top-k of a request that asks for 0.
func (r *Region) defaultK() int {
	if k := r.kClamp.Load(); k > 0 {
		return int(k)
	}
	return r.ix.Load().Settings().K
}

// genTime draws one simulated generation time.
func (r *Region) genTime() time.Duration {
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	if r.cfg.GenJitter <= 0 {
		return r.cfg.GenMean
	}
	return r.cfg.GenMean - r.cfg.GenJitter + time.Duration(r.rng.Int64N(int64(2*r.cfg.GenJitter)+1))
}

func bearer(req *http.Request) string {
	const p = "Bearer "
	h := req.Header.Get("Authorization")
	if len(h) > len(p) && h[:len(p)] == p {
		return h[len(p):]
	}
	return ""
}

func tokenEqual(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
