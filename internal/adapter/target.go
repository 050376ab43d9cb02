// Package target is how the drill reaches what it drills: the regions'
// contract endpoints, the router, the fault injector and the webhook sink.
// The lab is one target; a real deployment exposing the drill contract is
// another. Every mutation goes through Do with a typed Action, so the
// journal can record it and its undo as data.
package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// ActionKind names a change the drill can make.
type ActionKind string

// The changes.
const (
	SetWeights  ActionKind = "set_weights"  // router weights
	Blackhole   ActionKind = "blackhole"    // cut a region's ingress and egress
	ClearFaults ActionKind = "clear_faults" // remove every fault on a region's proxies
	Freeze      ActionKind = "freeze"       // freeze / unfreeze a region's writes
	Promote     ActionKind = "promote"      // make one region primary (sent to every reachable region)
	EmitFrom    ActionKind = "emit_from"    // webhook emit policy (sent to every reachable region)
	Scale       ActionKind = "scale"        // minimum instances / concurrency
	Rebuild     ActionKind = "rebuild"      // rebuild a region's index
	Purge       ActionKind = "purge"        // purge a region's cache (no undo needed)
	Warm        ActionKind = "warm"         // warm a region's cache (no undo needed)
	RotateKeys  ActionKind = "rotate_keys"  // key ring
	Hook        ActionKind = "hook"         // a user's command (argv), run by the drill where it runs
)

// Action is one change, as data.
type Action struct {
	Kind         ActionKind     `json:"kind"`
	Region       string         `json:"region,omitempty"`
	Weights      map[string]int `json:"weights,omitempty"`
	Frozen       bool           `json:"frozen,omitempty"`
	Primary      string         `json:"primary,omitempty"`
	Epoch        uint64         `json:"epoch,omitempty"`
	EmitFrom     []string       `json:"emit_from,omitempty"`
	MinInstances *int           `json:"min_instances,omitempty"` // scale: nil leaves it; 0 is a value (scale to zero)
	K            *int           `json:"k,omitempty"`             // scale: default top-k (0 restores the index's own)
	Analyzer     string         `json:"analyzer,omitempty"`
	Metric       string         `json:"metric,omitempty"`
	Tenant       string         `json:"tenant,omitempty"`
	Prefix       string         `json:"prefix,omitempty"`
	Questions    []string       `json:"questions,omitempty"`
	LeaseMS      int64          `json:"lease_ms,omitempty"`
	KeyCurrent   string         `json:"key_current,omitempty"`
	KeyAccept    []string       `json:"key_accept,omitempty"`
	Scope        string         `json:"scope,omitempty"` // clear_faults: "ingress", "egress" or "" for both
	Argv         []string       `json:"argv,omitempty"`  // hook: the command
	Env          []string       `json:"env,omitempty"`   // hook: names of the variables it is given (never their values)
	TimeoutMS    int64          `json:"timeout_ms,omitempty"`
}

// Endpoints are where a target's parts listen.
type Endpoints struct {
	Edge    string            `json:"edge"`
	Faults  string            `json:"faults,omitempty"`
	Sink    string            `json:"sink,omitempty"`
	Regions map[string]string `json:"regions"`
	Token   string            `json:"-"` // never journaled
	// Proxies lists, per region, the fault proxies a blackhole cuts.
	Proxies map[string][]string `json:"proxies,omitempty"`
}

// Router reads and sets the routing weights of the target's regions. The
// lab's edge is one; HAProxy through its Runtime API, or a user's command,
// are others.
type Router interface {
	Weights(ctx context.Context) (map[string]int, error)
	SetWeights(ctx context.Context, weights map[string]int) error
}

// Locker is an optional Router capability: a lock with an owner and a lease
// that keeps two drills from changing one target at once.
type Locker interface {
	Lock(ctx context.Context, owner string, lease time.Duration) error
	Unlock(ctx context.Context, owner string) error
}

// HTTP is a target reached over the drill contract.
type HTTP struct {
	ep     Endpoints
	client *http.Client
	router Router
	queue  Backlog // nil: the contract health's own backlog
}

// New returns a target for the endpoints, routed by the lab edge's control
// API at ep.Edge.
func New(ep Endpoints) *HTTP {
	t := &HTTP{ep: ep, client: &http.Client{
		// Room for the stalls of a busy machine, short enough that a cut-off
		// region (the survivor stays frozen until its promotion returns,
		// which waits for every region in parallel) costs little: an admin
		// change that times out is reported as not applied.
		Timeout:   4 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second},
	}}
	t.router = EdgeRouter{t: t}
	return t
}

// WithBacklog reads queue backlogs from b instead of the regions' health.
func (t *HTTP) WithBacklog(b Backlog) *HTTP {
	t.queue = b
	return t
}

// WithRouter replaces the router the target's weights are read and set through.
func (t *HTTP) WithRouter(r Router) *HTTP {
	t.router = r
	return t
}

// Endpoints returns the target's endpoints.
func (t *HTTP) Endpoints() Endpoints { return t.ep }

// Regions lists region names, sorted.
func (t *HTTP) Regions() []string {
	out := make([]string, 0, len(t.ep.Regions))
	for r := range t.ep.Regions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Error is a non-2xx answer.
type Error struct {
	URL    string
	Status int
	Body   string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: HTTP %d: %s", e.URL, e.Status, e.Body) }

func (t *HTTP) call(ctx context.Context, method, u string, body, out any, auth string) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s: read body: %w", u, err)
	}
	if resp.StatusCode/100 != 2 {
		return &Error{URL: u, Status: resp.StatusCode, Body: string(bytes.TrimSpace(b[:min(len(b), 300)]))}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s: decode: %w", u, err)
		}
	}
	return nil
}

func (t *HTTP) regionURL(region, path string) (string, error) {
	base, ok := t.ep.Regions[region]
	if !ok {
		return "", fmt.Errorf("unknown region %q", region)
	}
	return base + path, nil
}

// Health reads a region's contract health.
func (t *HTTP) Health(ctx context.Context, region string) (contract.Health, error) {
	var h contract.Health
	u, err := t.regionURL(region, "/health")
	if err != nil {
		return h, err
	}
	if err = t.call(ctx, http.MethodGet, u, nil, &h, ""); err != nil || t.queue == nil {
		return h, err
	}
	if n, qerr := t.queue.Backlog(ctx, region); qerr == nil {
		h.Queue.Backlog = n
	}
	return h, nil
}

// HealthAll reads every region's health; unreachable regions are reported in
// errs by name.
func (t *HTTP) HealthAll(ctx context.Context) (map[string]contract.Health, map[string]string) {
	hs, errs := map[string]contract.Health{}, map[string]string{}
	for _, r := range t.Regions() {
		h, err := t.Health(ctx, r)
		if err != nil {
			errs[r] = err.Error()
			continue
		}
		hs[r] = h
	}
	return hs, errs
}

// Token mints a session token from a region.
func (t *HTTP) Token(ctx context.Context, region, session string) (string, error) {
	u, err := t.regionURL(region, "/token")
	if err != nil {
		return "", err
	}
	var out struct {
		Token string `json:"token"`
	}
	// Regions issue session tokens to authenticated callers only: the drill
	// authenticates with its admin token.
	err = t.call(ctx, http.MethodPost, u, map[string]string{"session": session}, &out, t.ep.Token)
	return out.Token, err
}

// Ask asks one region directly (probes bypass the edge).
func (t *HTTP) Ask(ctx context.Context, region, token string, ask contract.AskRequest) (contract.AskResponse, error) {
	var out contract.AskResponse
	u, err := t.regionURL(region, "/ask")
	if err != nil {
		return out, err
	}
	err = t.call(ctx, http.MethodPost, u, ask, &out, token)
	return out, err
}

// Writes reads a region's store.
func (t *HTTP) Writes(ctx context.Context, region string) (contract.Writes, error) {
	var out contract.Writes
	u, err := t.regionURL(region, "/writes")
	if err != nil {
		return out, err
	}
	c := *t.client
	c.Timeout = 30 * time.Second
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return out, &Error{URL: u, Status: resp.StatusCode}
	}
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// Deliveries reads the webhook sink's records.
func (t *HTTP) Deliveries(ctx context.Context) ([]contract.Delivery, error) {
	if t.ep.Sink == "" {
		return nil, errors.New("target has no webhook sink")
	}
	var out struct {
		Deliveries []contract.Delivery `json:"deliveries"`
	}
	err := t.call(ctx, http.MethodGet, t.ep.Sink+"/deliveries", nil, &out, "")
	return out.Deliveries, err
}

// Weights reads the router's weights.
func (t *HTTP) Weights(ctx context.Context) (map[string]int, error) { return t.router.Weights(ctx) }

// EdgeRouter is the lab edge's control API (/_edge/weights, /_edge/lock).
type EdgeRouter struct{ t *HTTP }

// Weights reads the edge's weights.
func (r EdgeRouter) Weights(ctx context.Context) (map[string]int, error) {
	var out map[string]int
	err := r.t.call(ctx, http.MethodGet, r.t.ep.Edge+"/_edge/weights", nil, &out, r.t.ep.Token)
	return out, err
}

// SetWeights sets the edge's weights; the edge refuses a change that leaves
// no region serving.
func (r EdgeRouter) SetWeights(ctx context.Context, w map[string]int) error {
	return r.t.call(ctx, http.MethodPut, r.t.ep.Edge+"/_edge/weights", w, nil, r.t.ep.Token)
}

// Lock takes or renews the edge's drill lock for owner.
func (r EdgeRouter) Lock(ctx context.Context, owner string, lease time.Duration) error {
	err := r.t.call(ctx, http.MethodPost, r.t.ep.Edge+"/_edge/lock", map[string]any{"owner": owner, "lease_s": lease.Seconds()}, nil, r.t.ep.Token)
	var he *Error
	if errors.As(err, &he) && he.Status == http.StatusConflict {
		var held struct { // the 409's body may be cut short: ask who holds it
			Owner   string    `json:"owner"`
			Expires time.Time `json:"expires"`
		}
		if r.t.call(ctx, http.MethodGet, r.t.ep.Edge+"/_edge/lock", nil, &held, "") != nil || held.Owner == "" {
			return &LockedError{Detail: he.Body}
		}
		return &LockedError{Owner: held.Owner, Until: held.Expires}
	}
	return err
}

// Unlock releases the edge's drill lock held by owner.
func (r EdgeRouter) Unlock(ctx context.Context, owner string) error {
	return r.t.call(ctx, http.MethodDelete, r.t.ep.Edge+"/_edge/lock", map[string]any{"owner": owner}, nil, r.t.ep.Token)
}

// Describe says where the edge's weights are set.
func (r EdgeRouter) Describe() string {
	return "PUT " + r.t.ep.Edge + "/_edge/weights (admin token)"
}

var (
	_ Router    = EdgeRouter{}
	_ Locker    = EdgeRouter{}
	_ Describer = EdgeRouter{}
)

// ErrNoStatus means the router has no status API (only the lab edge has).
var ErrNoStatus = errors.New("the router has no status API")

// Rotation reads which regions the router has in rotation, from the lab
// edge's backend status. Other routers have no status API (ErrNoStatus):
// the token is never sent to an entry URL that is not the lab edge's.
func (t *HTTP) Rotation(ctx context.Context) (map[string]bool, error) {
	if _, ok := t.router.(EdgeRouter); !ok {
		return nil, ErrNoStatus
	}
	var bs []struct {
		Name       string `json:"name"`
		InRotation bool   `json:"in_rotation"`
	}
	if err := t.call(ctx, http.MethodGet, t.ep.Edge+"/_edge/status", nil, &bs, t.ep.Token); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(bs))
	for _, b := range bs {
		out[b.Name] = b.InRotation
	}
	return out, nil
}

// ActiveFaults lists the injector's faults.
func (t *HTTP) ActiveFaults(ctx context.Context) ([]contract.Fault, error) {
	if t.ep.Faults == "" {
		return nil, nil
	}
	var out []contract.Fault
	err := t.call(ctx, http.MethodGet, t.ep.Faults+"/faults", nil, &out, t.ep.Token)
	return out, err
}

// Do applies one action.
func (t *HTTP) Do(ctx context.Context, a Action) error {
	tok := t.ep.Token
	admin := func(region, path string, body any) error {
		u, err := t.regionURL(region, path)
		if err != nil {
			return err
		}
		return t.call(ctx, http.MethodPost, u, body, nil, tok)
	}
	switch a.Kind {
	case SetWeights:
		return t.router.SetWeights(ctx, a.Weights)
	case Blackhole:
		proxies := t.ep.Proxies[a.Region]
		if len(proxies) == 0 {
			return fmt.Errorf("blackhole %s: target has no fault proxies for it", a.Region)
		}
		// Ingress and egress are two faults, so a restore can reach the
		// region (ingress) before the region reaches anything (egress).
		lease := time.Duration(a.LeaseMS) * time.Millisecond
		in, out := splitProxies(a.Region, proxies)
		for _, group := range [][]string{in, out} {
			if len(group) == 0 {
				continue
			}
			if err := t.call(ctx, http.MethodPost, t.ep.Faults+"/faults",
				contract.FaultRequest{Kind: contract.FaultBlackhole, Targets: group, Lease: lease.String()}, nil, tok); err != nil {
				return err
			}
		}
		return nil
	case ClearFaults:
		faults, err := t.ActiveFaults(ctx)
		if err != nil {
			return err
		}
		var errs []error
		for _, f := range faults {
			scope := t.ep.Proxies[a.Region]
			if a.Region != "" && a.Scope != "" {
				in, out := splitProxies(a.Region, scope)
				scope = map[string][]string{"ingress": in, "egress": out}[a.Scope]
			}
			if a.Region != "" && !overlaps(f.Targets, scope) {
				continue
			}
			if err := t.call(ctx, http.MethodDelete, t.ep.Faults+"/faults/"+url.PathEscape(f.ID), nil, nil, tok); err != nil {
				var he *Error
				if !(errors.As(err, &he) && he.Status == http.StatusNotFound) {
					errs = append(errs, err)
				}
			}
		}
		return errors.Join(errs...)
	}
	if path, body, broadcast, ok := adminRequest(a); ok {
		switch {
		case a.Kind == Rebuild: // an index build takes longer than an admin call
			return t.slowAdmin(ctx, a.Region, path, body)
		case !broadcast:
			return admin(a.Region, path, body)
		}
		return t.each(a.Region, func(r string) error { return admin(r, path, body) })
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}

// adminRequest is the contract call an action makes on a region: the admin
// path and body, and whether a region-less action goes to every region.
func adminRequest(a Action) (path string, body any, broadcast, ok bool) {
	switch a.Kind {
	case Freeze:
		return "/admin/freeze", contract.FreezeRequest{Frozen: a.Frozen}, false, true
	case Promote:
		return "/admin/promote", contract.PromoteRequest{Primary: a.Primary, Epoch: a.Epoch}, true, true
	case EmitFrom:
		return "/admin/emit", contract.EmitRequest{EmitFrom: a.EmitFrom}, true, true
	case Scale:
		return "/admin/scale", contract.ScaleRequest{K: a.K, MinInstances: a.MinInstances}, false, true
	case Rebuild:
		return "/admin/rebuild", contract.RebuildRequest{Analyzer: a.Analyzer, Metric: a.Metric}, false, true
	case Purge:
		return "/admin/purge", contract.PurgeRequest{Tenant: a.Tenant, Prefix: a.Prefix}, false, true
	case Warm:
		return "/admin/warm", contract.WarmRequest{Tenant: a.Tenant, Questions: a.Questions}, false, true
	case RotateKeys:
		return "/admin/rotate", contract.RotateRequest{Current: a.KeyCurrent, Accept: a.KeyAccept}, true, true
	}
	return "", nil, false, false
}

// Describer is an optional Router capability: where its changes go, for
// dry runs and for what rollback shows before it acts.
type Describer interface {
	Describe() string
}

// Describe says what Do would send for a, and where, without sending it.
func (t *HTTP) Describe(a Action) string {
	switch a.Kind {
	case Hook:
		return fmt.Sprintf("run %q on this machine (environment: PATH, HOME, LANG, LC_ALL, TZ, TMPDIR, USER plus %q; timeout %s)",
			a.Argv, a.Env, time.Duration(a.TimeoutMS)*time.Millisecond)
	case SetWeights:
		b, _ := json.Marshal(a.Weights)
		via := "a router without a description"
		if d, ok := t.router.(Describer); ok {
			via = d.Describe()
		}
		return fmt.Sprintf("set weights %s through %s", b, via)
	case Blackhole:
		return fmt.Sprintf("POST %s/faults blackhole %q, lease %dms (admin token)", t.ep.Faults, t.ep.Proxies[a.Region], a.LeaseMS)
	case ClearFaults:
		scope := "every fault"
		if a.Region != "" {
			scope = fmt.Sprintf("each fault on %s's proxies %q", a.Region, t.ep.Proxies[a.Region])
			if a.Scope != "" {
				scope += " (" + a.Scope + ")"
			}
		}
		return fmt.Sprintf("GET %s/faults, then DELETE %s/faults/{id} for %s (admin token)", t.ep.Faults, t.ep.Faults, scope)
	}
	path, body, broadcast, ok := adminRequest(a)
	if !ok {
		return fmt.Sprintf("unknown action %q", a.Kind)
	}
	regions := []string{a.Region}
	if broadcast && a.Region == "" {
		regions = t.Regions()
	}
	var urls []string
	for _, r := range regions {
		u, err := t.regionURL(r, path)
		if err != nil {
			u = err.Error()
		}
		urls = append(urls, u)
	}
	b, _ := json.Marshal(body)
	return fmt.Sprintf("POST %s %s (admin token)", strings.Join(urls, ", "), b)
}

// RegionError is an action that did not reach one region.
type RegionError struct {
	Region string
	Err    error
}

func (e *RegionError) Error() string { return e.Region + ": " + e.Err.Error() }
func (e *RegionError) Unwrap() error { return e.Err }

// RegionErrors lists the regions err says an action did not reach; nil
// when err is not made only of RegionErrors.
func RegionErrors(err error) []*RegionError {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]*RegionError, 0, len(list))
	for _, x := range list {
		var re *RegionError
		if !errors.As(x, &re) {
			return nil
		}
		out = append(out, re)
	}
	return out
}

// each runs f on one region, or on every region when region is "". Every
// region is tried; the ones the action did not reach come back as joined
// *RegionError, so the caller can tell which, and decide whether that was
// expected (a blackholed region learns the state when it returns).
func (t *HTTP) each(region string, f func(string) error) error {
	if region != "" {
		if err := f(region); err != nil {
			return &RegionError{Region: region, Err: err}
		}
		return nil
	}
	// All regions at once: a region that cannot be reached (it times out)
	// must not hold back the others (a survivor's promotion).
	regions := t.Regions()
	errs := make([]error, len(regions))
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Go(func() {
			if err := f(r); err != nil {
				errs[i] = &RegionError{Region: r, Err: err}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// RenewFault extends a fault's lease.
func (t *HTTP) RenewFault(ctx context.Context, id string, lease time.Duration) error {
	return t.call(ctx, http.MethodPost, t.ep.Faults+"/faults/"+url.PathEscape(id)+"/renew",
		contract.FaultRenewal{Lease: lease.String()}, nil, t.ep.Token)
}

// splitProxies separates a region's ingress proxy (named after the region)
// from its egress proxies.
func splitProxies(region string, proxies []string) (in, out []string) {
	for _, p := range proxies {
		if p == region {
			in = append(in, p)
		} else {
			out = append(out, p)
		}
	}
	return in, out
}

// ErrLocked means another drill holds the target's drill lock.
var ErrLocked = errors.New("another drill is running on this target")

// LockedError is ErrLocked with who holds the lock: Owner when the router
// says, else Detail (a lock command's output).
type LockedError struct {
	Owner  string
	Until  time.Time
	Detail string
}

func (e *LockedError) Error() string {
	switch {
	case e.Owner != "" && !e.Until.IsZero():
		return fmt.Sprintf("%v: %s until %s", ErrLocked, e.Owner, e.Until.UTC().Format(time.RFC3339))
	case e.Owner != "":
		return fmt.Sprintf("%v: %s", ErrLocked, e.Owner)
	}
	return fmt.Sprintf("%v: %s", ErrLocked, e.Detail)
}

// Is makes errors.Is(err, ErrLocked) hold.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// HeldBy reports whether the lock is held by owner, as far as the router says.
func (e *LockedError) HeldBy(owner string) bool {
	return owner != "" && (e.Owner == owner || (e.Owner == "" && strings.Contains(e.Detail, owner)))
}

// Lock takes or renews the drill lock. A router without one is refused
// (ErrNoLock) unless it was wrapped in NoLock, the explicit waiver.
func (t *HTTP) Lock(ctx context.Context, owner string, lease time.Duration) error {
	if l, ok := t.router.(Locker); ok {
		return l.Lock(ctx, owner, lease)
	}
	return ErrNoLock
}

// Unlock releases the drill lock held by owner.
func (t *HTTP) Unlock(ctx context.Context, owner string) error {
	if l, ok := t.router.(Locker); ok {
		return l.Unlock(ctx, owner)
	}
	return nil
}
