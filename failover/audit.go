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

// sendIDs remembers, for the newest `size` deliveries that carried a
// producer's duplicate id (_AMQ_DUPL_ID), which broker message carried it.
// A later delivery with the same duplicate id but another message id is one
// send stored twice: a producer re-sent it after a failover to a broker
// without duplicate detection (ActiveMQ Classic over STOMP). The
// subscription acks it and drops it, so the application sees the send
// once. A redelivery of the same message keeps its message id and is not
// affected.
type sendIDs struct {
	size int
	msg  map[string]string // duplicate id -> message id
	ring []string
	next int
}

func newSendIDs(size int) *sendIDs {
	return &sendIDs{size: size, msg: make(map[string]string)}
}

// seen records dupID for msgID and reports whether another message already
// carried it.
func (w *sendIDs) seen(dupID, msgID string) bool {
	if dupID == "" || w.size <= 0 {
		return false
	}
	if first, ok := w.msg[dupID]; ok {
		return first != msgID
	}
	if len(w.ring) < w.size {
		w.ring = append(w.ring, dupID)
	} else {
		delete(w.msg, w.ring[w.next])
		w.ring[w.next] = dupID
		w.next = (w.next + 1) % w.size
	}
	w.msg[dupID] = msgID
	return false
}
