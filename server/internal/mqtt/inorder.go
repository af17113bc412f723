package mqtt

import (
	"sync"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// ackQueue releases acknowledgements of inbound packets (PUBACK, PUBREC,
// PUBCOMP) in the order their packets arrived, as MQTT 3.1.1 section 4.6
// requires, although the broker completes stores asynchronously and a
// retained publish completes two stores. A slot is reserved when a packet
// is read and completed later, from any goroutine; completed slots leave
// from the head only. A failed slot stops the queue and closes the
// connection: its acknowledgement must never be sent, and nothing after it
// may overtake it.
type ackQueue struct {
	out    *outbox
	onFail func(error)

	mu     sync.Mutex
	slots  []*ackSlot
	failed bool
}

type ackSlot struct {
	items []outItem
	done  bool
	err   error
}

func newAckQueue(out *outbox, onFail func(error)) *ackQueue {
	return &ackQueue{out: out, onFail: onFail}
}

// reserve takes the next place in line.
func (q *ackQueue) reserve() *ackSlot {
	s := &ackSlot{}
	q.mu.Lock()
	q.slots = append(q.slots, s)
	q.mu.Unlock()
	return s
}

// complete settles s with the packet to send, or with the error that
// forbids sending it, and releases whatever is now at the head.
func (q *ackQueue) complete(s *ackSlot, pkt packets.ControlPacket, err error) {
	q.completeItems(s, []outItem{{pkt: pkt}}, err)
}

// completeItems is complete for several items that leave together (a
// SUBACK and the retained messages that must follow it).
func (q *ackQueue) completeItems(s *ackSlot, items []outItem, err error) {
	q.mu.Lock()
	s.items, s.err, s.done = items, err, true
	var fail error
	for len(q.slots) > 0 && q.slots[0].done && !q.failed {
		head := q.slots[0]
		q.slots[0] = nil
		q.slots = q.slots[1:]
		if head.err != nil {
			q.failed, fail = true, head.err
			break
		}
		for _, it := range head.items {
			q.out.push(it)
		}
	}
	q.mu.Unlock()
	if fail != nil {
		q.onFail(fail)
	}
}

// send queues items behind every reserved slot.
func (q *ackQueue) send(items ...outItem) {
	q.completeItems(q.reserve(), items, nil)
}

// join returns a callback to hand to n asynchronous operations; fn runs once
// with the first error (or nil) when all n have reported.
func join(n int, fn func(error)) func(error) {
	var mu sync.Mutex
	var first error
	return func(err error) {
		mu.Lock()
		if err != nil && first == nil {
			first = err
		}
		n--
		last, res := n == 0, first
		mu.Unlock()
		if last {
			fn(res)
		}
	}
}
