package groups

import "fmt"

// The broker reports each grouped message's life to the Map, so that the Map
// knows which groups are idle (and may be forgotten) and which have messages
// in flight (and must not change owner):
//
//	enqueue      -> Hold        (pending)
//	dispatch     -> Dispatched  (pending -> in flight)
//	nack, owner gone, redelivery -> Returned (in flight -> pending)
//	ack, or expired/dead-lettered after dispatch -> Release
//	expired/purged/moved before dispatch         -> Discard
//
// Reporting a transition the group has no message for is a broker bug, and
// panics, as sync.WaitGroup does for a negative counter: silently clamping
// would let a group be forgotten while it still has messages.

// Hold records that a message of group entered the queue.
func (m *Map) Hold(group string) {
	e := m.lookupOrAdd(group)
	e.pending++
	m.settle(e)
}

// Dispatched records that one pending message of group was delivered to a
// consumer and now awaits its acknowledgement.
func (m *Map) Dispatched(group string) {
	e := m.mustHave(group, "Dispatched", true)
	e.pending--
	e.inFlight++
}

// Returned records that an in-flight message of group came back to the queue
// unacknowledged (a nack to be redelivered, or its consumer went away).
func (m *Map) Returned(group string) {
	e := m.mustHave(group, "Returned", false)
	e.inFlight--
	e.pending++
	m.finishDrain(e)
	m.settle(e)
}

// Release records that an in-flight message of group left the queue for good:
// acknowledged, or expired or dead-lettered after dispatch.
func (m *Map) Release(group string) {
	e := m.mustHave(group, "Release", false)
	e.inFlight--
	m.finishDrain(e)
	m.settle(e)
}

// Discard records that a pending message of group left the queue without
// being dispatched: expired, purged or moved.
func (m *Map) Discard(group string) {
	e := m.mustHave(group, "Discard", true)
	e.pending--
	m.settle(e)
}

// finishDrain drops the owner of a draining group whose last in-flight
// message has just settled; the caller settles e afterwards.
func (m *Map) finishDrain(e *entry) {
	if e.draining && e.inFlight == 0 {
		m.unown(e)
	}
}

func (m *Map) mustHave(group, op string, pending bool) *entry {
	e := m.groups[group]
	switch {
	case e == nil:
		panic(fmt.Sprintf("groups: Map.%s(%q): group has no messages", op, group))
	case pending && e.pending == 0:
		panic(fmt.Sprintf("groups: Map.%s(%q): group has no pending message", op, group))
	case !pending && e.inFlight == 0:
		panic(fmt.Sprintf("groups: Map.%s(%q): group has no message in flight", op, group))
	}
	return e
}
