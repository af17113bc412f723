package broker

// entry is one message held by one queue (a real queue, or a topic
// subscription's private queue). It is pending (in the priority lists),
// in flight at exactly one consumer, or gone.
type entry struct {
	msg         *Message
	deliveries  int  // times dispatched
	persisted   bool // a store key exists for it under its queue
	recovered   bool // loaded from the store at startup: may have been delivered before
	firstForCon bool

	// owner cache for grouped messages: valid while the group map's
	// Version equals ownerVer
	owner    *Consumer
	ownerVer uint64

	// pending-list links: in the queue's shared priority lists, or, when
	// assignee is set, in that consumer's list of its groups' messages
	prev, next *entry
	pending    bool
	assignee   *Consumer

	// links in its group's list of shared pending messages
	gprev, gnext *entry

	// consumer in-flight list links, while dispatched
	consumer     *Consumer
	cprev, cnext *entry
}

// plist is an intrusive FIFO ordered by message seq.
type plist struct{ head, tail *entry }

func (l *plist) pushBack(e *entry) {
	e.prev, e.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
}

// insertOrdered puts e at its seq position: new messages (the largest seq)
// go straight to the tail; redeliveries carry old seqs, so the walk from
// the head is short.
func (l *plist) insertOrdered(e *entry) {
	if l.tail == nil || l.tail.msg.seq < e.msg.seq {
		l.pushBack(e)
		return
	}
	at := l.head
	for at != nil && at.msg.seq < e.msg.seq {
		at = at.next
	}
	if at == nil {
		l.pushBack(e)
		return
	}
	e.next = at
	e.prev = at.prev
	if at.prev != nil {
		at.prev.next = e
	} else {
		l.head = e
	}
	at.prev = e
}

func (l *plist) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// clist is a consumer's in-flight list, in dispatch order.
type clist struct {
	head, tail *entry
	n          int
}

func (l *clist) pushBack(e *entry) {
	e.cprev, e.cnext = l.tail, nil
	if l.tail != nil {
		l.tail.cnext = e
	} else {
		l.head = e
	}
	l.tail = e
	l.n++
}

func (l *clist) remove(e *entry) {
	if e.cprev != nil {
		e.cprev.cnext = e.cnext
	} else {
		l.head = e.cnext
	}
	if e.cnext != nil {
		e.cnext.cprev = e.cprev
	} else {
		l.tail = e.cprev
	}
	e.cprev, e.cnext = nil, nil
	l.n--
}

// glist is one group's shared pending messages, in seq order.
type glist struct {
	head, tail *entry
	n          int
}

func (l *glist) insertOrdered(e *entry) {
	l.n++
	if l.tail == nil || l.tail.msg.seq < e.msg.seq {
		e.gprev, e.gnext = l.tail, nil
		if l.tail != nil {
			l.tail.gnext = e
		} else {
			l.head = e
		}
		l.tail = e
		return
	}
	at := l.head
	for at != nil && at.msg.seq < e.msg.seq {
		at = at.gnext
	}
	e.gnext, e.gprev = at, at.gprev
	if at.gprev != nil {
		at.gprev.gnext = e
	} else {
		l.head = e
	}
	at.gprev = e
}

func (l *glist) remove(e *entry) {
	l.n--
	if e.gprev != nil {
		e.gprev.gnext = e.gnext
	} else {
		l.head = e.gnext
	}
	if e.gnext != nil {
		e.gnext.gprev = e.gprev
	} else {
		l.tail = e.gprev
	}
	e.gprev, e.gnext = nil, nil
}
