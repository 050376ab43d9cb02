package plan

import (
	"math"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Agents sends the drill's load from agent processes in other places
// (`regiondrill agent`) instead of from this process: each vantage point is
// one agent, reached over NATS.
type Agents struct {
	NATSURL       string         `json:"nats_url" required:"true" pattern:"nonblank" doc:"NATS server(s) the coordinator and the agents share; comma-separated nats/tls/ws/wss URLs."`                         // no default
	Creds         string         `json:"creds,omitempty" doc:"NATS credentials file (JWT and nkey seed) of the coordinator."`                                                                                  // default ""
	NKey          string         `json:"nkey,omitempty" doc:"File holding the coordinator's NATS nkey seed."`                                                                                                  // default ""
	TokenEnv      string         `json:"token_env,omitempty" doc:"Environment variable holding the coordinator's NATS token."`                                                                                 // default ""
	TLSCA         string         `json:"tls_ca,omitempty" doc:"PEM file of the CA that signed the NATS servers' certificates; default the system roots."`                                                      // default ""
	VantagePoints []VantagePoint `json:"vantage_points" required:"true" items:"[1,)" doc:"Where the load comes from: one agent per vantage point, shares summing to 1."`                                       // no default
	MinAgents     int            `json:"min_agents,omitempty" range:"[1,)" zero:"default" doc:"Agents that must stay alive; fewer stops the drill. Default every vantage point."`                              // default len(vantage_points)
	LeaseS        float64        `json:"lease_s,omitempty" range:"(0,600]" zero:"default" doc:"Seconds an agent keeps loading without hearing from this coordinator (dead man's switch), (0,600]. Default 5."` // seconds; default 5
	WaitS         float64        `json:"wait_s,omitempty" range:"(0,600]" zero:"default" doc:"Seconds to wait for the agents' heartbeats before the drill, (0,600]. Default 15."`                              // seconds; default 15
	HeartbeatS    float64        `json:"heartbeat_lost_s,omitempty" range:"(0,600]" zero:"default" doc:"Seconds without a heartbeat after which an agent counts as lost, (0,600]. Default 3."`                 // seconds; default 3
}

// VantagePoint is one place clients send traffic from.
type VantagePoint struct {
	Name  string  `json:"name" required:"true" pattern:"agent" not:"local" doc:"The agent's --name."`                                                                           // no default
	Share float64 `json:"share" required:"true" range:"(0,1]" doc:"Share of load.rate_rps and load.sessions this vantage sends, (0,1]; the shares sum to 1."`                   // ratio; no default
	Entry string  `json:"entry,omitempty" pattern:"optional_http_url" doc:"URL this vantage's clients send traffic to; default the drill's entry (targets.entry or the edge)."` // default the drill's entry
}

// LocalVantage is the name of the vantage point of a run without agents:
// the load generator inside the coordinator.
const LocalVantage = "local"

var agentName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)

// ValidAgentName reports whether name can be an agent's --name (one NATS
// subject token).
func ValidAgentName(name string) bool { return agentName.MatchString(name) }

// Lease is agents.lease_s as a duration.
func (a *Agents) Lease() time.Duration { return Seconds(a.LeaseS) }

// Wait is agents.wait_s as a duration.
func (a *Agents) Wait() time.Duration { return Seconds(a.WaitS) }

// HeartbeatLost is agents.heartbeat_lost_s as a duration.
func (a *Agents) HeartbeatLost() time.Duration { return Seconds(a.HeartbeatS) }

func (a *Agents) fillDefaults() {
	if a.MinAgents == 0 {
		a.MinAgents = len(a.VantagePoints)
	}
	if a.LeaseS == 0 {
		a.LeaseS = 5
	}
	if a.WaitS == 0 {
		a.WaitS = 15
	}
	if a.HeartbeatS == 0 {
		a.HeartbeatS = 3
	}
}

func (p *Plan) validateAgents(es *Errors) {
	a := p.Agents
	if a == nil {
		return
	}
	if strings.TrimSpace(a.NATSURL) == "" {
		es.add("$.agents.nats_url", "required: the NATS server the agents connect to")
	}
	for _, u := range strings.Split(a.NATSURL, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		checkURL(es, "$.agents.nats_url", u, "nats", "tls", "ws", "wss")
		if pu, err := url.Parse(u); err == nil && pu.User != nil {
			if _, has := pu.User.Password(); has {
				es.add("$.agents.nats_url", "holds a password; plans are journaled: set REGIONDRILL_NATS_USER and %s in the environment", DefaultNATSPasswordEnv)
			}
		}
	}
	set := 0
	for _, s := range []string{a.Creds, a.NKey, a.TokenEnv} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		es.add("$.agents", "set at most one of creds, nkey and token_env")
	}
	if len(a.VantagePoints) == 0 {
		es.add("$.agents.vantage_points", "required: at least one vantage point (one agent each)")
	}
	seen := map[string]bool{}
	sum := 0.0
	for i, v := range a.VantagePoints {
		base := index("$.agents.vantage_points", i)
		switch {
		case !ValidAgentName(v.Name):
			es.add(base+".name", "agent name %q must be letters, digits, '-' and '_', start with a letter or digit, at most 63 characters", v.Name)
		case v.Name == LocalVantage:
			es.add(base+".name", "%q names the coordinator's own generator; give the agent another name", v.Name)
		case seen[v.Name]:
			es.add(base+".name", "vantage point %q is listed twice", v.Name)
		}
		seen[v.Name] = true
		if !(v.Share > 0 && v.Share <= 1) {
			es.add(base+".share", "must be in (0, 1], got %v", v.Share)
		}
		sum += v.Share
		if v.Entry != "" {
			checkURL(es, base+".entry", v.Entry, "http", "https")
		}
	}
	if len(a.VantagePoints) > 0 && math.Abs(sum-1) > 1e-6 {
		es.add("$.agents.vantage_points", "shares must sum to 1, they sum to %v", math.Round(sum*1e6)/1e6)
	}
	if a.MinAgents < 1 || a.MinAgents > max(1, len(a.VantagePoints)) {
		es.add("$.agents.min_agents", "must be between 1 and the number of vantage points (%d), got %d", len(a.VantagePoints), a.MinAgents)
	}
	for _, b := range []bound{
		{"$.agents.lease_s", a.LeaseS, 0, 600, true, "seconds"},
		{"$.agents.wait_s", a.WaitS, 0, 600, true, "seconds"},
		{"$.agents.heartbeat_lost_s", a.HeartbeatS, 0, 600, true, "seconds"},
	} {
		if !(b.v > b.lo && b.v <= b.hi) {
			es.add(b.path, "must be in (%v, %v] %s, got %v", b.lo, b.hi, b.unit, b.v)
		}
	}
}
