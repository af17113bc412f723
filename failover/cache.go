package failover

import (
	"sync"

	"github.com/tethermq/tether/failover/session"
)

// sendCache is trackMessages' memory: the most recent unconfirmed sends, up
// to maxCacheSize bytes of body, oldest evicted first, re-sent after every
// reconnect. The broker's duplicate detection drops those it already has.
type sendCache struct {
	mu    sync.Mutex
	max   int
	size  int
	items []*session.Outgoing
}

func newSendCache(max int) *sendCache { return &sendCache{max: max} }

func (c *sendCache) add(m *session.Outgoing) {
	n := len(m.Body)
	if n > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = append(c.items, m)
	c.size += n
	for c.size > c.max {
		c.size -= len(c.items[0].Body)
		c.items[0] = nil
		c.items = c.items[1:]
	}
}

func (c *sendCache) snapshot() []*session.Outgoing {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*session.Outgoing(nil), c.items...)
}
