package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// loopbackPort is a TCP port free on 127.0.0.1 a moment ago.
func loopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
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
		ports[i] = loopbackPort(t)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	node := func(i int) *server.Server {
		return natsServer(t, &server.Options{ServerName: fmt.Sprintf("n%d", i+1),
			Cluster: server.ClusterOpts{Name: "rd", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(routes[0] + "," + routes[1] + "," + routes[2])})
	}
	first := node(0)
	nc, err := nats.Connect(first.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c := &Coordinator{js: js, run: "rstreamtest", log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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
	info, err := js.Stream(ctx, StreamName(c.run))
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
	s := natsServer(t, nil)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c := &Coordinator{js: js, run: "ronetest", log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.createStream(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := js.Stream(ctx, StreamName(c.run))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().Config.Replicas; got != 1 {
		t.Errorf("replicas %d, want 1", got)
	}
}
