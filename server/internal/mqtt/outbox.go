package mqtt

import (
	"sync"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/server/internal/broker"
)

// outbox is a connection's queue of things to write, filled by the reader
// goroutine and by broker callbacks (deliveries, store completions) and
// drained by the writer goroutine. push never blocks: what it holds is
// bounded by the subscriptions' prefetch and by the client's own packets.
type outbox struct {
	mu     sync.Mutex
	items  []outItem
	closed bool
	signal chan struct{} // capacity 1: "there is something to look at"
}

// outItem is one thing to write: a control packet as is, a PUBLISH built by
// the connector (retained messages), or a broker delivery.
type outItem struct {
	pkt packets.ControlPacket
	pub *packets.PublishPacket // QoS > 0 needs a packet id at write time
	d   *broker.Delivery
	sub *subscription
}

func newOutbox() *outbox { return &outbox{signal: make(chan struct{}, 1)} }

// push queues it; after close it is dropped (an undelivered delivery stays
// unacked, so the broker redelivers it).
func (o *outbox) push(it outItem) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.items = append(o.items, it)
	o.mu.Unlock()
	o.kick()
}

// kick wakes the writer without adding anything (packet ids were freed).
func (o *outbox) kick() {
	select {
	case o.signal <- struct{}{}:
	default:
	}
}

// take returns everything queued; the previous batch's slice is reused.
func (o *outbox) take(prev []outItem) []outItem {
	clear(prev)
	o.mu.Lock()
	items := o.items
	o.items = prev[:0]
	o.mu.Unlock()
	return items
}

func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.items = nil
	o.mu.Unlock()
}
