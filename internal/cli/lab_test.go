package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/cli"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLabStartsThreeRegionsAndStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan int, 1)
	start := time.Now()
	go func() {
		done <- cli.Run(ctx, []string{"lab", "--regions", "us-east,eu-west,ap-south", "--json"}, strings.NewReader(""), &out, io.Discard)
	}()
	var ep struct {
		Edge    string            `json:"edge"`
		Regions map[string]string `json:"regions"`
		Token   string            `json:"token"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s := out.String(); strings.Contains(s, "\n") {
			if err := json.Unmarshal([]byte(s), &ep); err != nil {
				t.Fatalf("endpoints: %v: %q", err, s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lab did not start within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("three-region lab ready in %s", time.Since(start))
	if len(ep.Regions) != 3 || ep.Token == "" || ep.Edge == "" {
		t.Fatalf("endpoints incomplete: %+v", ep)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("lab exited %d after interrupt", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("lab did not stop within 15 s of the interrupt")
	}
	// Nothing listens any more.
	for _, u := range append([]string{ep.Edge}, values(ep.Regions)...) {
		host := strings.TrimPrefix(u, "http://")
		if c, err := net.DialTimeout("tcp", host, 200*time.Millisecond); err == nil {
			c.Close()
			t.Errorf("%s still listens after the lab stopped", host)
		}
	}
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
