// Package plan holds the drill plan: the page's JSON plan plus regiondrill's
// extensions, with defaults, strict decoding, validation and a JSON Schema.
package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Plan is one drill plan. Fields without a value in the document take the
// defaults of Default.
type Plan struct {
	Regions                 []string        `json:"regions" required:"true" items:"[2,)" unique:"true" pattern:"region" doc:"Regions that serve traffic; at least 2, unique, lower-case names."` // no default
	Evacuate                string          `json:"evacuate" required:"true" pattern:"region" not:"all" doc:"Region the drill evacuates (usually the home primary)."`                            // no default
	PromoteSurvivor         string          `json:"promote_survivor,omitempty" pattern:"region" doc:"Region promoted to take writes; default: first region that is not evacuated."`              // default: first survivor
	Routing                 Routing         `json:"routing" doc:"How the edge routes between regions."`                                                                                          //
	FreezeWritesOnFollowers bool            `json:"freeze_writes_on_followers" doc:"Followers accept and enqueue writes but never write their store during cutover. Default true."`              // default true
	Checks                  CheckSet        `json:"checks" doc:"Checks run before, during and after each change. Default: every check of each phase."`                                           // default: all
	RAGProbe                RAGProbe        `json:"rag_probe" doc:"Probe set settings for ΔS, λ and coverage."`                                                                                  //
	WebhookPolicy           WebhookPolicy   `json:"webhook_policy" doc:"Where webhooks are emitted from and how they are deduplicated."`                                                         //
	ReturnToHome            ReturnToHome    `json:"return_to_home" doc:"How the evacuated region is brought back (drill E)."`                                                                    //
	Drills                  []DrillKind     `json:"drills,omitempty" unique:"true" doc:"Drills to run, in order: letters (any case) or names of the drill kinds. Default [A, E]."`               // default [A, E]
	Primary                 string          `json:"primary,omitempty" pattern:"region" doc:"Primary region before the drill; default: regions[0]."`                                              // default regions[0]
	MinServingRegions       int             `json:"min_serving_regions" range:"[1,)" doc:"Regions that must still serve after evacuation. Default 1."`                                           // default 1; regions
	Seed                    int64           `json:"seed" doc:"Seed of every random choice, so a run can be reproduced. Default 1."`                                                              // default 1
	Load                    Load            `json:"load" doc:"Synthetic traffic during the drill."`                                                                                              //
	Phases                  Phases          `json:"phases" doc:"Timing of the drill's phases."`                                                                                                  //
	Thresholds              Thresholds      `json:"thresholds" doc:"Acceptance targets of the page."`                                                                                            //
	SLO                     SLO             `json:"slo" doc:"Service level objective used for the error-budget record."`                                                                         //
	StopConditions          []StopCondition `json:"stop_conditions,omitempty" doc:"Conditions that abort the drill and run every undo. Default none."`                                           // default none
	Hooks                   []Hook          `json:"hooks,omitempty" doc:"User commands run before or after runbook steps, each with its undo. Default none."`                                    // default none
	Lab                     Lab             `json:"lab" doc:"Settings of the built-in lab; ignored when targets is set."`                                                                        //
	Targets                 *Targets        `json:"targets,omitempty" doc:"Real regions and router to drill; when absent the built-in lab is used."`                                             // default nil (lab)
	Regression              Regression      `json:"regression" doc:"How far each acceptance target may move against a baseline run before compare fails."`                                       // default: see Regression
	Agents                  *Agents         `json:"agents,omitempty" doc:"Agents that send the load from other places over NATS; when absent this process sends it."`                            // default nil (local)
}

// Routing is the page's routing block.
type Routing struct {
	Mode         RoutingMode    `json:"mode" doc:"latency or weights. Default latency."`                                                                             // default latency
	StickMinutes float64        `json:"stick_minutes" range:"[0,1440]" doc:"Session stickiness TTL in minutes. Default 15."`                                         // minutes; default 15
	HysteresisS  float64        `json:"hysteresis_s" range:"[0,3600]" doc:"Seconds a region must stay healthy/unhealthy before routing flips, 0..3600. Default 30."` // seconds; default 30
	Weights      map[string]int `json:"weights,omitempty" keys:"region" range:"[0,100]" doc:"Per-region weight 0..100, required when mode is weights."`              // percent; default none
}

// CheckSet lists the checks of each phase.
type CheckSet struct {
	Pre  []CheckName `json:"pre" unique:"true" phase:"pre" doc:"Gate checks before the drill. Default: all pre checks."`   // default: all pre checks
	Live []CheckName `json:"live" unique:"true" phase:"live" doc:"Checks while a change holds. Default: all live checks."` // default: all live checks
	Post []CheckName `json:"post" unique:"true" phase:"post" doc:"Closeout checks. Default: all post checks."`             // default: all post checks
	// Advisory live and post checks are run and reported, and their failure
	// does not fail the drill.
	Advisory []CheckName `json:"advisory,omitempty" phase:"live post" doc:"Live or post checks whose failure is reported but does not fail the drill. Default none."` // default none
}

// RAGProbe configures the probe set.
type RAGProbe struct {
	K           int     `json:"k" range:"[1,100]" doc:"Top-k chunks retrieved per probe, 1..100. Default 10."`                                          // chunks; default 10
	DualhomeK   int     `json:"dualhome_k" range:"[1,100]" doc:"Top-k compared between two regions (dual-home), 1..k. Default 5."`                      // chunks; default 5
	DeltaSRisk  float64 `json:"delta_s_risk" range:"(0,1]" doc:"ΔS at or above which a probe is high risk and forces rebuild, (0,1]. Default 0.60."`    // ratio; default 0.60
	CoverageMin float64 `json:"coverage_min" range:"[0,1]" doc:"Minimum share of expected answer tokens found in retrieved text, [0,1]. Default 0.70."` // ratio; default 0.70
	// DualhomeMin is the dual-home tolerance: regions that replicate an
	// index may rank a little differently, so one chunk in five may differ.
	DualhomeMin float64 `json:"dualhome_min" range:"[0,1]" doc:"Minimum mean share of a region's top dualhome_k chunks found in another region's top dualhome_k, [0,1]. Default 0.8."` // ratio; default 0.8
}

// WebhookPolicy says where webhooks come from and how they are deduplicated.
type WebhookPolicy struct {
	EmitFrom  string `json:"emit_from,omitempty" pattern:"region" doc:"Only region allowed to emit webhooks during the drill; default promote_survivor."`                                // default promote_survivor
	DedupeKey string `json:"dedupe_key" pattern:"dedupe_key" doc:"Idempotency key expression sha256(a+b[+c]) over event_id, rev, source, tenant, region. Default sha256(event_id+rev)."` // default sha256(event_id+rev)
}

// ReturnToHome is drill E's settings.
type ReturnToHome struct {
	RebuildFollower bool  `json:"rebuild_follower" doc:"Rebuild the returning region's index from the primary's artifact. Default true."`                                                                     // default true
	PurgeCache      bool  `json:"purge_cache" doc:"Purge and re-warm the returning region's cache. Default true."`                                                                                            // default true
	GradualWeights  []int `json:"gradual_weights" items:"[1,)" range:"(0,100]" contains:"100" doc:"Weight steps (percent) for the returning region, strictly rising, ending at 100. Default [10,30,60,100]."` // percent; default [10,30,60,100]
}

// Load is the synthetic traffic.
type Load struct {
	RateRPS     float64 `json:"rate_rps" range:"[1,20000]" doc:"Requests per second, 1..20000. Default 80."`                                                                          // requests/s; default 80
	Sessions    int     `json:"sessions" range:"[1,100000]" doc:"Concurrent sticky sessions, 1..100000. Default 40."`                                                                 // default 40
	WriteRatio  float64 `json:"write_ratio" range:"[0,1]" doc:"Share of requests that are writes, [0,1]. Default 0.3."`                                                               // ratio; default 0.3
	ReplayRatio float64 `json:"replay_ratio" range:"[0,1]" doc:"Share of writes deliberately sent twice with the same key, [0,1]. Default 0.05."`                                     // ratio; default 0.05
	TimeoutMS   int     `json:"timeout_ms" range:"[1,600000]" doc:"Per-request timeout in milliseconds, 1..600000. Default 2000."`                                                    // ms; default 2000
	MaxRetries  int     `json:"max_retries" range:"[0,10]" doc:"Retries per failed request, 0..10. Default 2."`                                                                       // default 2
	SessionS    float64 `json:"session_s" range:"[0,86400]" doc:"Seconds a client session lasts before it leaves and a new one arrives; 0: sessions last the whole run. Default 10."` // seconds; default 10
}

// Phases is the drill's timing.
type Phases struct {
	BaselineS     float64 `json:"baseline_s" range:"(0,3600]" doc:"Seconds of baseline traffic before the first change. Default 6."`               // seconds; default 6
	HoldS         float64 `json:"hold_s" range:"(0,3600]" doc:"Seconds observed after each change. Default 8."`                                    // seconds; default 8
	StepHoldS     float64 `json:"step_hold_s" range:"(0,3600]" doc:"Seconds held per gradual weight step. Default 3."`                             // seconds; default 3
	DrainTimeoutS float64 `json:"drain_timeout_s" range:"(0,3600]" doc:"Seconds to wait for queues to drain before giving up. Default 60."`        // seconds; default 60
	ProbeRounds   int     `json:"probe_rounds" range:"[1,100]" doc:"Probe-set rounds per probe point (λ needs ≥2 to compare), 1..100. Default 3."` // default 3
}

// Thresholds are the page's acceptance targets.
type Thresholds struct {
	CutoverS        float64 `json:"cutover_s" range:"(0,3600]" doc:"Max seconds from evacuation decision to clean cutover. Default 30."`                  // seconds; default 30
	Max5xxBurstS    float64 `json:"max_5xx_burst_s" range:"[0,3600]" doc:"Max seconds of a continuous 5xx burst. Default 60."`                            // seconds; default 60
	P95VsBaseline   float64 `json:"p95_vs_baseline" range:"(0,10]" doc:"Allowed p95 growth over baseline as a ratio, (0,10]. Default 0.25."`              // ratio; default 0.25
	BacklogDrainS   float64 `json:"backlog_drain_s" range:"(0,86400]" doc:"Max seconds for the backlog to drain to the pre-drill baseline. Default 600."` // seconds; default 600
	DeltaS          float64 `json:"delta_s" range:"(0,1]" doc:"Max ΔS(question, retrieved) on the probe set, (0,1]. Default 0.45."`                       // ratio; default 0.45
	DeltaSDrift     float64 `json:"delta_s_drift" range:"[0,1]" doc:"Max ΔS difference between regions for the same probe, [0,1]. Default 0.03."`         // ratio; default 0.03
	QueueBacklogMax int     `json:"queue_backlog_max" range:"[0,1000000000]" doc:"Backlog (messages) under which a queue counts as empty. Default 50."`   // messages; default 50
	ErrorRateMax    float64 `json:"error_rate_max" range:"[0,1]" doc:"Max share of failed requests while a change holds, [0,1]. Default 0.05."`           // ratio; default 0.05
}

// SLO is the objective the error budget is measured against.
type SLO struct {
	Availability     float64 `json:"availability" range:"(0,1]" doc:"Availability objective, (0,1]. Default 0.999."`                          // ratio; default 0.999
	LatencyMS        float64 `json:"latency_ms" range:"(0,600000]" doc:"Latency objective in milliseconds. Default 800."`                     // ms; default 800
	LatencyObjective float64 `json:"latency_objective" range:"(0,1]" doc:"Share of requests that must beat latency_ms, (0,1]. Default 0.99."` // ratio; default 0.99
}

// StopCondition aborts the drill when Metric stays above Above for ForS seconds.
type StopCondition struct {
	Metric StopMetric `json:"metric" required:"true" doc:"error_rate, p95_ms, write_loss, backlog, prometheus or http."`                                 // no default
	Above  float64    `json:"above" doc:"Threshold in the metric's unit. Default 0."`                                                                    // metric unit; default 0
	ForS   float64    `json:"for_s" range:"[0,86400]" doc:"Seconds the metric must stay above the threshold. Default 0 (immediately)."`                  // seconds; default 0
	Query  string     `json:"query,omitempty" doc:"PromQL query, for metric prometheus."`                                                                // default ""
	URL    string     `json:"url,omitempty" pattern:"optional_http_url" doc:"URL to GET for metric http, or Prometheus base URL for metric prometheus."` // default ""
}

// Hook runs a user's command (argv, never through a shell) before or after a
// runbook step; its undo runs when the drill restores the target.
type Hook struct {
	Step     string   `json:"step" required:"true" registry:"hook_step" doc:"Runbook step: pre-checks, evacuate, promote, observe, verify, return, closeout (or its number 1-7)."`               // no default
	When     string   `json:"when" enum:"before after" doc:"before or after the step. Default before."`                                                                                          // default before
	Drills   []string `json:"drills,omitempty" registry:"drill" doc:"Drill letters the hook applies to. Default every drill."`                                                                   // default all
	Run      []string `json:"run" required:"true" items:"[1,)" first:"nonblank" doc:"argv of the command; run without a shell."`                                                                 // no default
	Undo     []string `json:"undo,omitempty" first:"nonblank" doc:"argv that undoes run; executed on restore and by rollback. Default none."`                                                    // default none
	TimeoutS float64  `json:"timeout_s" range:"[0.1,3600]" zero:"default" doc:"Seconds the command may run, 0.1..3600. Default 30."`                                                             // seconds; default 30
	Env      []string `json:"env,omitempty" pattern:"env_name" doc:"Names of environment variables passed to the command, besides PATH, HOME, LANG, LC_ALL, TZ, TMPDIR and USER. Default none."` // default none
}

// Queue says where a real target's queue backlog is read.
type Queue struct {
	Kind     string            `json:"kind" enum:"contract jetstream prometheus" doc:"contract, jetstream or prometheus. Default contract."` // default contract
	NATSURL  string            `json:"nats_url,omitempty" doc:"NATS server of the streams (jetstream)."`                                     // default ""
	NATSAuth NATSAuth          `json:"nats_auth" doc:"Credentials for nats_url (jetstream)."`
	Streams  map[string]string `json:"streams,omitempty" doc:"Region → JetStream stream holding its writes (jetstream)."`                   // default none
	Consumer string            `json:"consumer,omitempty" doc:"Durable consumer whose pending + unacked count is the backlog (jetstream)."` // default "" (stream messages)
	Query    string            `json:"query,omitempty" doc:"PromQL with {region} replaced by the region (prometheus; uses targets.prometheus.url)."`
}

// DefaultNATSPasswordEnv is where a NATS user's password is read by default.
const DefaultNATSPasswordEnv = "REGIONDRILL_NATS_PASSWORD"

// NATSAuth says how the drill authenticates to a NATS server without putting
// a secret in the plan (plans are journaled): a user whose password is read
// from an environment variable, or a credentials or nkey seed file. At most
// one of the three; none connects anonymously.
type NATSAuth struct {
	User        string `json:"user,omitempty" doc:"NATS user; the password comes from password_env."`                                             // default ""
	PasswordEnv string `json:"password_env,omitempty" doc:"Environment variable holding the user's password. Default REGIONDRILL_NATS_PASSWORD."` // default REGIONDRILL_NATS_PASSWORD
	CredsFile   string `json:"creds_file,omitempty" doc:"NATS credentials file (user JWT and nkey seed)."`                                        // default ""
	NKeyFile    string `json:"nkey_file,omitempty" doc:"File holding an nkey seed."`                                                              // default ""
}

// HookSteps maps the names a hook may use to the runbook's step numbers.
var HookSteps = map[string]int{
	"pre-checks": 1, "evacuate": 2, "promote": 3, "observe": 4, "verify": 5, "return": 6, "closeout": 7,
	"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7,
}

// Lab configures the built-in lab.
type Lab struct {
	Misconfigure []Misconfiguration `json:"misconfigure,omitempty" unique:"true" doc:"Faults built into the lab on purpose so drills can prove detectors fire. Default none."` // default none
	SkewAnalyzer string             `json:"skew_analyzer" pattern:"nonblank" doc:"Analyzer used for the skewed follower in drill C. Default simple."`                          // default "simple"
	SkewMetric   string             `json:"skew_metric,omitempty" doc:"Metric used for the skewed follower in drill C; empty keeps the primary's."`                            // default ""
	Embedder     Embedder           `json:"embedder" doc:"Embedder used by the lab's regions."`                                                                                //
	NATSURL      string             `json:"nats_url,omitempty" pattern:"optional_nats_url" doc:"External NATS server; empty runs an embedded one."`                            // default "" (embedded)
	NATSAuth     NATSAuth           `json:"nats_auth" doc:"Credentials for nats_url."`
	DataDir      string             `json:"data_dir,omitempty" doc:"Directory for lab state; empty uses a temporary directory."` // default "" (temp dir)
}

// Embedder selects the lab's embedder.
type Embedder struct {
	Kind  EmbedderKind `json:"kind" doc:"builtin or openai. Default builtin."`                                                 // default builtin
	URL   string       `json:"url,omitempty" pattern:"optional_http_url" doc:"Base URL of an OpenAI-compatible API (openai)."` // default ""
	Model string       `json:"model,omitempty" doc:"Embedding model name (openai)."`                                           // default ""
}

// Targets are real regions to drill instead of the lab.
type Targets struct {
	Regions    map[string]RegionTarget `json:"regions" required:"true" items:"[1,)" keys:"region" doc:"One entry per plan region."` // no default
	Router     Router                  `json:"router" doc:"How routing weights are read and set."`                                  //
	Prometheus Prometheus              `json:"prometheus" doc:"Prometheus for stop conditions."`                                    //
	Queue      Queue                   `json:"queue" doc:"Where queue backlogs are read. Default the regions' contract health."`
	Entry      string                  `json:"entry,omitempty" pattern:"optional_http_url" doc:"URL clients send traffic to (the drill's load goes there); default the lab edge at router.address."` // default http://router.address
	Faults     string                  `json:"faults,omitempty" pattern:"optional_http_url" doc:"Base URL of a fault control API (the lab's); needed by drills B and D."`                            // default ""
	Sink       string                  `json:"sink,omitempty" pattern:"optional_http_url" doc:"Base URL of the webhook sink whose GET /deliveries lists deliveries; needed to reconcile webhooks."`  // default ""
	TokenEnv   string                  `json:"token_env,omitempty" doc:"Environment variable holding the admin token when a region has none. Default REGIONDRILL_TOKEN."`                            // default REGIONDRILL_TOKEN
	// Waive names observations the drills need and the targets lack, on
	// purpose: the plan is accepted, and the targets that rest on them are
	// inconclusive (the run exits 1).
	Waive []Waiver `json:"waive,omitempty" doc:"Observations the plan goes without on purpose (sink); targets resting on them are inconclusive. Default none."` // default none
}

// Waiver names an observation a plan with targets may go without.
type Waiver string

// WaiveSink: no webhook sink; drill D's webhook targets are inconclusive.
const WaiveSink Waiver = "sink"

// Waives reports whether the plan waives w.
func (p *Plan) Waives(w Waiver) bool { return p.Targets != nil && slices.Contains(p.Targets.Waive, w) }

// RegionTarget is one real region's contract endpoint.
type RegionTarget struct {
	BaseURL string `json:"base_url" required:"true" pattern:"http_url" doc:"http(s) base URL of the region's drill contract."` // no default
	Token   string `json:"token,omitempty" doc:"Admin bearer token."`                                                          // default ""
}

// Router says how to read and set weights on real targets.
type Router struct {
	Kind       RouterKind `json:"kind" doc:"lab, haproxy or command. Default lab."`                                                                                    // default lab
	Address    string     `json:"address,omitempty" doc:"host:port of a lab edge or of HAProxy's runtime API."`                                                        // default ""
	Backend    string     `json:"backend,omitempty" doc:"HAProxy backend whose servers are the regions."`                                                              // default ""
	Socket     string     `json:"socket,omitempty" doc:"Path of HAProxy's runtime API unix socket."`                                                                   // default ""
	SetWeight  []string   `json:"set_weight,omitempty" doc:"argv run to set a weight; {region} and {weight} are replaced."`                                            // default none
	GetWeights []string   `json:"get_weights,omitempty" doc:"argv run to print weights as JSON {region: weight}."`                                                     // default none
	LockMap    string     `json:"lock_map,omitempty" doc:"HAProxy map (as 'show map' names it) holding the drill lock."`                                               // default ""
	Lock       []string   `json:"lock,omitempty" doc:"argv run to take or renew the drill lock; {owner} and {lease_s} are replaced; exit 0 means held."`               // default none
	Unlock     []string   `json:"unlock,omitempty" doc:"argv run to release the drill lock; {owner} is replaced."`                                                     // default none
	NoLock     bool       `json:"no_lock,omitempty" doc:"Run without a drill lock on an haproxy or command router (nothing keeps a second drill out). Default false."` // default false
}

// Prometheus is where stop-condition queries go.
type Prometheus struct {
	URL string `json:"url,omitempty" pattern:"optional_http_url" doc:"Base URL of the Prometheus HTTP API."` // default ""
}

// DefaultDedupeKey is the page's dedupe_key expression.
const DefaultDedupeKey = "sha256(event_id+rev)"

// Default returns a plan holding every default. Regions and Evacuate are
// empty: a plan must name them.
func Default() *Plan {
	return &Plan{
		Routing:                 Routing{Mode: RoutingLatency, StickMinutes: 15, HysteresisS: 30},
		FreezeWritesOnFollowers: true,
		Checks:                  CheckSet{Pre: ChecksFor(PhasePre), Live: ChecksFor(PhaseLive), Post: ChecksFor(PhasePost)},
		RAGProbe:                RAGProbe{K: 10, DualhomeK: 5, DeltaSRisk: 0.60, CoverageMin: 0.70, DualhomeMin: 0.8},
		WebhookPolicy:           WebhookPolicy{DedupeKey: DefaultDedupeKey},
		ReturnToHome:            ReturnToHome{RebuildFollower: true, PurgeCache: true, GradualWeights: []int{10, 30, 60, 100}},
		Drills:                  defaultDrills(),
		MinServingRegions:       1,
		Seed:                    1,
		Load:                    Load{RateRPS: 80, Sessions: 40, WriteRatio: 0.3, ReplayRatio: 0.05, TimeoutMS: 2000, MaxRetries: 2, SessionS: 10},
		Phases:                  Phases{BaselineS: 6, HoldS: 8, StepHoldS: 3, DrainTimeoutS: 60, ProbeRounds: 3},
		Thresholds: Thresholds{CutoverS: 30, Max5xxBurstS: 60, P95VsBaseline: 0.25, BacklogDrainS: 600,
			DeltaS: 0.45, DeltaSDrift: 0.03, QueueBacklogMax: 50, ErrorRateMax: 0.05},
		SLO:        SLO{Availability: 0.999, LatencyMS: 800, LatencyObjective: 0.99},
		Lab:        Lab{SkewAnalyzer: "simple", Embedder: Embedder{Kind: EmbedderBuiltin}},
		Regression: DefaultRegression(),
	}
}

// fillDerived sets the defaults that depend on other fields.
func (p *Plan) fillDerived() {
	for i := range p.Hooks {
		if p.Hooks[i].When == "" {
			p.Hooks[i].When = "before"
		}
		if p.Hooks[i].TimeoutS == 0 {
			p.Hooks[i].TimeoutS = 30
		}
	}
	if p.Primary == "" && len(p.Regions) > 0 {
		p.Primary = p.Regions[0]
	}
	if p.PromoteSurvivor == "" {
		if s := p.Survivors(); len(s) > 0 {
			p.PromoteSurvivor = s[0]
		}
	}
	if p.WebhookPolicy.EmitFrom == "" {
		p.WebhookPolicy.EmitFrom = p.PromoteSurvivor
	}
	if p.Targets != nil && p.Targets.Router.Kind == "" {
		p.Targets.Router.Kind = RouterLab
	}
	if p.Targets != nil && p.Targets.Queue.Kind == "" {
		p.Targets.Queue.Kind = "contract"
	}
	if p.Targets != nil && p.Targets.TokenEnv == "" {
		p.Targets.TokenEnv = "REGIONDRILL_TOKEN"
	}
	if p.Lab.NATSAuth.User != "" && p.Lab.NATSAuth.PasswordEnv == "" {
		p.Lab.NATSAuth.PasswordEnv = DefaultNATSPasswordEnv
	}
	if p.Targets != nil && p.Targets.Queue.NATSAuth.User != "" && p.Targets.Queue.NATSAuth.PasswordEnv == "" {
		p.Targets.Queue.NATSAuth.PasswordEnv = DefaultNATSPasswordEnv
	}
	if p.Agents != nil {
		p.Agents.fillDefaults()
	}
}

// Survivors are the regions that keep serving: Regions minus Evacuate.
func (p *Plan) Survivors() []string {
	var out []string
	for _, r := range p.Regions {
		if r != p.Evacuate && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// DrillList is the drills to run in order, without repeats; the default
// kinds ([A, E]) if none.
func (p *Plan) DrillList() []DrillKind {
	if len(p.Drills) == 0 {
		return defaultDrills()
	}
	var out []DrillKind
	for _, d := range p.Drills {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// Hysteresis is routing.hysteresis_s as a duration.
func (p *Plan) Hysteresis() time.Duration { return Seconds(p.Routing.HysteresisS) }

// StickTTL is routing.stick_minutes as a duration.
func (p *Plan) StickTTL() time.Duration { return Seconds(p.Routing.StickMinutes * 60) }

// RequestTimeout is load.timeout_ms as a duration.
func (p *Plan) RequestTimeout() time.Duration {
	return time.Duration(p.Load.TimeoutMS) * time.Millisecond
}

// SessionLife is load.session_s as a duration; 0: sessions last the run.
func (p *Plan) SessionLife() time.Duration { return Seconds(p.Load.SessionS) }

// UsesLab reports whether the drill runs against the built-in lab.
func (p *Plan) UsesLab() bool { return p.Targets == nil }

// Seconds converts a plan's float seconds to a duration.
func Seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Summary is a one-line description of the plan for headers and journals.
func (p *Plan) Summary() string {
	letters := make([]string, 0, len(p.Drills))
	for _, d := range p.DrillList() {
		letters = append(letters, d.Letter())
	}
	where := "lab"
	if !p.UsesLab() {
		where = "targets"
	}
	return fmt.Sprintf("evacuate %s, promote %s, regions [%s], drills %s, %s, seed %d",
		p.Evacuate, p.PromoteSurvivor, strings.Join(p.Regions, " "), strings.Join(letters, ""), where, p.Seed)
}
