// Package conform checks a region against the drill contract
// (docs/CONTRACT.md): fields present and typed, health not a bare 200,
// idempotent writes really idempotent, purge really purging, admin
// endpoints present and guarded. Each finding says which drills it rules out.
package conform

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/kind"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/schema"
)

// CheckName names one conformance check.
type CheckName string

// The checks, in the order they run.
const (
	CheckHealth      CheckName = "health"      // GET /health: a JSON object with every contract field, typed
	CheckAsk         CheckName = "ask"         // POST /token then POST /ask: answer, citations, chunks, index_hash
	CheckIdempotency CheckName = "idempotency" // POST /write: replay identical, other body 422, no key 400
	CheckWrites      CheckName = "writes"      // GET /writes lists the write
	CheckPurge       CheckName = "purge"       // warm a tenant, purge it, the cache entries drop
	// CheckAdmin is one check per admin endpoint: present, and 401 without the token.
	CheckAdmin CheckName = "admin"
)

// Tenant is the tenant conformance writes, warms and purges; it touches no
// other tenant's data.
const Tenant = "regiondrill-conform"

// Question is the question conformance asks and warms.
const Question = "How does a region fail over?"

// Result is one check on one region.
type Result struct {
	Region   string           `json:"region"` // base URL as given
	Name     string           `json:"name,omitempty"`
	Check    CheckName        `json:"check"`
	Endpoint string           `json:"endpoint,omitempty"` // admin checks: which endpoint
	Required bool             `json:"required"`
	Pass     bool             `json:"pass"`
	Message  string           `json:"message"`
	RulesOut []plan.DrillKind `json:"rules_out,omitempty"` // drills that cannot run while this fails
}

// Report is every result of a run.
type Report struct {
	Results []Result `json:"results"`
}

// OK is true when every required check passed.
func (r Report) OK() bool {
	for _, x := range r.Results {
		if x.Required && !x.Pass {
			return false
		}
	}
	return true
}

// RuledOut lists the drills some failed check rules out, in registry order.
func (r Report) RuledOut() []plan.DrillKind {
	seen := map[plan.DrillKind]bool{}
	for _, x := range r.Results {
		if !x.Pass {
			for _, d := range x.RulesOut {
				seen[d] = true
			}
		}
	}
	var out []plan.DrillKind
	for _, d := range kind.Names() {
		if seen[d] {
			out = append(out, d)
		}
	}
	return out
}

// Config says which regions to check and how.
type Config struct {
	Regions    []string      // region base URLs
	Token      string        // admin token; without it the purge check cannot run
	Client     *http.Client  // default: 5s timeout
	WritesWait time.Duration // how long a write may take to appear in GET /writes; default 15s
	Poll       time.Duration // GET /writes poll interval; default 100ms
}

// Run checks every region in turn.
func Run(ctx context.Context, cfg Config) Report {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.WritesWait <= 0 {
		cfg.WritesWait = 15 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	var rep Report
	for _, base := range cfg.Regions {
		c := &checker{cfg: cfg, base: strings.TrimRight(base, "/")}
		rep.Results = append(rep.Results, c.run(ctx)...)
	}
	return rep
}

// adminEndpoints lists the admin endpoints and whether the contract
// requires them; a failed one rules out the drill kinds that need it
// (kind.Info.Needs).
var adminEndpoints = []struct {
	path     kind.Need
	required bool
}{
	{kind.NeedFreeze, true},
	{kind.NeedPromote, true},
	{kind.NeedRebuild, true},
	{kind.NeedPurge, true},
	{kind.NeedWarm, true},
	{kind.NeedScale, true},
	{kind.NeedEmit, true},
	{"/admin/rotate", false},
}

type checker struct {
	cfg     Config
	base    string
	name    string
	session string // session token from /token
}

func (c *checker) result(check CheckName, required bool, drills []plan.DrillKind, err error, okMsg string) Result {
	r := Result{Region: c.base, Name: c.name, Check: check, Required: required, Pass: err == nil, Message: okMsg}
	if err != nil {
		r.Message = err.Error()
		r.RulesOut = drills
	}
	return r
}

func (c *checker) run(ctx context.Context) []Result {
	var out []Result
	every := kind.Names() // every drill reads health, asks and writes
	msg, err := c.health(ctx)
	out = append(out, c.result(CheckHealth, true, every, err, msg))
	msg, err = c.ask(ctx)
	out = append(out, c.result(CheckAsk, true, every, err, msg))
	key, msg, err := c.idempotency(ctx)
	out = append(out, c.result(CheckIdempotency, true, every, err, msg))
	msg, err = c.writes(ctx, key)
	out = append(out, c.result(CheckWrites, true, every, err, msg))
	msg, err = c.purge(ctx)
	out = append(out, c.result(CheckPurge, true, kind.Needing(kind.NeedPurge), err, msg))
	for _, a := range adminEndpoints {
		msg, err := c.adminGuarded(ctx, string(a.path))
		r := c.result(CheckAdmin, a.required, kind.Needing(a.path), err, msg)
		r.Endpoint = string(a.path)
		out = append(out, r)
	}
	return out
}

// do sends one request and returns status and (bounded) body.
func (c *checker) do(ctx context.Context, method, path string, body []byte, hdr map[string]string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return resp.StatusCode, b, nil
}

func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// healthUses names the drill checks that read each top-level health field.
var healthUses = map[string]string{
	"region": "every drill (names the region)", "ready": "every drill (serving regions)",
	"role": "promotion and split-brain checks", "epoch": "promotion fencing", "primary": "promotion and rollback",
	"index_hash": "index_hash_equal, contracts_equal, index_hash", "metric": "index_hash_equal, contracts_equal",
	"analyzer": "index_hash_equal, contracts_equal", "embedder": "env_parity", "build_ts": "env_parity",
	"schema_rev": "env_parity", "model_tag": "env_parity", "secrets_rev": "env_parity", "env": "env_parity",
	"frozen": "freeze_writes_on_followers and rollback", "emit_from": "webhook reconciliation and rollback",
	"min_instances": "survivor pre-warm and rollback", "concurrency": "survivor capacity",
	"queue": "queue_empty, queue_backlog, backlog_zero", "cache": "cache_warm, cache_rewarmed, purge",
	"k": "top-k clamp and rollback",
}

func (c *checker) health(ctx context.Context) (string, error) {
	status, b, err := c.do(ctx, http.MethodGet, "/health", nil, nil)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK && status != http.StatusServiceUnavailable {
		return "", fmt.Errorf("GET /health: HTTP %d (want 200, or 503 when not ready): %s", status, snippet(b))
	}
	obj, ok := jsonObject(b)
	if !ok {
		return "", fmt.Errorf("GET /health is a bare %d (body %q is not a JSON object): the drills read role, epoch, index_hash, queue and cache from it", status, snippet(b))
	}
	v, err := shapes()
	if err != nil {
		return "", err
	}
	if probs := problems(v.health, obj, true); len(probs) > 0 {
		return "", fmt.Errorf("GET /health: %s", strings.Join(probs, "; "))
	}
	var h contract.Health
	if err := json.Unmarshal(b, &h); err != nil {
		return "", fmt.Errorf("GET /health: %w", err)
	}
	c.name = h.Region
	msg := fmt.Sprintf("every contract field present and typed (region %s, role %s, index_hash %s)", h.Region, h.Role, h.IndexHash)
	if !h.Ready {
		msg += "; region reports ready=false now"
	}
	return msg, nil
}

// contractShapes are the JSON Schemas of the contract's answers conform
// checks field by field, generated from the contract's types.
type contractShapes struct{ health, ask *schema.Validator }

// askFields are the fields of POST /ask's answer the probes read.
var askFields = []string{"answer", "citations", "chunks", "index_hash"}

var shapes = sync.OnceValues(func() (contractShapes, error) {
	var out contractShapes
	// Every health field is required unless the type says omitempty.
	health, err := schema.Generate(reflect.TypeFor[contract.Health](), schema.Options{
		Required: func(_ reflect.Type, f reflect.StructField) bool {
			return !strings.Contains(f.Tag.Get("json"), ",omitempty")
		},
	})
	if err == nil {
		out.health, err = schema.Compile("regiondrill:contract/health", health)
	}
	if err != nil {
		return out, fmt.Errorf("conform: health schema: %w", err)
	}
	ask, err := schema.Generate(reflect.TypeFor[contract.AskResponse](), schema.Options{
		Required: func(owner reflect.Type, f reflect.StructField) bool {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			return owner == reflect.TypeFor[contract.AskResponse]() && slices.Contains(askFields, name)
		},
	})
	if err == nil {
		out.ask, err = schema.Compile("regiondrill:contract/ask", ask)
	}
	if err != nil {
		return out, fmt.Errorf("conform: ask schema: %w", err)
	}
	return out, nil
})

// jsonObject decodes a body that must be a JSON object.
func jsonObject(b []byte) (map[string]any, bool) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, false
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	obj, ok := v.(map[string]any)
	return obj, err == nil && ok
}

// problems words what obj lacks or has wrong against a contract schema,
// sorted by field; uses adds the drill checks that read each health field.
func problems(v *schema.Validator, obj map[string]any, uses bool) []string {
	var out []string
	for _, p := range v.Validate(obj) {
		path := strings.Join(p.Loc, ".")
		use := ""
		if u, ok := healthUses[strings.SplitN(path, ".", 2)[0]]; ok && uses {
			use = "; used by " + u
		}
		switch p.Kind {
		case schema.Missing:
			out = append(out, fmt.Sprintf("missing field %s (%s%s)", path, want(p.Node), use))
		case schema.Type:
			out = append(out, fmt.Sprintf("field %s is %s, want %s%s", path, describe(p.Got), want(p.Node), use))
		case schema.Value:
			out = append(out, fmt.Sprintf("field %s is %s, want %s%s", path, valueText(p.Got), want(p.Node), use))
		}
	}
	sort.Strings(out)
	return out
}

// want names what a contract field's schema asks for.
func want(n map[string]any) string {
	if n["format"] == "date-time" {
		return "RFC 3339 string"
	}
	types := (schema.Problem{Node: n}).Want()
	if len(types) == 1 && types[0] == "integer" && fmt.Sprint(n["minimum"]) == "0" {
		return "non-negative integer"
	}
	return strings.Join(types, " or ")
}

// valueText is a scalar as it stood in the body.
func valueText(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	if n, ok := v.(json.Number); ok {
		return n.String()
	}
	return describe(v)
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("a string (%q)", v)
	case bool:
		return "a boolean"
	case json.Number:
		return "a number (" + v.String() + ")"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func (c *checker) ask(ctx context.Context) (string, error) {
	var auth map[string]string // a region issues session tokens to authenticated callers
	if c.cfg.Token != "" {
		auth = map[string]string{"Authorization": "Bearer " + c.cfg.Token}
	}
	status, b, err := c.do(ctx, http.MethodPost, "/token", []byte(`{"session":"regiondrill-conform"}`), auth)
	if err != nil {
		return "", err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if status != http.StatusOK || json.Unmarshal(b, &tok) != nil || tok.Token == "" {
		return "", fmt.Errorf("POST /token: HTTP %d %s: want 200 {\"token\": ...}; probes and writes need a session token", status, snippet(b))
	}
	c.session = tok.Token
	body, _ := json.Marshal(contract.AskRequest{Tenant: Tenant, Question: Question, NoCache: true})
	status, b, err = c.do(ctx, http.MethodPost, "/ask", body, map[string]string{"Authorization": "Bearer " + c.session})
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("POST /ask with a session token: HTTP %d: %s", status, snippet(b))
	}
	obj, ok := jsonObject(b)
	if !ok {
		return "", fmt.Errorf("POST /ask: body %q is not a JSON object", snippet(b))
	}
	v, err := shapes()
	if err != nil {
		return "", err
	}
	probs := problems(v.ask, obj, false)
	if len(probs) > 0 {
		return "", fmt.Errorf("POST /ask: %s; the probes (ΔS_probe, answers_equal, index_hash) read them", strings.Join(probs, "; "))
	}
	var a contract.AskResponse
	_ = json.Unmarshal(b, &a)
	if a.IndexHash == "" {
		return "", errors.New("POST /ask: index_hash is empty; index_hash and answers_equal compare it")
	}
	return fmt.Sprintf("token minted; answer with %d citations and %d chunks (index_hash %s)", len(a.Citations), len(a.Chunks), a.IndexHash), nil
}

func newKey() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "conform-" + hex.EncodeToString(b)
}

// idempotency writes once, replays, replays with another body, and writes
// without a key. It returns the key written.
func (c *checker) idempotency(ctx context.Context) (string, string, error) {
	if c.session == "" {
		return "", "", errors.New("not checked: no session token from POST /token")
	}
	key := newKey()
	write := func(k string, rev int) (int, []byte, error) {
		body, _ := json.Marshal(contract.WriteRequest{Tenant: Tenant, EventID: key, Rev: rev, Payload: "conformance"})
		hdr := map[string]string{"Authorization": "Bearer " + c.session}
		if k != "" {
			hdr[contract.HeaderIdempotencyKey] = k
		}
		return c.do(ctx, http.MethodPost, "/write", body, hdr)
	}
	s1, b1, err := write(key, 1)
	if err != nil {
		return "", "", err
	}
	if s1/100 != 2 {
		return "", "", fmt.Errorf("POST /write: HTTP %d: %s", s1, snippet(b1))
	}
	s2, b2, err := write(key, 1)
	if err != nil {
		return key, "", err
	}
	var probs []string
	if s2 != s1 || !bytes.Equal(b1, b2) {
		probs = append(probs, fmt.Sprintf("replay with the same key and body answered HTTP %d %s, first answer was HTTP %d %s (want identical status and body)", s2, snippet(b2), s1, snippet(b1)))
	}
	s3, b3, err := write(key, 2)
	if err != nil {
		return key, "", err
	}
	if s3 != http.StatusUnprocessableEntity {
		probs = append(probs, fmt.Sprintf("same key with a different body answered HTTP %d %s (want 422)", s3, snippet(b3)))
	}
	s4, b4, err := write("", 1)
	if err != nil {
		return key, "", err
	}
	if s4 != http.StatusBadRequest {
		probs = append(probs, fmt.Sprintf("a write without %s answered HTTP %d %s (want 400)", contract.HeaderIdempotencyKey, s4, snippet(b4)))
	}
	if len(probs) > 0 {
		return key, "", fmt.Errorf("POST /write is not idempotent: %s; the write ledger cannot tell a replay from a loss", strings.Join(probs, "; "))
	}
	return key, fmt.Sprintf("write %s: HTTP %d, replay identical, other body 422, no key 400", key, s1), nil
}

func (c *checker) writes(ctx context.Context, key string) (string, error) {
	if key == "" {
		return "", errors.New("not checked: no write was accepted")
	}
	deadline := time.Now().Add(c.cfg.WritesWait)
	for {
		status, b, err := c.do(ctx, http.MethodGet, "/writes", nil, nil)
		if err != nil {
			return "", err
		}
		if status != http.StatusOK {
			return "", fmt.Errorf("GET /writes: HTTP %d: %s", status, snippet(b))
		}
		var w contract.Writes
		if err := json.Unmarshal(b, &w); err != nil {
			return "", fmt.Errorf("GET /writes: want {\"region\", \"writes\": [...]}: %w", err)
		}
		for _, x := range w.Writes {
			if x.Key == key {
				return fmt.Sprintf("write %s listed (applied by %s, epoch %d)", key, x.AppliedBy, x.Epoch), nil
			}
		}
		// A follower forwards its writes to the primary, whose store lists
		// them: the write ledger reads every region, so any region will do.
		for _, other := range c.cfg.Regions {
			other = strings.TrimRight(other, "/")
			if other == c.base {
				continue
			}
			if found, by := listed(ctx, c.cfg.Client, other, key); found {
				return fmt.Sprintf("write %s listed by %s (applied by %s)", key, other, by), nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("GET /writes does not list the accepted write %s after %s, here (%d writes listed) or in any other region given; the write ledger would count it lost", key, c.cfg.WritesWait, len(w.Writes))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(c.cfg.Poll):
		}
	}
}

// listed reports whether another region's GET /writes lists key, and who applied it.
func listed(ctx context.Context, client *http.Client, base, key string) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/writes", nil)
	if err != nil {
		return false, ""
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, ""
	}
	defer resp.Body.Close()
	var w contract.Writes
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&w) != nil {
		return false, ""
	}
	for _, x := range w.Writes {
		if x.Key == key {
			return true, x.AppliedBy
		}
	}
	return false, ""
}

func (c *checker) cacheEntries(ctx context.Context) (int, error) {
	_, b, err := c.do(ctx, http.MethodGet, "/health", nil, nil)
	if err != nil {
		return 0, err
	}
	var h contract.Health
	if err := json.Unmarshal(b, &h); err != nil {
		return 0, fmt.Errorf("GET /health: %w", err)
	}
	return h.Cache.Entries, nil
}

func (c *checker) admin(ctx context.Context, path string, body any) ([]byte, error) {
	b, _ := json.Marshal(body)
	status, out, err := c.do(ctx, http.MethodPost, path, b, map[string]string{"Authorization": "Bearer " + c.cfg.Token})
	if err != nil {
		return nil, err
	}
	if status/100 != 2 {
		return nil, fmt.Errorf("POST %s: HTTP %d: %s", path, status, snippet(out))
	}
	return out, nil
}

// purge warms the conformance tenant, purges it, and expects the cache
// entries to drop.
func (c *checker) purge(ctx context.Context) (string, error) {
	if c.cfg.Token == "" {
		return "", errors.New("not checked: no admin token (--token or REGIONDRILL_TOKEN)")
	}
	before, err := c.cacheEntries(ctx)
	if err != nil {
		return "", err
	}
	if _, err := c.admin(ctx, "/admin/warm", contract.WarmRequest{Tenant: Tenant, Questions: []string{Question}}); err != nil {
		return "", err
	}
	warm, err := c.cacheEntries(ctx)
	if err != nil {
		return "", err
	}
	if warm == 0 {
		return "", fmt.Errorf("POST /admin/warm of tenant %s answered 2xx but health cache.entries is 0 (was %d): warming does nothing, so purge cannot be checked", Tenant, before)
	}
	out, err := c.admin(ctx, "/admin/purge", contract.PurgeRequest{Tenant: Tenant})
	if err != nil {
		return "", err
	}
	after, err := c.cacheEntries(ctx)
	if err != nil {
		return "", err
	}
	if after >= warm {
		return "", fmt.Errorf("POST /admin/purge of tenant %s answered %s but cache.entries stayed at %d (%d before warming, %d after): the purge does nothing, so stale answers survive a rebuild (cache_rewarmed)",
			Tenant, snippet(out), after, before, warm)
	}
	return fmt.Sprintf("cache.entries %d → %d (warm) → %d (purge)", before, warm, after), nil
}

// adminGuarded posts to an admin endpoint without a token: 401 or 403 means
// present and guarded, 404 or 405 missing, 2xx open to anyone.
func (c *checker) adminGuarded(ctx context.Context, path string) (string, error) {
	status, b, err := c.do(ctx, http.MethodPost, path, []byte(`{}`), nil)
	if err != nil {
		return "", err
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Sprintf("POST %s without a token: HTTP %d", path, status), nil
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return "", fmt.Errorf("POST %s: HTTP %d: endpoint missing", path, status)
	case status/100 == 2:
		return "", fmt.Errorf("POST %s without a token answered HTTP %d: anyone can change this region", path, status)
	}
	return "", fmt.Errorf("POST %s without a token: HTTP %d %s (want 401)", path, status, snippet(b))
}

// Letters renders drill kinds as the page's letters, sorted: "A,B,E".
func Letters(ds []plan.DrillKind) string {
	var ls []string
	for _, d := range ds {
		ls = append(ls, d.Letter())
	}
	sort.Strings(ls)
	return strings.Join(ls, ",")
}

// WriteTable writes the report as a table: one row per check, with what a
// failure rules out, then a summary line.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tCHECK\tREQUIRED\tRESULT\tRULES OUT\tDETAIL")
	for _, x := range r.Results {
		name := x.Name
		if name == "" {
			name = x.Region
		}
		check := string(x.Check)
		if x.Endpoint != "" {
			check += " " + x.Endpoint
		}
		req, res, out := "optional", "pass", "-"
		if x.Required {
			req = "required"
		}
		if !x.Pass {
			res = "MISSING"
			if len(x.RulesOut) > 0 {
				out = Letters(x.RulesOut)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, check, req, res, out, x.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var err error
	if r.OK() {
		_, err = fmt.Fprintln(w, "conform: every required check passed")
	} else {
		_, err = fmt.Fprintf(w, "conform: required checks failed; drills ruled out: %s\n", Letters(r.RuledOut()))
	}
	return err
}
