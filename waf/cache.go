package waf

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Key returns the policy's canonical form: the JSON of its effective
// policy. Sites whose policies have the same key share one engine.
func Key(p api.WAFPolicy) string {
	b, err := json.Marshal(p.Effective())
	if err != nil {
		// A struct of strings, ints and bools always marshals.
		panic(fmt.Sprintf("waf: marshal policy: %v", err))
	}
	return string(b)
}

// Cache compiles each distinct policy once and shares the engine between
// every site that has it. Prune drops engines no site uses any more.
type Cache struct {
	opts Options

	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	done chan struct{} // closed when e and err are set
	e    *Engine
	err  error
}

// NewCache returns an empty cache compiling with opts.
func NewCache(opts Options) *Cache {
	return &Cache{opts: opts, entries: map[string]*cacheEntry{}}
}

// Get returns the engine for p, compiling it unless another caller already
// has; concurrent callers for the same policy wait for one compilation.
func (c *Cache) Get(p api.WAFPolicy) (*Engine, error) {
	return c.GetKey(Key(p), p)
}

// GetKey is Get with the key already computed.
func (c *Cache) GetKey(key string, p api.WAFPolicy) (*Engine, error) {
	c.mu.Lock()
	ent, ok := c.entries[key]
	if !ok {
		ent = &cacheEntry{done: make(chan struct{})}
		c.entries[key] = ent
	}
	c.mu.Unlock()
	if ok {
		<-ent.done
		return ent.e, ent.err
	}
	ent.e, ent.err = Compile(p, c.opts)
	close(ent.done)
	if ent.err != nil {
		c.mu.Lock()
		delete(c.entries, key) // let a later call retry
		c.mu.Unlock()
	}
	return ent.e, ent.err
}

// Len returns how many engines the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Prune drops engines whose key keep does not report in use. Requests
// still holding a dropped engine finish with it.
func (c *Cache) Prune(keep func(key string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, ent := range c.entries {
		select {
		case <-ent.done:
		default:
			continue // still compiling
		}
		if !keep(k) {
			delete(c.entries, k)
		}
	}
}
