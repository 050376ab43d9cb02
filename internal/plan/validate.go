package plan

import (
	"math"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
)

var regionName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate checks the plan and returns every problem at once as Errors,
// each with the JSON path of the field to fix; nil if the plan is sound.
func (p *Plan) Validate() error {
	var es Errors
	p.validateRegions(&es)
	p.validateRouting(&es)
	p.validateChecks(&es)
	p.validateProbe(&es)
	p.validateWebhooks(&es)
	p.validateReturn(&es)
	p.validateDrills(&es)
	p.validateNumbers(&es)
	p.validateStops(&es)
	p.validateHooks(&es)
	p.validateLab(&es)
	p.validateTargets(&es)
	p.validateRegression(&es)
	p.validateAgents(&es)
	return es.err()
}

func (p *Plan) validateRegions(es *Errors) {
	seen := map[string]bool{}
	for i, r := range p.Regions {
		path := index("$.regions", i)
		if !regionName.MatchString(r) {
			es.add(path, "region name %q must be lower-case letters, digits and '-', start with a letter or digit, at most 63 characters", r)
		}
		if seen[r] {
			es.add(path, "region %q is listed twice", r)
		}
		seen[r] = true
	}
	if len(seen) < 2 {
		es.add("$.regions", "a failover drill needs at least 2 distinct regions; got %d", len(seen))
	}
	regions := quoteList(p.Regions)
	switch {
	case p.Evacuate == "*" || strings.EqualFold(p.Evacuate, "all"):
		es.add("$.evacuate", "evacuating every region leaves nothing to serve; name one region of %s", regions)
	case p.Evacuate == "":
		es.add("$.evacuate", "required: name the region to evacuate, one of %s", regions)
	case !seen[p.Evacuate]:
		es.add("$.evacuate", "%q is not in regions (%s)%s", p.Evacuate, regions, didYouMean(p.Evacuate, p.Regions))
	default:
		serving := len(seen) - 1
		if serving == 0 {
			es.add("$.evacuate", "evacuating %q would evacuate every region; add a survivor to regions", p.Evacuate)
		} else if p.MinServingRegions >= 1 && serving < p.MinServingRegions {
			es.add("$.evacuate", "evacuating %q would leave %d regions serving; min_serving_regions is %d", p.Evacuate, serving, p.MinServingRegions)
		}
	}
	if p.MinServingRegions < 1 {
		es.add("$.min_serving_regions", "must be at least 1, got %d", p.MinServingRegions)
	}
	survivors := quoteList(p.Survivors())
	switch {
	case p.PromoteSurvivor == "":
		es.add("$.promote_survivor", "required: name the region to promote, one of %s", survivors)
	case !seen[p.PromoteSurvivor]:
		es.add("$.promote_survivor", "%q is not in regions (%s)%s", p.PromoteSurvivor, regions, didYouMean(p.PromoteSurvivor, p.Regions))
	case p.PromoteSurvivor == p.Evacuate:
		es.add("$.promote_survivor", "cannot promote %q: it is the region being evacuated; pick one of %s", p.PromoteSurvivor, survivors)
	}
	if p.Primary != "" && !seen[p.Primary] {
		es.add("$.primary", "%q is not in regions (%s)%s", p.Primary, regions, didYouMean(p.Primary, p.Regions))
	}
}

func (p *Plan) validateRouting(es *Errors) {
	r := p.Routing
	if !RoutingModes.Known(r.Mode) {
		es.add("$.routing.mode", "%s", RoutingModes.unknown("routing mode", r.Mode))
	}
	if !inRange(r.StickMinutes, 0, 1440) {
		es.add("$.routing.stick_minutes", "must be between 0 and 1440 minutes, got %v", r.StickMinutes)
	}
	if !inRange(r.HysteresisS, 0, 3600) {
		es.add("$.routing.hysteresis_s", "must be between 0 and 3600 seconds, got %v", r.HysteresisS)
	}
	for _, k := range sortedKeys(r.Weights) {
		path := child("$.routing.weights", k)
		if !slices.Contains(p.Regions, k) {
			es.add(path, "%q is not in regions (%s)", k, quoteList(p.Regions))
		}
		if w := r.Weights[k]; w < 0 || w > 100 {
			es.add(path, "weight must be between 0 and 100, got %d", w)
		}
	}
	if r.Mode == RoutingWeights {
		total := 0
		for _, w := range r.Weights {
			total += w
		}
		if total <= 0 {
			es.add("$.routing.weights", "mode \"weights\" needs a weight above 0 for at least one region")
		}
	}
}

func (p *Plan) validateChecks(es *Errors) {
	lists := []struct {
		phase Phase
		names []CheckName
	}{{PhasePre, p.Checks.Pre}, {PhaseLive, p.Checks.Live}, {PhasePost, p.Checks.Post}}
	all := CheckRegistry.Spellings()
	for _, l := range lists {
		base := "$.checks." + string(l.phase)
		seen := map[CheckName]bool{}
		for i, n := range l.names {
			path := index(base, i)
			info, ok := LookupCheck(string(n))
			if !ok {
				es.add(path, "unknown check %q%s; %s checks are %s", n, didYouMean(string(n), all), l.phase, quoteList(names(ChecksFor(l.phase))))
				continue
			}
			if info.Phase != l.phase {
				es.add(path, "%q is a %s check, not a %s check; move it to $.checks.%s", info.Name, info.Phase, l.phase, info.Phase)
				continue
			}
			if seen[info.Name] {
				es.add(path, "check %q is listed twice", info.Name)
			}
			seen[info.Name] = true
		}
	}
	p.validateAdvisory(es)
}

// validateAdvisory: an advisory check must be a live or post check the plan
// runs; pre-checks gate the drill and cannot be advisory.
func (p *Plan) validateAdvisory(es *Errors) {
	for i, n := range p.Checks.Advisory {
		path := index("$.checks.advisory", i)
		info, ok := LookupCheck(string(n))
		switch {
		case !ok:
			es.add(path, "unknown check %q%s", n, didYouMean(string(n), names(append(ChecksFor(PhaseLive), ChecksFor(PhasePost)...))))
		case info.Phase == PhasePre:
			es.add(path, "%q is a pre check: pre checks gate the drill and cannot be advisory", info.Name)
		case !slices.Contains(p.Checks.Live, info.Name) && !slices.Contains(p.Checks.Post, info.Name):
			es.add(path, "%q is not run: add it to $.checks.%s or drop it here", info.Name, info.Phase)
		}
	}
}

func (p *Plan) validateProbe(es *Errors) {
	r := p.RAGProbe
	if r.K < 1 || r.K > 100 {
		es.add("$.rag_probe.k", "must be between 1 and 100, got %d", r.K)
	}
	if r.DualhomeK < 1 || r.DualhomeK > max(r.K, 1) {
		es.add("$.rag_probe.dualhome_k", "must be between 1 and k (%d), got %d", r.K, r.DualhomeK)
	}
	if !(r.DeltaSRisk > 0 && r.DeltaSRisk <= 1) {
		es.add("$.rag_probe.delta_s_risk", "must be in (0, 1], got %v", r.DeltaSRisk)
	}
	if !inRange(r.CoverageMin, 0, 1) {
		es.add("$.rag_probe.coverage_min", "must be in [0, 1], got %v", r.CoverageMin)
	}
	if !inRange(r.DualhomeMin, 0, 1) {
		es.add("$.rag_probe.dualhome_min", "must be in [0, 1], got %v", r.DualhomeMin)
	}
}

func (p *Plan) validateWebhooks(es *Errors) {
	w := p.WebhookPolicy
	switch {
	case w.EmitFrom == "":
		es.add("$.webhook_policy.emit_from", "required: name the survivor that emits webhooks, one of %s", quoteList(p.Survivors()))
	case !slices.Contains(p.Regions, w.EmitFrom):
		es.add("$.webhook_policy.emit_from", "%q is not in regions (%s)%s", w.EmitFrom, quoteList(p.Regions), didYouMean(w.EmitFrom, p.Regions))
	case w.EmitFrom == p.Evacuate:
		es.add("$.webhook_policy.emit_from", "webhooks cannot come from %q: it is the region being evacuated; emit from a survivor (%s)", w.EmitFrom, quoteList(p.Survivors()))
	}
	if _, err := ParseDedupeKey(w.DedupeKey); err != nil {
		es.add("$.webhook_policy.dedupe_key", "%v", err)
	}
}

func (p *Plan) validateReturn(es *Errors) {
	ws := p.ReturnToHome.GradualWeights
	const path = "$.return_to_home.gradual_weights"
	if len(ws) == 0 {
		es.add(path, "needs at least one weight step, ending at 100")
		return
	}
	for i, w := range ws {
		if w <= 0 || w > 100 {
			es.add(index(path, i), "weight step must be in (0, 100], got %d", w)
		} else if i > 0 && w <= ws[i-1] {
			es.add(index(path, i), "weights must rise strictly: %d follows %d", w, ws[i-1])
		}
	}
	if last := ws[len(ws)-1]; last != 100 {
		es.add(path, "last step must be 100 so the home region gets its full weight back; it is %d", last)
	}
}

func (p *Plan) validateDrills(es *Errors) {
	var spell []string
	for _, d := range Drills() {
		spell = append(spell, d.Letter+"/"+string(d.Kind))
	}
	seen := map[DrillKind]bool{}
	for i, d := range p.Drills {
		info, ok := LookupDrill(string(d))
		if !ok {
			es.add(index("$.drills", i), "unknown drill %q; use a letter or a name: %s", d, strings.Join(spell, ", "))
			continue
		}
		if seen[info.Kind] {
			es.add(index("$.drills", i), "drill %s (%s) is listed twice", info.Letter, info.Kind)
		}
		seen[info.Kind] = true
	}
}

type bound struct {
	path   string
	v      float64
	lo, hi float64
	openLo bool
	unit   string
}

func (p *Plan) validateNumbers(es *Errors) {
	l, ph, t, s := p.Load, p.Phases, p.Thresholds, p.SLO
	for _, b := range []bound{
		{"$.load.rate_rps", l.RateRPS, 1, 20000, false, "requests/s"},
		{"$.load.sessions", float64(l.Sessions), 1, 100000, false, ""},
		{"$.load.write_ratio", l.WriteRatio, 0, 1, false, ""},
		{"$.load.replay_ratio", l.ReplayRatio, 0, 1, false, ""},
		{"$.load.timeout_ms", float64(l.TimeoutMS), 1, 600000, false, "ms"},
		{"$.load.max_retries", float64(l.MaxRetries), 0, 10, false, ""},
		{"$.load.session_s", l.SessionS, 0, 86400, false, "seconds"},
		{"$.phases.baseline_s", ph.BaselineS, 0, 3600, true, "seconds"},
		{"$.phases.hold_s", ph.HoldS, 0, 3600, true, "seconds"},
		{"$.phases.step_hold_s", ph.StepHoldS, 0, 3600, true, "seconds"},
		{"$.phases.drain_timeout_s", ph.DrainTimeoutS, 0, 3600, true, "seconds"},
		{"$.phases.probe_rounds", float64(ph.ProbeRounds), 1, 100, false, ""},
		{"$.thresholds.cutover_s", t.CutoverS, 0, 3600, true, "seconds"},
		{"$.thresholds.max_5xx_burst_s", t.Max5xxBurstS, 0, 3600, false, "seconds"},
		{"$.thresholds.p95_vs_baseline", t.P95VsBaseline, 0, 10, true, "(ratio, 0.25 = +25%)"},
		{"$.thresholds.backlog_drain_s", t.BacklogDrainS, 0, 86400, true, "seconds"},
		{"$.thresholds.delta_s", t.DeltaS, 0, 1, true, ""},
		{"$.thresholds.delta_s_drift", t.DeltaSDrift, 0, 1, false, ""},
		{"$.thresholds.queue_backlog_max", float64(t.QueueBacklogMax), 0, 1e9, false, "messages"},
		{"$.thresholds.error_rate_max", t.ErrorRateMax, 0, 1, false, ""},
		{"$.slo.availability", s.Availability, 0, 1, true, ""},
		{"$.slo.latency_ms", s.LatencyMS, 0, 600000, true, "ms"},
		{"$.slo.latency_objective", s.LatencyObjective, 0, 1, true, ""},
	} {
		ok := b.v <= b.hi && (b.v > b.lo || !b.openLo && b.v >= b.lo)
		if !ok {
			open := "["
			if b.openLo {
				open = "("
			}
			unit := ""
			if b.unit != "" {
				unit = " " + b.unit
			}
			es.add(b.path, "must be in %s%v, %v]%s, got %v", open, b.lo, b.hi, unit, b.v)
		}
	}
}

func (p *Plan) validateStops(es *Errors) {
	for i, c := range p.StopConditions {
		base := index("$.stop_conditions", i)
		if !StopMetrics.Known(c.Metric) {
			es.add(base+".metric", "%s", StopMetrics.unknown("metric", c.Metric))
		}
		if math.IsNaN(c.Above) || math.IsInf(c.Above, 0) {
			es.add(base+".above", "must be a finite number")
		}
		if !inRange(c.ForS, 0, 86400) {
			es.add(base+".for_s", "must be between 0 and 86400 seconds, got %v", c.ForS)
		}
		switch c.Metric {
		case StopPrometheus:
			if strings.TrimSpace(c.Query) == "" {
				es.add(base+".query", "metric \"prometheus\" needs a PromQL query")
			}
			if c.URL == "" && (p.Targets == nil || p.Targets.Prometheus.URL == "") {
				es.add(base+".url", "metric \"prometheus\" needs url here or targets.prometheus.url")
			}
		case StopHTTP:
			if c.URL == "" {
				es.add(base+".url", "metric \"http\" needs a url to GET")
			}
		default:
			if c.Query != "" {
				es.add(base+".query", "query only applies to metric \"prometheus\"")
			}
		}
		if c.URL != "" {
			checkURL(es, base+".url", c.URL, "http", "https")
		}
	}
}

func (p *Plan) validateLab(es *Errors) {
	l := p.Lab
	ms := Misconfigurations.Names()
	seen := map[Misconfiguration]bool{}
	for i, m := range l.Misconfigure {
		path := index("$.lab.misconfigure", i)
		if !slices.Contains(ms, string(m)) {
			es.add(path, "unknown misconfiguration %q%s; known: %s", m, didYouMean(string(m), ms), strings.Join(ms, ", "))
			continue
		}
		if seen[m] {
			es.add(path, "misconfiguration %q is listed twice", m)
		}
		seen[m] = true
	}
	if strings.TrimSpace(l.SkewAnalyzer) == "" {
		es.add("$.lab.skew_analyzer", "must name an analyzer (default \"simple\")")
	}
	e := l.Embedder
	if !EmbedderKinds.Known(e.Kind) {
		es.add("$.lab.embedder.kind", "%s", EmbedderKinds.unknown("embedder", e.Kind))
	}
	if e.Kind == EmbedderOpenAI {
		if e.URL == "" {
			es.add("$.lab.embedder.url", "embedder \"openai\" needs the API's base url")
		}
		if e.Model == "" {
			es.add("$.lab.embedder.model", "embedder \"openai\" needs a model name")
		}
	}
	if e.URL != "" {
		checkURL(es, "$.lab.embedder.url", e.URL, "http", "https")
	}
	if l.NATSURL != "" {
		checkURL(es, "$.lab.nats_url", l.NATSURL, "nats", "tls", "ws", "wss")
	}
	checkNATS(es, "$.lab", l.NATSURL, l.NATSAuth)
}

// checkNATS refuses a password written into a NATS URL (the plan is
// journaled and shared) and credentials that mix methods or have no server.
func checkNATS(es *Errors, path, rawURL string, a NATSAuth) {
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			es.add(path+".nats_url", "holds a password; plans are journaled: set nats_auth.user and the password in $%s", DefaultNATSPasswordEnv)
		}
	}
	methods := 0
	for _, set := range []bool{a.User != "", a.CredsFile != "", a.NKeyFile != ""} {
		if set {
			methods++
		}
	}
	if methods > 1 {
		es.add(path+".nats_auth", "set one of user, creds_file or nkey_file")
	}
	if methods > 0 && rawURL == "" {
		es.add(path+".nats_auth", "credentials without a nats_url")
	}
	if a.PasswordEnv != "" && a.User == "" {
		es.add(path+".nats_auth.password_env", "a password without a user")
	}
}

func (p *Plan) validateTargets(es *Errors) {
	t := p.Targets
	if t == nil {
		return
	}
	if len(t.Regions) == 0 {
		es.add("$.targets.regions", "required: one entry per region (%s)", quoteList(p.Regions))
	}
	for _, r := range p.Regions {
		if _, ok := t.Regions[r]; !ok && len(t.Regions) > 0 {
			es.add("$.targets.regions", "missing an entry for region %q", r)
		}
	}
	for _, k := range sortedKeys(t.Regions) {
		path := child("$.targets.regions", k)
		if !slices.Contains(p.Regions, k) {
			es.add(path, "%q is not in regions (%s)%s", k, quoteList(p.Regions), didYouMean(k, p.Regions))
		}
		if t.Regions[k].BaseURL == "" {
			es.add(path+".base_url", "required: the region's http(s) base URL")
		} else {
			checkURL(es, path+".base_url", t.Regions[k].BaseURL, "http", "https")
		}
	}
	r := t.Router
	switch r.Kind {
	case RouterLab:
		if r.Address == "" {
			es.add("$.targets.router.address", "router \"lab\" needs the edge's host:port")
		}
	case RouterHAProxy:
		if r.Socket == "" && r.Address == "" {
			es.add("$.targets.router", "router \"haproxy\" needs socket or address of the runtime API")
		}
		if r.Backend == "" {
			es.add("$.targets.router.backend", "router \"haproxy\" needs the backend name")
		}
		if r.LockMap == "" && !r.NoLock {
			es.add("$.targets.router.lock_map", "router \"haproxy\" needs a drill lock: name a map declared in HAProxy's configuration (docs/ADOPTING.md), or set no_lock: true to run without one")
		}
	case RouterCommand:
		if len(r.SetWeight) == 0 {
			es.add("$.targets.router.set_weight", "router \"command\" needs the argv that sets a weight")
		}
		if len(r.Lock) == 0 && !r.NoLock {
			es.add("$.targets.router.lock", "router \"command\" needs a drill lock: the argv that takes it ({owner}, {lease_s}), or set no_lock: true to run without one")
		}
	default:
		es.add("$.targets.router.kind", "%s", RouterKinds.unknown("router", r.Kind))
	}
	if t.Prometheus.URL != "" {
		checkURL(es, "$.targets.prometheus.url", t.Prometheus.URL, "http", "https")
	}
	if t.Faults != "" {
		checkURL(es, "$.targets.faults", t.Faults, "http", "https")
	}
	switch q := t.Queue; q.Kind {
	case "contract":
	case "jetstream":
		if q.NATSURL == "" {
			es.add("$.targets.queue.nats_url", "queue \"jetstream\" needs the NATS URL")
		}
		checkNATS(es, "$.targets.queue", q.NATSURL, q.NATSAuth)
		for _, r := range p.Regions {
			if q.Streams[r] == "" {
				es.add("$.targets.queue.streams", "no stream named for region %q", r)
			}
		}
	case "prometheus":
		if q.Query == "" {
			es.add("$.targets.queue.query", "queue \"prometheus\" needs a PromQL query with {region}")
		}
		if t.Prometheus.URL == "" {
			es.add("$.targets.prometheus.url", "queue \"prometheus\" needs targets.prometheus.url")
		}
	default:
		es.add("$.targets.queue.kind", "unknown queue source %q; use contract, jetstream or prometheus", q.Kind)
	}
	if t.Entry != "" {
		checkURL(es, "$.targets.entry", t.Entry, "http", "https")
	} else if r.Kind != RouterLab {
		es.add("$.targets.entry", "router %q needs entry: the URL clients send traffic to", r.Kind)
	}
	if t.Sink != "" {
		checkURL(es, "$.targets.sink", t.Sink, "http", "https")
	}
	for i, d := range p.DrillList() {
		if info, _ := LookupDrill(string(d)); info.Faults != "" && t.Faults == "" {
			es.add(index("$.drills", i), "drill %s %s: set $.targets.faults to a fault control API", info.Letter, info.Faults)
		}
	}
	p.validateWaive(es)
}

// validateWaive: a drill that needs an observation the targets lack is
// refused at that target's path, unless the plan waives it on purpose.
func (p *Plan) validateWaive(es *Errors) {
	t := p.Targets
	for i, w := range t.Waive {
		path := index("$.targets.waive", i)
		switch {
		case !Waivers.Known(w):
			es.add(path, "%s", Waivers.unknown("waiver", w))
		case w == WaiveSink && t.Sink != "":
			es.add(path, "waives the sink but $.targets.sink is set; drop one of them")
		}
	}
	if t.Sink != "" || p.Waives(WaiveSink) {
		return
	}
	for _, d := range p.DrillList() {
		if info, _ := LookupDrill(string(d)); info.Sink != "" {
			es.add("$.targets.sink", "drill %s %s: set it to the webhook sink's base URL, or add \"sink\" to $.targets.waive (%s's webhook targets are then inconclusive and the run exits 1)",
				info.Letter, info.Sink, info.Letter)
			return
		}
	}
}

func checkURL(es *Errors, path, raw string, schemes ...string) {
	u, err := url.Parse(raw)
	if err != nil {
		es.add(path, "not a URL: %v", err)
		return
	}
	if !slices.Contains(schemes, u.Scheme) || u.Host == "" {
		es.add(path, "%q must be an absolute %s URL with a host", raw, strings.Join(schemes, "/"))
	}
}

func inRange(v, lo, hi float64) bool { return v >= lo && v <= hi }

func names(cs []CheckName) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (p *Plan) validateHooks(es *Errors) {
	for i, h := range p.Hooks {
		base := index("$.hooks", i)
		if _, ok := HookSteps[h.Step]; !ok {
			es.add(base+".step", "unknown step %q; use pre-checks, evacuate, promote, observe, verify, return, closeout or 1-7", h.Step)
		}
		if h.When != "before" && h.When != "after" {
			es.add(base+".when", "must be before or after, got %q", h.When)
		}
		if len(h.Run) == 0 || strings.TrimSpace(h.Run[0]) == "" {
			es.add(base+".run", "required: the command's argv, e.g. [\"/usr/local/bin/drain\", \"us-east\"]")
		}
		if len(h.Undo) > 0 && strings.TrimSpace(h.Undo[0]) == "" {
			es.add(base+".undo", "the undo's program is empty")
		}
		for j, d := range h.Drills {
			if _, ok := LookupDrill(d); !ok {
				es.add(index(base+".drills", j), "unknown drill %q; use a letter", d)
			}
		}
		if !inRange(h.TimeoutS, 0.1, 3600) {
			es.add(base+".timeout_s", "must be 0.1..3600 seconds, got %v", h.TimeoutS)
		}
		for j, name := range h.Env {
			if name == "" || strings.ContainsAny(name, "=\x00") {
				es.add(index(base+".env", j), "not an environment variable name: %q", name)
			}
		}
	}
}
