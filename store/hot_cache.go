package store

import (
	"sync"
	"time"
)

// hotCache remembers the answers of the two lookups every authenticated
// request makes, its organization and its principal, so that a burst of
// requests by one caller reads the database once. Any committed write
// empties it: the store cannot tell cheaply which writes change a
// principal (a role, a key, a user, a grant, the organization), and writes
// are rare next to reads. A principal is also forgotten when its key or
// its earliest temporary grant expires, since expiry is decided by the
// clock, not by a write.
//
// A lookup keeps its answer only if no write committed while it read: it
// notes the generation before reading and stores only if it is unchanged,
// and a write bumps the generation after its commit. So a deleted key's
// token stops working once the delete is answered, as without the cache.
// See DECISIONS.md, "Why cache the per-request lookups?".
type hotCache struct {
	mu         sync.Mutex
	gen        uint64
	orgs       resetMap[string, Organization]
	principals resetMap[principalKey, cachedPrincipal]
}

type principalKey struct{ orgID, userID, keyID string }

type cachedPrincipal struct {
	p Principal
	// until is when the answer stops being true without a write: the
	// key's expiry or the earliest unexpired temporary grant's.
	until time.Time
}

// hotCacheSize bounds each map; past it, the map starts over.
const hotCacheSize = 4096

// resetMap is a cache map that starts over once it holds limit entries: a
// bound that needs no bookkeeping, for caches whose misses are cheap.
type resetMap[K comparable, V any] map[K]V

func (m *resetMap[K, V]) put(k K, v V, limit int) {
	if *m == nil || len(*m) >= limit {
		*m = resetMap[K, V]{}
	}
	(*m)[k] = v
}

// generation returns the current generation, to pass to a put.
func (c *hotCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// invalidate forgets everything; a write calls it after committing.
func (c *hotCache) invalidate() {
	c.mu.Lock()
	c.gen++
	c.orgs, c.principals = nil, nil
	c.mu.Unlock()
}

func (c *hotCache) org(id string) (Organization, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.orgs[id]
	return o, ok
}

func (c *hotCache) putOrg(gen uint64, o Organization) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		c.orgs.put(o.ID, o, hotCacheSize)
	}
}

func (c *hotCache) principal(k principalKey, now time.Time) (Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.principals[k]
	if !ok || !now.Before(e.until) {
		return Principal{}, false
	}
	return e.p, true
}

func (c *hotCache) putPrincipal(gen uint64, k principalKey, p Principal, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		c.principals.put(k, cachedPrincipal{p: p, until: until}, hotCacheSize)
	}
}
