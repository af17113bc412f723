package groups

// Invariants of Map (every method keeps them):
//
//  1. A group is in m.groups iff it has an owner or has messages
//     (pending+inFlight > 0). An entry with neither carries no information
//     and is deleted at once.
//  2. A group is in m.idle iff it has an owner and no messages. Only those
//     groups may be forgotten, so forgetting never breaks a group's order.
//  3. m.idle.len() <= m.maxIdle after every method returns.
//  4. A group is in m.consumers[c] iff its owner is c; a consumer's list is
//     deleted when it becomes empty, so Count is the list's length.
//  5. draining implies owned and inFlight > 0: the owner is dropped the
//     moment the last in-flight message is settled.

// DefaultMaxIdle is the number of idle groups a Map remembers when NewMap is
// given a cap <= 0.
const DefaultMaxIdle = 65536

// Map is one queue's message-group ownership table, driven by the broker's
// dispatcher. It is not safe for concurrent use: the broker calls it under the
// queue's own lock. Route, Owner and the message-lifecycle calls (Hold through
// Discard) never allocate for a group the Map already tracks.
//
// Semantics, where they differ from ActiveMQ Classic on purpose:
//
//   - Ownership moves only while nothing of the group is in flight. A
//     message with JMSXGroupSeq 1 re-assigns its group only when the group has
//     no unacknowledged message at its owner; otherwise it is an ordinary
//     message of the group. (ActiveMQ re-assigns unconditionally, which lets
//     two consumers work on one live group at once.)
//   - Closing a group (a negative JMSXGroupSeq, see Close) and a rebalance
//     (Reset) drop the owner once the group's in-flight messages are
//     settled; until then Route answers Wait for the group's next messages.
//   - Memory is bounded without losing order: the Map counts each group's
//     pending and in-flight messages (Hold, Dispatched, Returned, Release,
//     Discard). A group with messages is never forgotten; only idle groups
//     are, least recently used first, beyond the cap given to NewMap. So the
//     Map holds at most (messages in the queue) + maxIdle groups. (ActiveMQ's
//     default keeps 1024 groups and silently re-assigns the oldest live
//     ones, AMQ-6851.)
//   - A consumer that goes away loses all its groups at once
//     (RemoveConsumer), as in ActiveMQ.
//
// The empty string is an ordinary key to the Map; deciding which messages are
// grouped is the caller's business.
type Map struct {
	groups    map[string]*entry
	consumers map[uint64]*dlist[entry]
	idle      dlist[entry]
	maxIdle   int
	version   uint64 // bumped whenever any group's owner changes
}

type entry struct {
	name     string
	owner    uint64
	owned    bool
	draining bool
	pending  int // in the queue, not dispatched
	inFlight int // dispatched, not yet acknowledged
	idle     links[entry]
	byOwner  links[entry]
}

func idleLinks(e *entry) *links[entry]  { return &e.idle }
func ownerLinks(e *entry) *links[entry] { return &e.byOwner }

// NewMap returns an empty Map that remembers at most maxIdle idle groups
// (DefaultMaxIdle when maxIdle <= 0).
func NewMap(maxIdle int) *Map {
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdle
	}
	return &Map{
		groups:    make(map[string]*entry),
		consumers: make(map[uint64]*dlist[entry]),
		idle:      newDlist(idleLinks),
		maxIdle:   maxIdle,
	}
}

// Decision tells the broker what to do with a grouped message.
type Decision int

const (
	// ToOwner: deliver the message to the consumer returned with it.
	ToOwner Decision = iota
	// NeedOwner: pick a consumer (ChooseOwner), Assign the group to it and
	// deliver there.
	NeedOwner
	// Wait: leave the message pending; the group is waiting for its
	// in-flight messages to settle before it changes owner.
	Wait
)

// String returns the constant's name.
func (d Decision) String() string {
	switch d {
	case ToOwner:
		return "ToOwner"
	case NeedOwner:
		return "NeedOwner"
	case Wait:
		return "Wait"
	}
	return "Decision(?)"
}

// Route decides where the next message of group goes; seq is its
// JMSXGroupSeq (0 when unset). A message with seq 1 gets NeedOwner only when
// the group has nothing in flight; otherwise it follows the current owner.
func (m *Map) Route(group string, seq int) (consumer uint64, d Decision) {
	e := m.groups[group]
	switch {
	case e == nil || !e.owned:
		return 0, NeedOwner
	case e.draining:
		return 0, Wait
	case seq == 1 && e.inFlight == 0:
		return 0, NeedOwner
	}
	return e.owner, ToOwner
}

// Owner returns the consumer that owns group, if any. A group that is
// draining (Close, Reset) still reports its owner until it is dropped.
func (m *Map) Owner(group string) (consumer uint64, ok bool) {
	e := m.groups[group]
	if e == nil || !e.owned {
		return 0, false
	}
	return e.owner, true
}

// Assign makes consumer the owner of group, taking it from any previous
// owner, and reports whether the owner changed: when it did, the message
// being dispatched should carry JMSXGroupFirstForConsumer=true.
func (m *Map) Assign(group string, consumer uint64) (newOwner bool) {
	e := m.lookupOrAdd(group)
	e.draining = false
	if e.owned && e.owner == consumer {
		return false
	}
	if e.owned {
		m.unown(e)
	}
	e.owner, e.owned = consumer, true
	m.version++
	l := m.consumers[consumer]
	if l == nil {
		nl := newDlist(ownerLinks)
		l = &nl
		m.consumers[consumer] = l
	}
	l.pushFront(e)
	m.settle(e)
	return true
}

// Close ends group's current ownership, as a negative JMSXGroupSeq asks;
// call it after dispatching that message. The owner is dropped once nothing
// of the group is in flight (normally when the closing message is
// acknowledged); until then Route answers Wait, so the group's next message
// cannot overtake the closing one at another consumer.
func (m *Map) Close(group string) {
	e := m.groups[group]
	if e == nil || !e.owned {
		return
	}
	if e.inFlight > 0 {
		e.draining = true
		return
	}
	m.unown(e)
	m.settle(e)
}

// RemoveConsumer drops every group that consumer owns and returns their
// names; call it when the consumer closes or its connection dies. The broker
// must then put the consumer's unacknowledged messages back (Returned, in
// their original order) before dispatching again; the next message of each
// group gets NeedOwner.
func (m *Map) RemoveConsumer(consumer uint64) []string {
	l := m.consumers[consumer]
	if l == nil {
		return nil
	}
	names := make([]string, 0, l.len())
	for e := l.front(); e != nil; {
		next := l.next(e)
		names = append(names, e.name)
		m.unown(e)
		m.settle(e)
		e = next
	}
	return names
}

// Reset forgets all ownership, for an administrative rebalance: each group's
// owner is chosen afresh for its next message. Messages already in flight
// stay with the consumers that have them; a group with such messages keeps
// its owner until they settle, and Route answers Wait for it meanwhile, so a
// rebalance never breaks a group's order.
func (m *Map) Reset() {
	for _, l := range m.consumers {
		for e := l.front(); e != nil; {
			next := l.next(e)
			if e.inFlight > 0 {
				e.draining = true
			} else {
				m.unown(e)
				m.settle(e)
			}
			e = next
		}
	}
}

// Count returns the number of groups consumer owns.
func (m *Map) Count(consumer uint64) int {
	if l := m.consumers[consumer]; l != nil {
		return l.len()
	}
	return 0
}

// Len returns the number of groups the Map tracks: those with an owner plus
// those with messages.
func (m *Map) Len() int { return len(m.groups) }

// IdleLen returns the number of idle groups remembered (owned, no messages).
func (m *Map) IdleLen() int { return m.idle.len() }

func (m *Map) lookupOrAdd(group string) *entry {
	e := m.groups[group]
	if e == nil {
		e = &entry{name: group}
		m.groups[group] = e
	}
	return e
}

// unown detaches e from its owner; the caller settles e afterwards.
func (m *Map) unown(e *entry) {
	l := m.consumers[e.owner]
	l.remove(e)
	if l.len() == 0 {
		delete(m.consumers, e.owner)
	}
	e.owner, e.owned, e.draining = 0, false, false
	m.version++
}

// Version changes whenever any group's owner changes (assigned, dropped,
// reset, consumer removed). A caller may cache a Route answer for a
// message and reuse it while Version is unchanged, which keeps a dispatch
// scan over a long backlog from re-hashing every group id.
func (m *Map) Version() uint64 { return m.version }

// settle restores invariants 1-3 for e after its counts or owner changed.
func (m *Map) settle(e *entry) {
	switch {
	case e.pending+e.inFlight > 0:
		m.idle.remove(e)
	case !e.owned:
		m.idle.remove(e)
		delete(m.groups, e.name)
	case !m.idle.contains(e):
		m.idle.pushFront(e)
		for m.idle.len() > m.maxIdle {
			old := m.idle.back()
			m.idle.remove(old)
			m.unown(old)
			delete(m.groups, old.name)
		}
	}
}
