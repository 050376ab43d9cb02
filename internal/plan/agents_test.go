package plan_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/plan"
)

// A plan with agents takes the defaults of the fields it leaves out, and
// survives the round trip through the journal (marshal, strict decode).
func TestAgentsDefaultsAndRoundTrip(t *testing.T) {
	doc := `{"regions": ["us-east", "eu-west"], "evacuate": "us-east",
	 "agents": {"nats_url": "nats://a:4222,nats://b:4222", "token_env": "NATS_TOKEN",
	  "vantage_points": [{"name": "us", "share": 0.25, "entry": "https://us.example.com"}, {"name": "eu", "share": 0.75}]}}`
	p, err := plan.Parse([]byte(doc), "agents.json")
	if err != nil {
		t.Fatal(err)
	}
	a := p.Agents
	if a.MinAgents != 2 || a.Lease() != 5*time.Second || a.Wait() != 15*time.Second || a.HeartbeatLost() != 3*time.Second {
		t.Fatalf("defaults: %+v", a)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := plan.Parse(b, "journal.json")
	if err != nil {
		t.Fatalf("round trip: %v", err)
	}
	if len(q.Agents.VantagePoints) != 2 || q.Agents.VantagePoints[0].Entry != "https://us.example.com" || q.Agents.TokenEnv != "NATS_TOKEN" {
		t.Fatalf("round trip lost fields: %+v", q.Agents)
	}
	if p := mustParse(t, "page-plan.json"); p.Agents != nil {
		t.Fatal("a plan without agents must keep agents nil (load from this process)")
	}
}

// A password written into agents.nats_url is refused: the plan is journaled.
func TestAgentsURLPasswordRefused(t *testing.T) {
	doc := `{"regions": ["us-east", "eu-west"], "evacuate": "us-east",
	 "agents": {"nats_url": "nats://drill:s3cret@127.0.0.1:4222", "vantage_points": [{"name": "us", "share": 1}]}}`
	_, err := plan.Parse([]byte(doc), "agents.json")
	if err == nil || !strings.Contains(err.Error(), "$.agents.nats_url: holds a password") {
		t.Fatalf("a password in agents.nats_url: %v", err)
	}
}
