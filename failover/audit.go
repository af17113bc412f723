package failover

// audit remembers the ids of messages whose ack was sent but never
// confirmed because the connection died. When the broker redelivers one of
// them, the subscription acks it again and drops it instead of handing the
// application a message it already processed. It keeps the newest `size`
// ids; older ones are forgotten first.
//
// Unlike ActiveMQ's audit, a dropped duplicate is acknowledged, never
// poison-acked, so it does not end up in a dead-letter queue.
type audit struct {
	size int
	ids  map[string]struct{}
	ring []string // insertion order, for eviction
	next int
}

func newAudit(size int) *audit {
	return &audit{size: size, ids: make(map[string]struct{})}
}

func (a *audit) add(id string) {
	if id == "" {
		return
	}
	if _, ok := a.ids[id]; ok {
		return
	}
	if len(a.ring) < a.size {
		a.ring = append(a.ring, id)
	} else {
		delete(a.ids, a.ring[a.next])
		a.ring[a.next] = id
		a.next = (a.next + 1) % a.size
	}
	a.ids[id] = struct{}{}
}

func (a *audit) contains(id string) bool {
	_, ok := a.ids[id]
	return ok
}

func (a *audit) len() int { return len(a.ids) }
