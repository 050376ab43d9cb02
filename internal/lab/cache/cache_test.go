package cache_test

import (
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/cache"
)

func fill(c *cache.Cache) {
	for _, t := range []string{"t1", "t2", "t10"} {
		for _, q := range []string{"What is A?", "what  is B?", "How does C work?"} {
			c.Put(t, q, contract.AskResponse{Answer: t + q})
		}
	}
}

func TestPurgeTenantRemovesExactlyThatTenant(t *testing.T) {
	c := cache.New()
	fill(c)
	if n := c.PurgeTenant("t1"); n != 3 {
		t.Fatalf("purged %d, want 3", n)
	}
	for _, q := range []string{"What is A?", "what is B?", "How does C work?"} {
		if c.Has("t1", q) {
			t.Fatalf("t1 %q survived the purge", q)
		}
		if !c.Has("t10", q) || !c.Has("t2", q) {
			t.Fatalf("purge of t1 removed another tenant's %q", q)
		}
	}
	if got := c.Stats().Entries; got != 6 {
		t.Fatalf("entries = %d, want 6", got)
	}
}

func TestPurgePrefixAndCounters(t *testing.T) {
	c := cache.New()
	fill(c)
	if n := c.PurgePrefix("t2/what is"); n != 2 {
		t.Fatalf("purged %d, want 2", n)
	}
	if _, ok := c.Get("t2", "WHAT IS A?"); ok {
		t.Fatal("purged entry still served")
	}
	if _, ok := c.Get("t2", "how does c work?"); !ok {
		t.Fatal("entry outside the prefix was purged")
	}
	if s := c.Stats(); s.Hits != 1 || s.Misses != 1 {
		t.Fatalf("counters = %+v", s)
	}
}

func TestPurgeNoopRemovesNothing(t *testing.T) {
	c := cache.New()
	c.PurgeNoop = true
	fill(c)
	if n := c.PurgeTenant("t1"); n != 3 {
		t.Fatalf("noop purge reported %d", n)
	}
	if !c.Has("t1", "What is A?") {
		t.Fatal("noop purge removed an entry")
	}
}

func TestTTLExpiresAnswers(t *testing.T) {
	now := time.Unix(0, 0)
	c := cache.New()
	c.TTL, c.Clock = 10*time.Second, func() time.Time { return now }
	c.Put("t1", "q", contract.AskResponse{Answer: "a"})
	if _, ok := c.Get("t1", "q"); !ok {
		t.Fatal("fresh answer missed")
	}
	now = now.Add(11 * time.Second)
	if _, ok := c.Get("t1", "q"); ok || c.Has("t1", "q") || c.Stats().Entries != 0 {
		t.Fatal("expired answer still served")
	}
}
