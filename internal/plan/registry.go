package plan

import (
	"slices"
	"strings"
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

// CheckRegistry is the one list of checks: validation, the JSON Schema and
// the docs derive from it.
var CheckRegistry = []CheckInfo{
	{CheckEnvParity, PhasePre, "", "release, runtime and serving config are equal in every region"},
	{CheckIndexHashEqual, PhasePre, "", "every region reports the same INDEX_HASH, metric and analyzer"},
	{CheckQueueEmpty, PhasePre, "", "queue backlog is below thresholds.queue_backlog_max"},
	{CheckCacheWarm, PhasePre, "", "hot-path answer cache entries exist in every region"},
	{CheckP95Latency, PhaseLive, "", "p95 of served markets stays within thresholds.p95_vs_baseline of the baseline"},
	{CheckErrorRate, PhaseLive, "", "error rate stays under thresholds.error_rate_max; no 5xx burst longer than max_5xx_burst_s"},
	{CheckQueueBacklog, PhaseLive, "", "queue backlog is visible and bounded while the change holds"},
	{CheckDeltaSProbe, PhaseLive, "delta_s_probe", "ΔS(question, retrieved) of the probe set stays ≤ thresholds.delta_s"},
	{CheckLambdaState, PhaseLive, "lambda_state", "λ over successive probe rounds stays convergent"},
	{CheckIndexHash, PhaseLive, "", "serving regions keep reporting the promoted INDEX_HASH"},
	{CheckAnswersEqual, PhasePost, "", "gold questions get the same answers and citations in every region"},
	{CheckContractsEqual, PhasePost, "", "RAG contract fields {INDEX_HASH, METRIC, ANALYZER} match across regions"},
	{CheckBacklogZero, PhasePost, "", "queues drain to the pre-drill baseline within thresholds.backlog_drain_s"},
	{CheckCacheRewarmed, PhasePost, "", "purged caches are warm again in every region"},
}

// LookupCheck finds a check by name or ASCII alias.
func LookupCheck(s string) (CheckInfo, bool) {
	for _, c := range CheckRegistry {
		if string(c.Name) == s || (c.Alias != "" && c.Alias == s) {
			return c, true
		}
	}
	return CheckInfo{}, false
}

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

func (CheckName) spellings(tag string) []string {
	var out []string
	for _, c := range CheckRegistry {
		if tag != "" && string(c.Phase) != tag {
			continue
		}
		out = append(out, string(c.Name))
		if c.Alias != "" {
			out = append(out, c.Alias)
		}
	}
	return out
}

// DrillKind is one of the page's drill types A to E. The value is the name;
// Letter gives the page's letter.
type DrillKind string

const (
	DrillPlannedEvacuation DrillKind = "planned_evacuation"
	DrillHardOutage        DrillKind = "hard_outage"
	DrillIndexSkew         DrillKind = "index_skew"
	DrillWebhookReroute    DrillKind = "webhook_reroute"
	DrillReturnToHome      DrillKind = "return_to_home"
)

// DrillInfo is one row of the drill registry.
type DrillInfo struct {
	Kind        DrillKind
	Letter      string
	Description string
}

// DrillRegistry is the one list of drill kinds.
var DrillRegistry = []DrillInfo{
	{DrillPlannedEvacuation, "A", "planned evacuation (brownout): throttle a region by policy, traffic drains to the survivor without flapping"},
	{DrillHardOutage, "B", "hard outage (blackhole): block the region's ingress and egress; verify stickiness, retries and queue replay"},
	{DrillIndexSkew, "C", "index skew recovery: publish a follower with the wrong metric or analyzer; contracts refuse reuse and force a rebuild"},
	{DrillWebhookReroute, "D", "webhook and egress reroute: fail the region, deliver webhooks only from the survivor, no duplicates"},
	{DrillReturnToHome, "E", "return-to-home: reintroduce the region, rebuild indices, re-warm caches, rebalance gradually"},
}

// LookupDrill finds a drill by letter (any case) or name.
func LookupDrill(s string) (DrillInfo, bool) {
	for _, d := range DrillRegistry {
		if string(d.Kind) == s || strings.EqualFold(d.Letter, s) {
			return d, true
		}
	}
	return DrillInfo{}, false
}

// Letter is the page's letter for the drill, or "?" if unknown.
func (d DrillKind) Letter() string {
	if info, ok := LookupDrill(string(d)); ok {
		return info.Letter
	}
	return "?"
}

// UnmarshalText accepts letters and names; unknown values are kept for Validate.
func (d *DrillKind) UnmarshalText(b []byte) error {
	if info, ok := LookupDrill(string(b)); ok {
		*d = info.Kind
		return nil
	}
	*d = DrillKind(b)
	return nil
}

func (DrillKind) spellings(string) []string {
	var out []string
	for _, d := range DrillRegistry {
		out = append(out, d.Letter, strings.ToLower(d.Letter), string(d.Kind))
	}
	return out
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
)

// MisconfigInfo is one row of the misconfiguration registry.
type MisconfigInfo struct {
	Name        Misconfiguration
	Description string
}

// Misconfigurations is the one list of lab misconfigurations.
var Misconfigurations = []MisconfigInfo{
	{MisNoFreeze, "followers keep writing to their store during cutover (split-brain writes)"},
	{MisNoDedupe, "the write path ignores dedupe_key, so replays duplicate"},
	{MisRebuildWrongAnalyzer, "the follower is rebuilt with lab.skew_analyzer instead of the primary's analyzer"},
	{MisWebhooksFromAll, "every region emits webhooks, not only the survivor"},
	{MisStaleKeys, "a region keeps region-pinned keys and rejects the rotated key after a route flip"},
	{MisColdStart, "the survivor is not pre-warmed and pays cold starts after promotion"},
	{MisPurgeNoop, "cache purge reports success but purges nothing"},
	{MisEdgeIgnoresIndex, "the edge keeps a region whose INDEX_HASH differs from the primary's in rotation"},
}

func (Misconfiguration) spellings(string) []string {
	var out []string
	for _, m := range Misconfigurations {
		out = append(out, string(m.Name))
	}
	return out
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

// StopMetricInfo is one row of the stop-metric registry.
type StopMetricInfo struct {
	Metric      StopMetric
	Description string
}

// StopMetrics is the one list of stop-condition metrics.
var StopMetrics = []StopMetricInfo{
	{StopErrorRate, "share of failed requests (0..1)"},
	{StopP95, "p95 latency in milliseconds"},
	{StopWriteLoss, "acknowledged writes missing from the store"},
	{StopBacklog, "queue backlog in messages"},
	{StopPrometheus, "value of a PromQL query (query; url or targets.prometheus.url)"},
	{StopHTTP, "a GET of url fails or returns a non-2xx status; above is ignored"},
}

func (StopMetric) spellings(string) []string {
	var out []string
	for _, m := range StopMetrics {
		out = append(out, string(m.Metric))
	}
	return out
}

// RoutingMode is how the edge picks a region.
type RoutingMode string

const (
	RoutingLatency RoutingMode = "latency" // lowest-latency healthy region
	RoutingWeights RoutingMode = "weights" // routing.weights per region
)

func (RoutingMode) spellings(string) []string {
	return []string{string(RoutingLatency), string(RoutingWeights)}
}

// EmbedderKind selects the lab's embedder.
type EmbedderKind string

const (
	EmbedderBuiltin EmbedderKind = "builtin" // deterministic, in-process
	EmbedderOpenAI  EmbedderKind = "openai"  // OpenAI-compatible /v1/embeddings at url
)

func (EmbedderKind) spellings(string) []string {
	return []string{string(EmbedderBuiltin), string(EmbedderOpenAI)}
}

// RouterKind selects how routing weights are read and set on real targets.
type RouterKind string

const (
	RouterLab     RouterKind = "lab"     // a regiondrill edge at address
	RouterHAProxy RouterKind = "haproxy" // HAProxy runtime API on socket or address
	RouterCommand RouterKind = "command" // external commands set_weight / get_weights
)

func (RouterKind) spellings(string) []string {
	return []string{string(RouterLab), string(RouterHAProxy), string(RouterCommand)}
}

// enumType is implemented by every typed enum; the schema and the decoder use
// it. tag is the field's `phase` struct tag (only checks use it).
type enumType interface {
	spellings(tag string) []string
}

func known[T interface {
	~string
	enumType
}](v T) bool {
	return slices.Contains(v.spellings(""), string(v))
}
