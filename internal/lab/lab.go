// Package lab starts a real multi-region RAG deployment on one machine:
// regions with their index, durable write path and caches, a global dedupe
// ledger, a webhook sink, a toxiproxy proxy in front of every region and on
// every region's egress, and the edge router in front of them all.
package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/natsauth"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/corpus"
	"github.com/regiondrill/regiondrill/internal/embed"
	"github.com/regiondrill/regiondrill/internal/lab/edge"
	"github.com/regiondrill/regiondrill/internal/lab/fault"
	"github.com/regiondrill/regiondrill/internal/lab/pool"
	"github.com/regiondrill/regiondrill/internal/lab/rag"
	"github.com/regiondrill/regiondrill/internal/lab/region"
	"github.com/regiondrill/regiondrill/internal/lab/secrets"
	"github.com/regiondrill/regiondrill/internal/lab/webhook"
	"github.com/regiondrill/regiondrill/internal/lab/writepath"
)

// Config describes a lab. Zero values take the defaults.
type Config struct {
	Regions      []string       // at least two
	Primary      string         // initial primary; default Regions[0]
	DataDir      string         // default: a temporary directory removed by Close
	Misconfigure []Misconfig    // typical failures built in on purpose
	Routing      edge.Mode      // default latency
	Weights      map[string]int // initial routing weights (a plan's routing.weights); regions left out get edge.DefaultWeight
	StickTTL     time.Duration  // default 15m
	Hysteresis   time.Duration  // default 30s
	Token        string         // admin token; default: random
	Embedder     embed.Embedder
	RAG          rag.Settings
	Pool         pool.Config
	NATSURL      string // external NATS JetStream for the regions' queues; "" = embedded
	// NATSAuth authenticates the regions to NATSURL. The embedded servers
	// (per-region brokers, the ledger) always require credentials of their own.
	NATSAuth natsauth.Credentials
	EdgeAddr string // default 127.0.0.1:0
	Seed     uint64
	// NoInvocationCost turns off the simulated 20 ms each invocation pays,
	// for measuring the write path itself (bench/writebench).
	NoInvocationCost bool
	Logger           *slog.Logger
}

// Endpoints are the lab's addresses, for people and for the drill.
type Endpoints struct {
	Edge    string            `json:"edge"`    // traffic; control API under /_edge/
	Faults  string            `json:"faults"`  // fault control API
	Sink    string            `json:"sink"`    // webhook sink (GET /deliveries)
	Ledger  string            `json:"ledger"`  // global dedupe ledger (NATS)
	Regions map[string]string `json:"regions"` // region base URLs (through their ingress proxies)
	Direct  map[string]string `json:"direct"`  // region base URLs without a proxy
	Token   string            `json:"token"`
}

// Lab is a running lab.
type Lab struct {
	cfg        Config
	regions    []*region.Region
	byName     map[string]*region.Region
	ingress    map[string]string
	faults     *fault.Injector
	faultsSrv  *http.Server
	faultsLn   net.Listener
	sink       *webhook.Sink
	sinkURL    string
	ledgerURL  string
	ledgerAuth natsauth.Credentials
	stopLedger func()
	router     *edge.Router
	edgeSrv    *http.Server
	edgeLn     net.Listener
	cancel     context.CancelFunc
	tmpDir     string
	closeOnce  sync.Once
}

// Start brings the whole lab up and returns once every part serves.
func Start(ctx context.Context, cfg Config) (l *Lab, err error) {
	if len(cfg.Regions) < 2 {
		return nil, errors.New("lab: at least two regions are needed")
	}
	if cfg.Primary == "" {
		cfg.Primary = cfg.Regions[0]
	}
	if !slices.Contains(cfg.Regions, cfg.Primary) {
		return nil, fmt.Errorf("lab: primary %q is not a region", cfg.Primary)
	}
	if cfg.Routing == "" {
		cfg.Routing = edge.ModeLatency
	}
	if cfg.StickTTL == 0 {
		cfg.StickTTL = 15 * time.Minute
	}
	if cfg.Hysteresis == 0 {
		cfg.Hysteresis = 30 * time.Second
	}
	if cfg.Token == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		cfg.Token = "rdl_" + hex.EncodeToString(b)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Embedder == nil {
		cfg.Embedder = embed.NewHash(embed.DefaultHashOptions)
	}
	if cfg.Pool == (pool.Config{}) {
		// Each region keeps enough warm instances to absorb all traffic at
		// the lab's default load (N+1 headroom): 80 req/s × about 0.2 s is 16
		// requests in flight, 8 instances of 2 at full use, 10 at the
		// autoscaler's 80 % target. With latency routing one region often
		// carries everything, so a hard outage moves all of it at once. The
		// cold_start misconfiguration drops that floor.
		cfg.Pool = pool.Config{MinInstances: 10, Concurrency: 2, ColdStart: 2500 * time.Millisecond, TargetUtil: 0.8}
	}
	mis := misconfigSet{}
	for _, m := range cfg.Misconfigure {
		mis[m] = true
	}
	l = &Lab{cfg: cfg, byName: map[string]*region.Region{}, ingress: map[string]string{}}
	defer func() {
		if err != nil {
			l.Close()
			l = nil
		}
	}()
	if cfg.DataDir == "" {
		if l.tmpDir, err = os.MkdirTemp("", "regiondrill-lab-"); err != nil {
			return l, err
		}
		cfg.DataDir = l.tmpDir
	}
	kb, err := corpus.Load()
	if err != nil {
		return l, fmt.Errorf("lab: corpus: %w", err)
	}
	// The key master: random per lab, not derived from the admin token, so
	// the token alone yields no webhook or session key.
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	keyAccept := []string{"k1"}

	// The global dedupe ledger and the third-party webhook sink.
	// The ledger server takes one user, its password derived for that use.
	l.ledgerAuth = natsauth.Credentials{User: "regiondrill-ledger", Password: hex.EncodeToString(secrets.Derive(master, secrets.PurposeNATS, "ledger"))}
	if l.ledgerURL, l.stopLedger, err = writepath.StartLedgerServer(filepath.Join(cfg.DataDir, "ledger"), l.ledgerAuth); err != nil {
		return l, fmt.Errorf("lab: ledger: %w", err)
	}
	sinkKIDs := append([]string(nil), keyAccept...)
	if mis.has(StaleKeys) {
		for _, r := range cfg.Regions {
			sinkKIDs = append(sinkKIDs, "k-"+r)
		}
	}
	l.sink = webhook.NewSink(multiKeys{master: master, kids: sinkKIDs}, time.Now, 5*time.Minute)
	if l.sinkURL, err = l.sink.Start(""); err != nil {
		return l, fmt.Errorf("lab: sink: %w", err)
	}

	// Listeners first, so proxies can point at them before regions serve.
	lns := map[string]net.Listener{}
	for _, name := range cfg.Regions {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return l, err
		}
		lns[name] = ln
	}
	l.faults = fault.New(cfg.Logger, time.Now)
	for _, name := range cfg.Regions {
		addr, err := l.faults.AddProxy(name, lns[name].Addr().String())
		if err != nil {
			return l, fmt.Errorf("lab: ingress proxy %s: %w", name, err)
		}
		l.ingress[name] = addr
	}
	egress := map[string]map[string]string{} // region → destination → proxy addr
	for _, name := range cfg.Regions {
		egress[name] = map[string]string{}
		for _, peer := range cfg.Regions {
			if peer == name {
				continue
			}
			if egress[name][peer], err = l.faults.AddProxy(name+">"+peer, l.ingress[peer]); err != nil {
				return l, err
			}
		}
		if egress[name]["ledger"], err = l.faults.AddProxy(name+">ledger", hostPort(l.ledgerURL)); err != nil {
			return l, err
		}
		if egress[name]["sink"], err = l.faults.AddProxy(name+">sink", hostPort(l.sinkURL)); err != nil {
			return l, err
		}
	}

	runCtx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for i, name := range cfg.Regions {
		name := name
		wp := writepath.Config{
			DataDir:       filepath.Join(cfg.DataDir, name),
			NATSURL:       cfg.NATSURL,
			NATSAuth:      cfg.NATSAuth,
			LedgerURL:     "nats://" + egress[name]["ledger"],
			LedgerAuth:    l.ledgerAuth,
			PeerURL:       func(peer string) string { return "http://" + egress[name][peer] },
			InternalToken: cfg.Token,
			Primary:       cfg.Primary,
			Epoch:         1,
			EmitFrom:      []string{cfg.Primary},
			Regions:       cfg.Regions,
			Faults: writepath.Faults{
				NoFreeze:        mis.has(NoFreeze),
				NoDedupe:        mis.has(NoDedupe),
				WebhooksFromAll: mis.has(WebhooksFromAll),
			},
			Logger: cfg.Logger.With("region", name),
		}
		rc := region.Config{
			Name: name, Corpus: kb, RAG: cfg.RAG, Embedder: cfg.Embedder,
			AdminToken: cfg.Token, Master: master, KeyCurrent: "k1", KeyAccept: keyAccept,
			Pool: cfg.Pool, WritePath: wp, GenMean: 150 * time.Millisecond, GenJitter: 50 * time.Millisecond,
			Overhead: invocationCost(cfg), CacheTTL: 20 * time.Second, Seed: cfg.Seed + uint64(i)*7919,
			Logger: cfg.Logger.With("region", name), Listener: lns[name],
			WebhookURL: "http://" + egress[name]["sink"] + "/hooks",
		}
		if mis.has(RebuildWrongAnalyzer) {
			rc.Faults.WrongAnalyzer = "simple"
		}
		rc.Faults.StaleKeys = mis.has(StaleKeys)
		rc.Faults.PurgeNoop = mis.has(PurgeNoop)
		rc.Faults.IgnoreMinimum = mis.has(ColdStart)
		r, err := region.Start(ctx, rc)
		if err != nil {
			return l, err
		}
		delete(lns, name)
		l.regions = append(l.regions, r)
		l.byName[name] = r
	}

	// The edge router in front of every region's ingress proxy.
	var backends []edge.Backend
	for _, name := range cfg.Regions {
		backends = append(backends, edge.Backend{Name: name, URL: "http://" + l.ingress[name]})
	}
	ec := edge.Config{
		Backends: backends, Mode: cfg.Routing, Weights: cfg.Weights, StickTTL: cfg.StickTTL, Hysteresis: cfg.Hysteresis,
		Token: cfg.Token, Logger: cfg.Logger.With("component", "edge"),
	}
	if mis.has(RebuildWrongAnalyzer) || mis.has(EdgeIgnoresIndex) {
		ec.GateIndexHash = edge.Bool(false)
	}
	ec.StrandEvacuated = mis.has(ReturnIgnored)
	if l.router, err = edge.New(ec); err != nil {
		return l, fmt.Errorf("lab: edge: %w", err)
	}
	l.router.CheckNow(ctx)
	l.router.Start(runCtx)
	addr := cfg.EdgeAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if l.edgeLn, err = net.Listen("tcp", addr); err != nil {
		return l, fmt.Errorf("lab: edge listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/_edge/", l.router.ControlHandler())
	mux.Handle("/", l.router)
	l.edgeSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = l.edgeSrv.Serve(l.edgeLn) }()

	if l.faultsLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return l, err
	}
	l.faultsSrv = &http.Server{Handler: l.faults.Handler(cfg.Token), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = l.faultsSrv.Serve(l.faultsLn) }()
	return l, nil
}

func hostPort(url string) string {
	for _, p := range []string{"nats://", "http://"} {
		if len(url) > len(p) && url[:len(p)] == p {
			return url[len(p):]
		}
	}
	return url
}

func invocationCost(cfg Config) time.Duration {
	if cfg.NoInvocationCost {
		return 0
	}
	return 20 * time.Millisecond
}

// Endpoints returns the lab's addresses.
func (l *Lab) Endpoints() Endpoints {
	e := Endpoints{
		Edge: "http://" + l.edgeLn.Addr().String(), Faults: "http://" + l.faultsLn.Addr().String(),
		Sink: l.sinkURL, Ledger: l.ledgerURL,
		Regions: map[string]string{}, Direct: map[string]string{}, Token: l.cfg.Token,
	}
	for _, r := range l.regions {
		e.Regions[r.Name()] = "http://" + l.ingress[r.Name()]
		e.Direct[r.Name()] = r.URL()
	}
	return e
}

// Regions lists region names in plan order.
func (l *Lab) Regions() []string { return slices.Clone(l.cfg.Regions) }

// Router is the edge router.
func (l *Lab) Router() *edge.Router { return l.router }

// Faults is the fault injector.
func (l *Lab) Faults() *fault.Injector { return l.faults }

// LedgerAuth is the user and password the ledger server at
// Endpoints().Ledger accepts.
func (l *Lab) LedgerAuth() natsauth.Credentials { return l.ledgerAuth }

// Sink is the webhook sink.
func (l *Lab) Sink() *webhook.Sink { return l.sink }

// Proxies lists the proxies that carry a region's traffic, in and out: what a
// blackhole of the region cuts.
func (l *Lab) Proxies(name string) []string { return contract.ProxyNames(name, l.cfg.Regions) }

// Close stops everything and removes a temporary data directory. It is safe
// to call more than once.
func (l *Lab) Close() error {
	var errs []error
	l.closeOnce.Do(func() {
		if l.edgeSrv != nil {
			_ = l.edgeSrv.Close()
		} else if l.edgeLn != nil {
			_ = l.edgeLn.Close()
		}
		if l.faultsSrv != nil {
			_ = l.faultsSrv.Close()
		} else if l.faultsLn != nil {
			_ = l.faultsLn.Close()
		}
		if l.router != nil {
			l.router.Close()
		}
		if l.cancel != nil {
			l.cancel()
		}
		for _, r := range l.regions {
			errs = append(errs, r.Close())
		}
		if l.faults != nil {
			errs = append(errs, l.faults.Close())
		}
		if l.sink != nil {
			errs = append(errs, l.sink.Close())
		}
		if l.stopLedger != nil {
			l.stopLedger()
		}
		if l.tmpDir != "" {
			errs = append(errs, os.RemoveAll(l.tmpDir))
		}
	})
	return errors.Join(errs...)
}

// multiKeys is the sink's view of the provider's webhook keys: every key id
// it was told about, derived from the shared master secret for webhooks.
type multiKeys struct {
	master []byte
	kids   []string
}

func (k multiKeys) SigningKIDs() []string  { return k.kids }
func (k multiKeys) AcceptedKIDs() []string { return k.kids }

func (k multiKeys) Key(kid string) ([]byte, bool) {
	if !slices.Contains(k.kids, kid) {
		return nil, false
	}
	return secrets.Derive(k.master, secrets.PurposeWebhook, kid), true
}

var _ webhook.Keys = multiKeys{}
