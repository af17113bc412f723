package amqp

import (
	"sync"

	"github.com/tethermq/tether/server/internal/broker"
)

// event is something another goroutine tells a connection's loop: a
// delivery from the broker, a finished send, or that a newer connection
// took over the client id.
type event struct {
	link     *senderLink
	delivery *broker.Delivery
	sent     *sendReq
	err      error
	stolen   bool
}

// inbox queues events for the loop. push never blocks, because the broker
// calls it with a destination's lock held; its length is bounded by what
// can be outstanding: deliveries by the consumers' prefetch, finished sends
// by the producer credit granted.
type inbox struct {
	mu     sync.Mutex
	events []event
	spare  []event
	wake   chan struct{} // one pending signal at most
}

func newInbox() inbox { return inbox{wake: make(chan struct{}, 1)} }

func (b *inbox) push(ev event) {
	b.mu.Lock()
	b.events = append(b.events, ev)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// take returns every queued event. The slice is valid until the next call.
func (b *inbox) take() []event {
	b.mu.Lock()
	evs := b.events
	// spare is what the previous take returned; the loop is done with it.
	clear(b.spare)
	b.events = b.spare[:0]
	b.spare = evs
	b.mu.Unlock()
	return evs
}
