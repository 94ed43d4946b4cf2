package provider

import (
	"container/list"
	"encoding/json"
	"sync"
)

// clientCache keeps the most recently used clients, keyed by everything in a Mount's
// parameters except its objects and the driver's token: one client (one Vault token) per pod
// and SecretProviderClass configuration. A size ≤ 0 disables it.
type clientCache struct {
	mu      sync.Mutex
	size    int
	order   *list.List
	entries map[string]*list.Element
}

type cacheEntry struct {
	key    string
	client *Client
}

func newClientCache(size int) *clientCache {
	return &clientCache{size: size, order: list.New(), entries: map[string]*list.Element{}}
}

func (c *clientCache) get(p Parameters, create func() (*Client, error)) (*Client, error) {
	if c.size <= 0 {
		return create()
	}
	p.Secrets, p.ServiceAccountToken = nil, ""
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	key := string(raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cacheEntry).client, nil
	}
	client, err := create()
	if err != nil {
		return nil, err
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, client: client})
	if c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
	return client, nil
}

func (c *clientCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
