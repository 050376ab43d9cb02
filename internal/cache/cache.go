// Package cache is a region's answer cache, keyed by tenant and question,
// with hit/miss counters and purges that return only once they are complete.
package cache

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/regiondrill/regiondrill/internal/contract"
)

// Cache maps "tenant/normalised question" to an answer.
type Cache struct {
	// PurgeNoop makes purges report success and remove nothing (the lab's
	// purge_noop misconfiguration).
	PurgeNoop bool

	mu      sync.RWMutex
	entries map[string]contract.AskResponse
	hits    atomic.Int64
	misses  atomic.Int64
}

// New returns an empty cache.
func New() *Cache { return &Cache{entries: map[string]contract.AskResponse{}} }

// Key is the cache key of a tenant's question: "tenant/question", with the
// question lower-cased and its white space folded.
func Key(tenant, question string) string {
	return tenant + "/" + strings.Join(strings.Fields(strings.ToLower(question)), " ")
}

// Get returns the cached answer and counts a hit or a miss.
func (c *Cache) Get(tenant, question string) (contract.AskResponse, bool) {
	c.mu.RLock()
	v, ok := c.entries[Key(tenant, question)]
	c.mu.RUnlock()
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
	_, ok := c.entries[Key(tenant, question)]
	return ok
}

// Put stores an answer.
func (c *Cache) Put(tenant, question string, v contract.AskResponse) {
	c.mu.Lock()
	c.entries[Key(tenant, question)] = v
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
	n := len(c.entries)
	c.mu.RUnlock()
	return contract.CacheStats{Entries: n, Hits: c.hits.Load(), Misses: c.misses.Load()}
}
