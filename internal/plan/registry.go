package plan

import (
	"fmt"
	"slices"
)

// Phase is when a check runs: before the change, while it is live, or after.
type Phase string

const (
	PhasePre  Phase = "pre"
	PhaseLive Phase = "live"
	PhasePost Phase = "post"
)

// CheckName names one check of the page's plan. Values are the page's
// spellings, including the non-ASCII ΔS_probe and λ_state.
type CheckName string

const (
	CheckEnvParity      CheckName = "env_parity"
	CheckIndexHashEqual CheckName = "index_hash_equal"
	CheckQueueEmpty     CheckName = "queue_empty"
	CheckCacheWarm      CheckName = "cache_warm"
	CheckP95Latency     CheckName = "p95_latency"
	CheckErrorRate      CheckName = "error_rate"
	CheckQueueBacklog   CheckName = "queue_backlog"
	CheckDeltaSProbe    CheckName = "ΔS_probe"
	CheckLambdaState    CheckName = "λ_state"
	CheckIndexHash      CheckName = "index_hash"
	CheckAnswersEqual   CheckName = "answers_equal"
	CheckContractsEqual CheckName = "contracts_equal"
	CheckBacklogZero    CheckName = "backlog_zero"
	CheckCacheRewarmed  CheckName = "cache_rewarmed"
)

// CheckInfo is one row of the check registry.
type CheckInfo struct {
	Name        CheckName
	Phase       Phase
	Alias       string // ASCII spelling accepted on input, "" if the name is ASCII
	Description string
}

func (c CheckInfo) value() CheckName { return c.Name }

func (c CheckInfo) aliases() []string {
	if c.Alias == "" {
		return nil
	}
	return []string{c.Alias}
}

// CheckRegistry is the one list of checks: validation, the JSON Schema and
// the docs derive from it. Each description says what the check's code
// (drill/observe.go) compares.
var CheckRegistry = Registry[CheckName, CheckInfo]{
	{CheckEnvParity, PhasePre, "", "every region is ready and reports the same release, runtime, serving config, schema_rev, model_tag and secrets_rev"},
	{CheckIndexHashEqual, PhasePre, "", "every region reports the same INDEX_HASH"},
	{CheckQueueEmpty, PhasePre, "", "the regions' total write backlog is at most thresholds.queue_backlog_max"},
	{CheckCacheWarm, PhasePre, "", "every region's answer cache holds at least as many entries as there are hot questions"},
	{CheckP95Latency, PhaseLive, "", "p95 latency of the last 3 s stays at or under slo.latency_ms"},
	{CheckErrorRate, PhaseLive, "", "error rate of the last 3 s stays at or under thresholds.error_rate_max"},
	{CheckQueueBacklog, PhaseLive, "", "the serving regions' write backlog stays at or under thresholds.queue_backlog_max while the change holds"},
	{CheckDeltaSProbe, PhaseLive, "delta_s_probe", "mean ΔS(question, retrieved) of 6 probes in the serving region stays at or under thresholds.delta_s"},
	{CheckLambdaState, PhaseLive, "lambda_state", "λ over two rounds of 6 probes in the serving region is convergent for every probe"},
	{CheckIndexHash, PhaseLive, "", "the serving region reports the primary's INDEX_HASH"},
	{CheckAnswersEqual, PhasePost, "", "the probe questions get the same answers and top documents in every region, at most a quarter of them unanswered"},
	{CheckContractsEqual, PhasePost, "", "INDEX_HASH, metric, analyzer, schema_rev, model_tag and secrets_rev match across regions"},
	{CheckBacklogZero, PhasePost, "", "the regions' write and webhook backlog falls to thresholds.queue_backlog_max or under (the lowest reading over up to 3 s)"},
	{CheckCacheRewarmed, PhasePost, "", "purged caches are warm again: cache_warm passes after the drill"},
}

// LookupCheck finds a check by name or ASCII alias.
func LookupCheck(s string) (CheckInfo, bool) { return CheckRegistry.Lookup(s) }

// ChecksFor lists the registry's checks of one phase, in registry order.
func ChecksFor(ph Phase) []CheckName {
	var out []CheckName
	for _, c := range CheckRegistry {
		if c.Phase == ph {
			out = append(out, c.Name)
		}
	}
	return out
}

// checkSpellings are the spellings of the checks of the given phases.
func checkSpellings(phases ...Phase) []string {
	var out []string
	for _, c := range CheckRegistry {
		if slices.Contains(phases, c.Phase) {
			out = append(out, string(c.Name))
			out = append(out, c.aliases()...)
		}
	}
	return out
}

// UnmarshalText accepts the page's names and the ASCII aliases; unknown
// names are kept as written so Validate can report them with their path.
func (c *CheckName) UnmarshalText(b []byte) error {
	if info, ok := LookupCheck(string(b)); ok {
		*c = info.Name
		return nil
	}
	*c = CheckName(b)
	return nil
}

// Misconfiguration is a fault the lab builds in on purpose so a drill can
// prove its detector fires.
type Misconfiguration string

const (
	MisNoFreeze             Misconfiguration = "no_freeze"
	MisNoDedupe             Misconfiguration = "no_dedupe"
	MisRebuildWrongAnalyzer Misconfiguration = "rebuild_wrong_analyzer"
	MisWebhooksFromAll      Misconfiguration = "webhooks_from_all"
	MisStaleKeys            Misconfiguration = "stale_keys"
	MisColdStart            Misconfiguration = "cold_start"
	MisPurgeNoop            Misconfiguration = "purge_noop"
	MisEdgeIgnoresIndex     Misconfiguration = "edge_ignores_index_hash"
	MisReturnIgnored        Misconfiguration = "return_ignored"
)

// Misconfigurations is the one list of lab misconfigurations; each text
// says what the lab (internal/lab) does when it is set.
var Misconfigurations = Enum[Misconfiguration]{
	{MisNoFreeze, "frozen followers keep writing accepted writes straight to their store during cutover (split-brain writes)"},
	{MisNoDedupe, "the write path ignores idempotency keys (dedupe_key), so replays duplicate"},
	{MisRebuildWrongAnalyzer, "index rebuilds use the simple analyzer instead of the primary's, and the edge's contract gate ignores INDEX_HASH"},
	{MisWebhooksFromAll, "every region emits webhooks, not only the one emit_from names"},
	{MisStaleKeys, "every region keeps its own pinned key id, accepts no other and ignores key rotations"},
	{MisColdStart, "regions ignore the pre-warm (minimum instances) setting, so the survivor pays cold starts after promotion"},
	{MisPurgeNoop, "cache purges report success and purge nothing"},
	{MisEdgeIgnoresIndex, "the edge's contract gate ignores INDEX_HASH, so a region serving another index stays in rotation"},
	{MisReturnIgnored, "the edge acknowledges weight changes but never puts a region back in rotation once its weight was 0, so a return sends no new client home"},
}

// StopMetric is what a stop condition watches.
type StopMetric string

const (
	StopErrorRate  StopMetric = "error_rate"
	StopP95        StopMetric = "p95_ms"
	StopWriteLoss  StopMetric = "write_loss"
	StopBacklog    StopMetric = "backlog"
	StopPrometheus StopMetric = "prometheus"
	StopHTTP       StopMetric = "http"
)

// StopMetrics is the one list of stop-condition metrics; each text says
// what drill/stop.go measures.
var StopMetrics = Enum[StopMetric]{
	{StopErrorRate, "share of failed requests over the last 3 s (0..1)"},
	{StopP95, "p95 latency of the last 3 s in milliseconds"},
	{StopWriteLoss, "acknowledged writes no region's store holds, read only while every write queue is empty"},
	{StopBacklog, "the regions' total write backlog in messages"},
	{StopPrometheus, "value of a PromQL query (query; url or targets.prometheus.url)"},
	{StopHTTP, "1 while a GET of url fails or answers non-2xx, else 0 (so above stays 0)"},
}

// RoutingMode is how the edge picks a region.
type RoutingMode string

const (
	RoutingLatency RoutingMode = "latency" // lowest-latency healthy region
	RoutingWeights RoutingMode = "weights" // routing.weights per region
)

// RoutingModes is the one list of routing modes.
var RoutingModes = Enum[RoutingMode]{
	{RoutingLatency, "the lowest-latency healthy region"},
	{RoutingWeights, "routing.weights per region"},
}

// EmbedderKind selects the lab's embedder.
type EmbedderKind string

const (
	EmbedderBuiltin EmbedderKind = "builtin" // deterministic, in-process
	EmbedderOpenAI  EmbedderKind = "openai"  // OpenAI-compatible /v1/embeddings at url
)

// EmbedderKinds is the one list of the lab's embedders.
var EmbedderKinds = Enum[EmbedderKind]{
	{EmbedderBuiltin, "deterministic, in-process"},
	{EmbedderOpenAI, "an OpenAI-compatible /v1/embeddings at url"},
}

// RouterKind selects how routing weights are read and set on real targets.
type RouterKind string

const (
	RouterLab     RouterKind = "lab"     // a regiondrill edge at address
	RouterHAProxy RouterKind = "haproxy" // HAProxy runtime API on socket or address
	RouterCommand RouterKind = "command" // external commands set_weight / get_weights
)

// RouterKinds is the one list of routers of real targets.
var RouterKinds = Enum[RouterKind]{
	{RouterLab, "a regiondrill edge at address"},
	{RouterHAProxy, "HAProxy's runtime API on socket or address"},
	{RouterCommand, "external commands set_weight and get_weights"},
}

// Waivers is the one list of observations a plan with targets may waive.
var Waivers = Enum[Waiver]{
	{WaiveSink, "no webhook sink: drill D's webhook targets are inconclusive"},
}

// Registry is the one list of a plan enum's values: decoding, validation,
// the JSON Schema and docs/PLAN.md derive from it. R is the row type: it
// names its value and the other spellings accepted on input.
type Registry[T ~string, R row[T]] []R

type row[T ~string] interface {
	value() T
	aliases() []string
}

// Entry is a registry row that is only a value and what it means.
type Entry[T ~string] struct {
	Name        T
	Description string
}

func (e Entry[T]) value() T        { return e.Name }
func (Entry[T]) aliases() []string { return nil }

// Enum is a registry of plain entries.
type Enum[T ~string] = Registry[T, Entry[T]]

// Lookup finds a row by its value or one of its aliases.
func (r Registry[T, R]) Lookup(s string) (R, bool) {
	for _, x := range r {
		if string(x.value()) == s || slices.Contains(x.aliases(), s) {
			return x, true
		}
	}
	var zero R
	return zero, false
}

// Known reports whether v is one of the registry's values or aliases.
func (r Registry[T, R]) Known(v T) bool {
	_, ok := r.Lookup(string(v))
	return ok
}

// Spellings lists every spelling accepted on input: each row's value, then
// its aliases.
func (r Registry[T, R]) Spellings() []string {
	var out []string
	for _, x := range r {
		out = append(out, string(x.value()))
		out = append(out, x.aliases()...)
	}
	return out
}

// Names lists the rows' values in registry order.
func (r Registry[T, R]) Names() []string {
	out := make([]string, len(r))
	for i, x := range r {
		out[i] = string(x.value())
	}
	return out
}

// unknown is Validate's message for a value the registry does not hold.
func (r Registry[T, R]) unknown(noun string, v T) string {
	return fmt.Sprintf("unknown %s %q%s; use %s", noun, v, didYouMean(string(v), r.Names()), quoteList(r.Spellings()))
}
