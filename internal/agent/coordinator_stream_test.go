package agent

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// streamCoordinator is a coordinator on url, with only what createStream
// needs, and a deadline for setup.
func streamCoordinator(t *testing.T, url, run string) (*Coordinator, context.Context) {
	t.Helper()
	js := jetStream(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &Coordinator{js: js, run: run, log: slog.New(slog.DiscardHandler)}, ctx
}

// TestCreateStreamWaitsForTheCluster starts the run's stream on a three-node
// cluster whose other two nodes come up seconds after the coordinator asks:
// a cluster still electing its JetStream leader (CI saw one take the whole
// setup time). The coordinator must keep asking, each request bounded, and
// get the replicated stream once the cluster answers, not a single-replica
// one and not a deadline.
func TestCreateStreamWaitsForTheCluster(t *testing.T) {
	var routes []string
	ports := make([]int, 3)
	for i := range ports {
		ports[i] = freePort(t)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	node := func(i int) *server.Server {
		return natsServer(t, &server.Options{ServerName: fmt.Sprintf("n%d", i+1),
			Cluster: server.ClusterOpts{Name: "rd", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(routes[0] + "," + routes[1] + "," + routes[2])})
	}
	c, ctx := streamCoordinator(t, node(0).ClientURL(), "rstreamtest")
	done := make(chan error, 1)
	go func() { done <- c.createStream(ctx) }()
	time.Sleep(3 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("created before the cluster could hold it: %v", err)
	default:
	}
	node(1)
	node(2)
	start := time.Now()
	if err := <-done; err != nil {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
	t.Logf("created %v after the cluster was whole", time.Since(start))
	info, err := c.js.Stream(ctx, StreamName(c.run))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().Config.Replicas; got != 3 {
		t.Errorf("replicas %d, want 3: a three-node cluster holds the run's records on all three", got)
	}
}

// TestCreateStreamOnOneServer: a server without a cluster refuses three
// replicas for good; the run's stream has one.
func TestCreateStreamOnOneServer(t *testing.T) {
	c, ctx := streamCoordinator(t, natsServer(t, nil).ClientURL(), "ronetest")
	if err := c.createStream(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := c.js.Stream(ctx, StreamName(c.run))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().Config.Replicas; got != 1 {
		t.Errorf("replicas %d, want 1", got)
	}
}
