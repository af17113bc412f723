package broker

import (
	"math"
	"sync"
	"time"

	"github.com/tethermq/tether/groups"
)

// maxScan bounds how many undeliverable pending messages (their group's
// owner is full, or no selector matches) one dispatch pass walks past, so
// a large blocked backlog costs bounded work per event. ActiveMQ's
// equivalent is maxPageSize (200); ours is larger because skipping is cheap.
const maxScan = 5000

// queue holds messages for consumers: a real queue, or the private queue
// of one topic subscription (durable or not). Everything in it is guarded
// by mu; deliveries are handed to consumers' callbacks under mu, which is
// why those callbacks must not block or call back into the broker.
type queue struct {
	b       *Broker
	dest    Destination // the queue, or the subscribed topic (pattern)
	qid     string
	durable bool // persistent messages are stored under qid
	sub     *subscription

	mu        sync.Mutex
	pending   [10]plist
	npending  int
	consumers []*Consumer
	byID      map[uint64]*Consumer
	rr        int
	exclusive *Consumer
	groups    *groups.Map
	closed    bool

	// consumersBeforeDispatchStarts / timeBeforeDispatchStarts
	holding   bool
	holdTimer *time.Timer

	enqueued, dequeued, expired, dlqd uint64
}

func newQueue(b *Broker, dest Destination, qid string, durable bool) *queue {
	q := &queue{b: b, dest: dest, qid: qid, durable: durable, byID: make(map[uint64]*Consumer)}
	if dest.Kind == Queue {
		q.groups = groups.NewMap(b.cfg.MaxIdleGroups)
	}
	return q
}

// enqueueLocked adds a new or recovered entry and dispatches.
func (q *queue) addLocked(e *entry) {
	if q.groups != nil && e.msg.GroupID != "" {
		q.groups.Hold(e.msg.GroupID)
	}
	q.pending[prio(e.msg)].pushBack(e)
	e.pending = true
	q.npending++
	q.enqueued++
}

func prio(m *Message) int {
	if m.Priority > 9 {
		return 9
	}
	return int(m.Priority)
}

func (q *queue) removePendingLocked(e *entry) {
	q.pending[prio(e.msg)].remove(e)
	e.pending = false
	q.npending--
}

// requeueLocked returns an in-flight entry to pending at its original
// position (redelivery), or to the DLQ when it has been delivered too often.
func (q *queue) requeueLocked(e *entry, now int64) {
	if e.deliveries > q.b.cfg.MaxRedeliveries {
		q.deadLetterLocked(e, true, "delivered "+itoa(e.deliveries)+" times")
		return
	}
	if e.msg.Expired(now) {
		q.expireLocked(e, true)
		return
	}
	if q.groups != nil && e.msg.GroupID != "" {
		q.groups.Returned(e.msg.GroupID)
	}
	q.pending[prio(e.msg)].insertOrdered(e)
	e.pending = true
	q.npending++
}

// dispatchLocked hands pending messages to consumers with prefetch room:
// highest message priority first, then store order.
func (q *queue) dispatchLocked() {
	if len(q.consumers) == 0 || q.holding || q.closed || !q.anyRoomLocked() {
		return
	}
	now := nowMs()
	budget := maxScan
	for p := 9; p >= 0; p-- {
		for e := q.pending[p].head; e != nil; {
			next := e.next
			if e.msg.Expired(now) {
				q.removePendingLocked(e)
				q.expireLocked(e, false)
				e = next
				continue
			}
			c, first := q.pickLocked(e)
			if c == nil {
				if budget--; budget == 0 || !q.anyRoomLocked() {
					return
				}
				e = next
				continue
			}
			q.removePendingLocked(e)
			q.deliverLocked(c, e, first)
			if !q.anyRoomLocked() {
				return
			}
			e = next
		}
	}
}

func (q *queue) anyRoomLocked() bool {
	if q.exclusive != nil {
		return !q.exclusive.fullLocked()
	}
	for _, c := range q.consumers {
		if !c.fullLocked() {
			return true
		}
	}
	return false
}

// pickLocked chooses the consumer for e, or nil if none can take it now.
// Grouped messages follow the groups.Map's routing: to the owner, to a new
// owner (highest priority, then fewest groups), or wait while the group's
// ownership is draining.
func (q *queue) pickLocked(e *entry) (c *Consumer, firstForGroup bool) {
	m := e.msg
	grouped := m.GroupID != "" && q.groups != nil
	if q.exclusive != nil {
		c = q.exclusive
		if c.fullLocked() || !c.acceptsLocked(m) {
			return nil, false
		}
		if grouped {
			if owner, d := q.groups.Route(m.GroupID, int(m.GroupSeq)); d == groups.Wait || (d == groups.ToOwner && owner != c.id) {
				return nil, false
			}
			return c, q.groups.Assign(m.GroupID, c.id)
		}
		return c, false
	}
	if grouped {
		owner, d := q.groups.Route(m.GroupID, int(m.GroupSeq))
		switch d {
		case groups.Wait:
			return nil, false
		case groups.ToOwner:
			oc := q.byID[owner]
			if oc == nil || oc.fullLocked() || !oc.acceptsLocked(m) {
				return nil, false
			}
			return oc, false
		}
		var best *Consumer
		bestPrio, bestCount := math.MinInt, math.MaxInt
		for _, cc := range q.consumers {
			if cc.browser || cc.fullLocked() || !cc.acceptsLocked(m) {
				continue
			}
			n := q.groups.Count(cc.id)
			if cc.priority > bestPrio || (cc.priority == bestPrio && n < bestCount) {
				best, bestPrio, bestCount = cc, cc.priority, n
			}
		}
		if best == nil {
			return nil, false
		}
		return best, q.groups.Assign(m.GroupID, best.id)
	}
	// Round robin within the highest priority that has room.
	n := len(q.consumers)
	bestIdx, bestPrio := -1, math.MinInt
	for i := range n {
		idx := (q.rr + i) % n
		cc := q.consumers[idx]
		if cc.priority <= bestPrio || cc.fullLocked() || !cc.acceptsLocked(m) {
			continue
		}
		bestIdx, bestPrio = idx, cc.priority
	}
	if bestIdx < 0 {
		return nil, false
	}
	q.rr = (bestIdx + 1) % n
	return q.consumers[bestIdx], false
}

func (q *queue) deliverLocked(c *Consumer, e *entry, first bool) {
	e.deliveries++
	e.consumer = c
	c.inflight.pushBack(e)
	c.byMsgID[e.msg.ID] = e
	if q.groups != nil && e.msg.GroupID != "" {
		q.groups.Dispatched(e.msg.GroupID)
		if e.msg.GroupSeq < 0 {
			// A negative sequence closes the group once this message is settled.
			q.groups.Close(e.msg.GroupID)
		}
	}
	c.deliver(&Delivery{
		Message:          e.msg,
		Consumer:         c,
		Redelivered:      e.deliveries > 1,
		DeliveryCount:    e.deliveries,
		FirstForConsumer: first,
	})
}

// dropLocked forgets an entry that left the queue for good (acked,
// expired, dead-lettered) and returns its store key to delete, if any.
// inFlight says whether it left from a consumer or from pending.
func (q *queue) dropLocked(e *entry, inFlight bool) []byte {
	if q.groups != nil && e.msg.GroupID != "" {
		if inFlight {
			q.groups.Release(e.msg.GroupID)
		} else {
			q.groups.Discard(e.msg.GroupID)
		}
	}
	q.b.unref(e.msg)
	if e.persisted {
		e.persisted = false
		return messageKey(q.qid, e.msg.seq)
	}
	return nil
}

func (q *queue) expireLocked(e *entry, inFlight bool) {
	q.expired++
	if e.msg.Persistent && (q.dest != DLQ || q.isSub()) {
		// ActiveMQ's default: expired persistent messages go to the DLQ.
		q.deadLetterLocked(e, inFlight, "expired")
		return
	}
	if k := q.dropLocked(e, inFlight); k != nil {
		q.b.commit.submit(&commitOp{deletes: [][]byte{k}})
	}
}

// deadLetterLocked moves e to ActiveMQ.DLQ: one store batch deletes it
// here and adds it there, so it is never lost nor in both.
func (q *queue) deadLetterLocked(e *entry, inFlight bool, cause string) {
	q.dlqd++
	old := e.msg
	if q.dest == DLQ && !q.isSub() {
		// Poison in the DLQ itself: keep it there rather than loop.
		if inFlight && q.groups != nil && old.GroupID != "" {
			q.groups.Returned(old.GroupID)
		}
		q.pending[prio(old)].insertOrdered(e)
		e.pending = true
		q.npending++
		return
	}
	m := *old
	m.Dest = DLQ
	m.Expires = 0
	m.seq = q.b.nextSeq()
	m.refs = 0
	m.Headers = append(append([]Header(nil), old.Headers...),
		Header{"original-destination", old.Dest.STOMP()},
		Header{"dlqDeliveryFailureCause", cause})
	m.size = m.memSize()
	q.b.mem.charge(m.size)
	op := &commitOp{}
	if k := q.dropLocked(e, inFlight); k != nil {
		op.deletes = append(op.deletes, k)
	}
	if m.Persistent {
		op.sets = append(op.sets, [2][]byte{messageKey(queueQID(DLQ.Name), m.seq), encodeMessage(&m)})
	}
	dlq := q.b.queueFor(DLQ)
	op.apply = func(err error) {
		if err != nil {
			q.b.log.Error("dead-letter store write failed", "msg", m.ID, "err", err)
		}
		dlq.enqueue(&m, m.Persistent && err == nil)
	}
	q.b.log.Debug("message dead-lettered", "msg", old.ID, "from", old.Dest.String(), "cause", cause)
	q.b.commit.submit(op)
}

func (q *queue) isSub() bool { return q.sub != nil }

// enqueue adds a message (after its store write, if any) and dispatches.
func (q *queue) enqueue(m *Message, persisted bool) {
	q.b.ref(m)
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		q.b.unref(m)
		return
	}
	q.addLocked(&entry{msg: m, persisted: persisted})
	q.dispatchLocked()
	q.mu.Unlock()
}

// addConsumerLocked registers c, applies exclusivity and the dispatch hold.
func (q *queue) addConsumerLocked(c *Consumer) {
	if len(q.consumers) == 0 {
		q.startHoldLocked()
	}
	q.consumers = append(q.consumers, c)
	q.byID[c.id] = c
	if c.exclusive && !c.browser {
		// A newcomer pre-empts the current exclusive consumer only with a
		// strictly higher priority (ActiveMQ also lets 127 pre-empt).
		if q.exclusive == nil || c.priority > q.exclusive.priority || c.priority == 127 {
			q.exclusive = c
		}
	}
	if q.holding && q.b.cfg.ConsumersBeforeDispatchStarts > 0 && len(q.consumers) >= q.b.cfg.ConsumersBeforeDispatchStarts {
		q.stopHoldLocked()
	}
}

func (q *queue) startHoldLocked() {
	n, d := q.b.cfg.ConsumersBeforeDispatchStarts, q.b.cfg.TimeBeforeDispatchStarts
	if n <= 1 && d <= 0 {
		return
	}
	if n > 1 && d <= 0 {
		d = time.Second // ActiveMQ waits 1 s for the count when no time is set
	}
	q.holding = true
	q.holdTimer = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.holding {
			q.stopHoldLocked()
			q.dispatchLocked()
		}
	})
}

func (q *queue) stopHoldLocked() {
	q.holding = false
	if q.holdTimer != nil {
		q.holdTimer.Stop()
		q.holdTimer = nil
	}
}

// removeConsumerLocked unregisters c and returns its in-flight messages to
// pending, in their original order, flagged redelivered; its groups are
// released so their next messages pick new owners.
func (q *queue) removeConsumerLocked(c *Consumer) {
	for i, cc := range q.consumers {
		if cc == c {
			q.consumers = append(q.consumers[:i], q.consumers[i+1:]...)
			break
		}
	}
	delete(q.byID, c.id)
	if q.rr >= len(q.consumers) {
		q.rr = 0
	}
	if q.exclusive == c {
		q.exclusive = nil
		for _, cc := range q.consumers {
			if cc.exclusive && !cc.browser && (q.exclusive == nil || cc.priority > q.exclusive.priority) {
				q.exclusive = cc
			}
		}
	}
	if q.groups != nil {
		q.groups.RemoveConsumer(c.id)
	}
	now := nowMs()
	for e := c.inflight.head; e != nil; {
		next := e.cnext
		c.inflight.remove(e)
		delete(c.byMsgID, e.msg.ID)
		e.consumer = nil
		q.requeueLocked(e, now)
		e = next
	}
	if len(q.consumers) == 0 {
		q.stopHoldLocked()
	}
	q.dispatchLocked()
}

// purgeLocked drops every pending message (durable subscription removed).
func (q *queue) purgeLocked() (keys [][]byte) {
	for p := range q.pending {
		for e := q.pending[p].head; e != nil; {
			next := e.next
			q.removePendingLocked(e)
			if k := q.dropLocked(e, false); k != nil {
				keys = append(keys, k)
			}
			e = next
		}
	}
	return keys
}

// QueueStats is a destination's counters, for the admin API.
type QueueStats struct {
	Destination  string `json:"destination"`
	Subscription string `json:"subscription,omitempty"`
	Pending      int    `json:"pending"`
	InFlight     int    `json:"inFlight"`
	Consumers    int    `json:"consumers"`
	Enqueued     uint64 `json:"enqueued"`
	Dequeued     uint64 `json:"dequeued"`
	Expired      uint64 `json:"expired"`
	DeadLettered uint64 `json:"deadLettered"`
	Groups       int    `json:"groups"`
}

func (q *queue) stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := QueueStats{Destination: q.dest.String(), Pending: q.npending, Consumers: len(q.consumers),
		Enqueued: q.enqueued, Dequeued: q.dequeued, Expired: q.expired, DeadLettered: q.dlqd}
	for _, c := range q.consumers {
		s.InFlight += c.inflight.n
	}
	if q.sub != nil {
		s.Subscription = q.sub.name
	}
	if q.groups != nil {
		s.Groups = q.groups.Len()
	}
	return s
}
