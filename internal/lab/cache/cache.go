// Package cache is a region's answer cache, keyed by tenant and question,
// with hit/miss counters and purges that return only once they are complete.
package cache

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// Cache maps "tenant/normalised question" to an answer.
type Cache struct {
	// PurgeNoop makes purges report success and remove nothing (the lab's
	// purge_noop misconfiguration).
	PurgeNoop bool
	// TTL is how long an answer stays fresh; 0 keeps answers until purged.
	TTL time.Duration
	// Clock is the time source for TTLs; default time.Now.
	Clock func() time.Time

	mu      sync.RWMutex
	entries map[string]entry
	hits    atomic.Int64
	misses  atomic.Int64
}

type entry struct {
	v       contract.AskResponse
	expires time.Time // zero: never
}

// New returns an empty cache.
func New() *Cache { return &Cache{entries: map[string]entry{}, Clock: time.Now} }

func (c *Cache) fresh(e entry) bool { return e.expires.IsZero() || c.Clock().Before(e.expires) }

// Key is the cache key of a tenant's question: "tenant/question", with the
// question lower-cased and its white space folded.
func Key(tenant, question string) string {
	return tenant + "/" + strings.Join(strings.Fields(strings.ToLower(question)), " ")
}

// Get returns the cached answer and counts a hit or a miss.
func (c *Cache) Get(tenant, question string) (contract.AskResponse, bool) {
	c.mu.RLock()
	e, ok := c.entries[Key(tenant, question)]
	c.mu.RUnlock()
	ok = ok && c.fresh(e)
	v := e.v
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return v, ok
}

// Has reports whether an entry exists, without counting.
func (c *Cache) Has(tenant, question string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[Key(tenant, question)]
	return ok && c.fresh(e)
}

// Put stores an answer.
func (c *Cache) Put(tenant, question string, v contract.AskResponse) {
	e := entry{v: v}
	if c.TTL > 0 {
		e.expires = c.Clock().Add(c.TTL)
	}
	c.mu.Lock()
	c.entries[Key(tenant, question)] = e
	c.mu.Unlock()
}

// PurgePrefix removes every entry whose key starts with prefix and returns
// how many it removed. It returns after the removal, never before.
func (c *Cache) PurgePrefix(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k := range c.entries {
		if strings.HasPrefix(k, prefix) {
			n++
			if !c.PurgeNoop {
				delete(c.entries, k)
			}
		}
	}
	return n
}

// PurgeTenant removes every entry of one tenant.
func (c *Cache) PurgeTenant(tenant string) int { return c.PurgePrefix(tenant + "/") }

// Stats returns the counters.
func (c *Cache) Stats() contract.CacheStats {
	c.mu.RLock()
	n := 0
	for _, e := range c.entries {
		if c.fresh(e) {
			n++
		}
	}
	c.mu.RUnlock()
	return contract.CacheStats{Entries: n, Hits: c.hits.Load(), Misses: c.misses.Load()}
}
