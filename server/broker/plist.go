package broker

// entry is one message held by one queue (a real queue, or a topic
// subscription's private queue). It is pending (in the priority lists),
// in flight at exactly one consumer, or gone.
type entry struct {
	msg         *Message
	deliveries  int  // times dispatched
	persisted   bool // a store key exists for it under its queue
	firstForCon bool

	// priority list links, while pending
	prev, next *entry
	pending    bool

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

// insertOrdered puts e at its seq position. Redeliveries carry old seqs,
// so the walk from the head is short.
func (l *plist) insertOrdered(e *entry) {
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
