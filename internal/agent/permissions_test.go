package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/regiondrill/regiondrill/internal/agent"
	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
)

// The least-privilege users of docs/AGENTS.md are enough: an agent whose
// user may only speak for its own name (here authenticated by nkey) takes
// a drill and streams its records, and may not heartbeat as another agent.
func TestLeastPrivilegeUsers(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "eu.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	agentPerms := func(name string) *server.Permissions {
		return &server.Permissions{
			Publish: &server.SubjectPermission{Allow: []string{"regiondrill.agent." + name + ".hb", "regiondrill.run.*.data." + name}},
			Subscribe: &server.SubjectPermission{Allow: []string{"regiondrill.agent." + name + ".clock", "regiondrill.agent." + name + ".assign",
				"regiondrill.run.*.lease", "regiondrill.run.*.stop", "_INBOX.>"}},
			Response: &server.ResponsePermission{MaxMsgs: 1},
		}
	}
	s := natsServer(t, &server.Options{
		Nkeys: []*server.NkeyUser{{Nkey: pub, Permissions: agentPerms("eu")}},
		Users: []*server.User{{Username: "coordinator", Password: "c", Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{"regiondrill.>", "$JS.API.>"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"regiondrill.>", "_INBOX.>"}},
		}}},
	})
	startAgent(t, s.ClientURL(), "eu", 0, agent.Auth{NKey: seedFile})
	t.Setenv(agent.EnvUser, "coordinator")
	t.Setenv(agent.EnvPassword, "c")
	p := agentsPlan(t, s.ClientURL(), "", "eu")
	target := newCounter(t)
	co := runCoordinator(t, p, target.srv.URL, 50)
	time.Sleep(1500 * time.Millisecond)
	co.stop()
	if err := <-co.done; err != nil {
		t.Fatal(err)
	}
	ends := notes[event.AgentEnd](t, co.journal, journal.AgentsEnd)
	if len(ends) != 1 || ends[0].Records == 0 || ends[0].Received != ends[0].Records {
		t.Fatalf("the agent's records did not arrive under its permissions: %+v", ends)
	}
	// The same credentials cannot speak for "us": that agent is never heard.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = agent.Run(ctx, agent.Config{URL: s.ClientURL(), Name: "us", Auth: agent.Auth{NKey: seedFile}, Heartbeat: 100 * time.Millisecond})
	}()
	q := agentsPlan(t, s.ClientURL(), `"wait_s": 1,`, "us")
	c, err := agent.Dial(q, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if live, err := c.Prepare(context.Background()); err == nil || len(live) != 0 {
		t.Fatalf("an agent heartbeat as another's name was heard: %v %v", live, err)
	}
}
