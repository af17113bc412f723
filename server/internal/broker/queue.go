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

	// sharedPending counts, per group, its messages in the shared pending
	// lists. While it is non-zero, new messages of the group go there too,
	// so a group's messages are never split between the shared lists and
	// its owner's assigned list (which would break their order).
	sharedPending map[string]*glist
	assignedVer   uint64   // groups.Map version the assigned lists were checked at
	toAssign      []string // groups that gained an owner while messages waited in the shared lists

	// Paging (spool.go): persistent messages on disk only, in store order.
	spool           seqSpool
	spoolGen        uint64     // bumped when the spool is cleared
	paging          bool       // a page-in is reading
	windowPersisted int        // persisted entries pending in memory
	pagedIn         *sync.Cond // on mu: signalled after each page-in (WaitLoaded)

	enqueued, dequeued, expired, dlqd uint64
}

func newQueue(b *Broker, dest Destination, qid string, durable bool) *queue {
	q := &queue{b: b, dest: dest, qid: qid, durable: durable, byID: make(map[uint64]*Consumer), sharedPending: map[string]*glist{}}
	if dest.Kind == Queue {
		q.groups = groups.NewMap(b.cfg.MaxIdleGroups)
	}
	return q
}

// addLocked adds a new entry (the caller dispatches).
func (q *queue) addLocked(e *entry) {
	q.placeNewLocked(e)
	q.enqueued++
}

// placeNewLocked makes an entry that was not in memory pending: a new
// message, or one paged in from the store.
func (q *queue) placeNewLocked(e *entry) {
	if q.groups != nil && e.msg.GroupID != "" {
		q.groups.Hold(e.msg.GroupID)
	}
	q.placeLocked(e)
}

// placeLocked puts a pending entry where dispatch will find it: a message
// of a group that has an owner goes to the owner's assigned list, so that
// dispatch to a consumer with room never scans past other consumers'
// groups; everything else goes to the shared priority lists. Both keep
// store order.
func (q *queue) placeLocked(e *entry) {
	e.pending = true
	q.npending++
	if e.persisted {
		q.windowPersisted++
	}
	m := e.msg
	if q.groups != nil && m.GroupID != "" && q.exclusive == nil && q.sharedPending[m.GroupID] == nil {
		if owner, d := q.groups.Route(m.GroupID, int(m.GroupSeq)); d == groups.ToOwner {
			if c := q.byID[owner]; c != nil {
				e.assignee = c
				c.assigned.insertOrdered(e)
				c.nassigned++
				return
			}
		}
	}
	q.toSharedListsLocked(e)
}

// toSharedListsLocked links a pending entry into the shared lists.
func (q *queue) toSharedListsLocked(e *entry) {
	if g := e.msg.GroupID; q.groups != nil && g != "" {
		gl := q.sharedPending[g]
		if gl == nil {
			gl = &glist{}
			q.sharedPending[g] = gl
		}
		gl.insertOrdered(e)
	}
	q.pending[prio(e.msg)].insertOrdered(e)
}

// assignGroupsLocked moves the shared pending messages of groups that
// gained an owner to that owner's assigned list, in order, so later
// dispatch passes do not scan past them.
func (q *queue) assignGroupsLocked() {
	for _, g := range q.toAssign {
		gl := q.sharedPending[g]
		if gl == nil || q.exclusive != nil {
			continue
		}
		owner, d := q.groups.Route(g, int(gl.head.msg.GroupSeq))
		c := q.byID[owner]
		if d != groups.ToOwner || c == nil {
			continue
		}
		for e := gl.head; e != nil; {
			next := e.gnext
			q.pending[prio(e.msg)].remove(e)
			gl.remove(e)
			e.assignee = c
			c.assigned.insertOrdered(e)
			c.nassigned++
			e = next
		}
		delete(q.sharedPending, g)
	}
	q.toAssign = q.toAssign[:0]
}

func prio(m *Message) int {
	if m.Priority > 9 {
		return 9
	}
	return int(m.Priority)
}

func (q *queue) removePendingLocked(e *entry) {
	e.pending = false
	q.npending--
	if e.persisted {
		q.windowPersisted--
	}
	if c := e.assignee; c != nil {
		c.assigned.remove(e)
		c.nassigned--
		e.assignee = nil
		return
	}
	q.pending[prio(e.msg)].remove(e)
	if g := e.msg.GroupID; g != "" && q.groups != nil {
		if gl := q.sharedPending[g]; gl != nil {
			gl.remove(e)
			if gl.n == 0 {
				delete(q.sharedPending, g)
			}
		}
	}
}

// unassignLocked returns c's assigned messages to the shared lists (its
// groups were released, or exclusivity changed).
func (q *queue) unassignLocked(c *Consumer) {
	for e := c.assigned.head; e != nil; {
		next := e.next
		q.removePendingLocked(e)
		q.placeLocked(e)
		e = next
	}
}

// allPendingLocked lists every pending entry (for sweeps and purges).
func (q *queue) allPendingLocked() []*entry {
	out := make([]*entry, 0, q.npending)
	for p := 9; p >= 0; p-- {
		for e := q.pending[p].head; e != nil; e = e.next {
			out = append(out, e)
		}
	}
	for _, c := range q.consumers {
		for e := c.assigned.head; e != nil; e = e.next {
			out = append(out, e)
		}
	}
	return out
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
	q.placeLocked(e)
}

// dispatchLocked hands pending messages to consumers with prefetch room,
// then starts paging in from the store if the window runs low.
func (q *queue) dispatchLocked() {
	q.dispatchWindowLocked()
	q.maybePageInLocked()
}

// dispatchWindowLocked dispatches what is in memory: highest message
// priority first, then store order.
func (q *queue) dispatchWindowLocked() {
	if len(q.consumers) == 0 || q.holding || q.closed || !q.anyRoomLocked() {
		return
	}
	now := nowMs()
	if q.groups != nil && q.groups.Version() != q.assignedVer {
		q.revalidateAssignedLocked()
		q.assignedVer = q.groups.Version()
	}
	if len(q.toAssign) > 0 {
		q.assignGroupsLocked()
	}
	q.dispatchAssignedLocked(now)
	if q.npending == 0 || !q.anyRoomLocked() {
		return
	}
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

// dispatchAssignedLocked feeds each consumer with room from the messages
// of the groups it owns, oldest first. A message whose group changed owner
// since it was placed goes back to the shared lists.
func (q *queue) dispatchAssignedLocked(now int64) {
	for _, c := range q.consumers {
		for c.assigned.head != nil && !c.fullLocked() {
			e := c.assigned.head
			m := e.msg
			if m.Expired(now) {
				q.removePendingLocked(e)
				q.expireLocked(e, false)
				continue
			}
			owner, d := q.groups.Route(m.GroupID, int(m.GroupSeq))
			if d != groups.ToOwner || owner != c.id || !c.acceptsLocked(m) || q.sharedPending[m.GroupID] != nil {
				q.toSharedLocked(e)
				continue
			}
			q.removePendingLocked(e)
			q.deliverLocked(c, e, false)
		}
	}
}

// toSharedLocked moves an assigned entry to the shared lists.
func (q *queue) toSharedLocked(e *entry) {
	q.removePendingLocked(e)
	e.pending = true
	q.npending++
	if e.persisted {
		q.windowPersisted++
	}
	q.toSharedListsLocked(e)
}

// revalidateAssignedLocked runs after any ownership change: messages of a
// group that is no longer owned by the consumer holding them go back to
// the shared lists before anything else is dispatched, so a group's new
// owner can never receive a newer message ahead of an older one.
func (q *queue) revalidateAssignedLocked() {
	for _, c := range q.consumers {
		for e := c.assigned.head; e != nil; {
			next := e.next
			owner, d := q.groups.Route(e.msg.GroupID, int(e.msg.GroupSeq))
			if d != groups.ToOwner || owner != c.id || q.sharedPending[e.msg.GroupID] != nil {
				q.toSharedLocked(e)
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
		ver := q.groups.Version()
		if e.owner != nil && e.ownerVer == ver && m.GroupSeq != 1 && e.owner.fullLocked() {
			return nil, false // its owner is still the owner, and still full
		}
		owner, d := q.groups.Route(m.GroupID, int(m.GroupSeq))
		switch d {
		case groups.Wait:
			return nil, false
		case groups.ToOwner:
			oc := q.byID[owner]
			e.owner, e.ownerVer = oc, ver
			if e.assignee == nil && e.pending {
				// An owned group's messages still in the shared lists: move
				// them to the owner's list at the next pass.
				q.toAssign = append(q.toAssign, m.GroupID)
			}
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
		if q.sharedPending[m.GroupID] != nil {
			q.toAssign = append(q.toAssign, m.GroupID)
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
		Redelivered:      e.deliveries > 1 || e.recovered,
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
		q.placeLocked(e)
		return
	}
	m := *old
	m.Dest = DLQ
	m.Expires = 0
	m.seq = q.b.nextSeq()
	m.refs = 1 // the move's own hold, dropped once the DLQ has it (or kept it on disk only)
	m.Headers = append(append([]Header(nil), old.Headers...),
		Header{HeaderOriginalDestination, old.Dest.String()},
		Header{"dlqDeliveryFailureCause", cause})
	m.size = m.memSize()
	q.b.mem.charge(m.size)
	// Synced like a send: the DLQ's consumers must not see a persistent
	// message that is not on disk (doc.go). Unsynced, the move would wait
	// among the held writes while already visible there.
	op := &commitOp{sync: m.Persistent}
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
		q.b.unref(&m)
	}
	q.b.log.Debug("message dead-lettered", "msg", old.ID, "from", old.Dest.String(), "cause", cause)
	q.b.commit.submit(op)
}

func (q *queue) isSub() bool { return q.sub != nil }

// enqueue adds a message (after its store write, if any) and dispatches.
// A persisted message stays on disk only (spooled) while older ones are
// there, or while the queue's window or the broker's cache is full.
func (q *queue) enqueue(m *Message, persisted bool) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	if persisted && q.spoolLocked() {
		q.spool.push(m.seq)
		q.enqueued++
		q.maybePageInLocked()
		q.mu.Unlock()
		return
	}
	q.b.ref(m)
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
			for _, cc := range q.consumers {
				q.unassignLocked(cc)
			}
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
	q.unassignLocked(c)
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

// purgeLocked drops every pending message, in memory and spooled.
func (q *queue) purgeLocked() (keys [][]byte) {
	for _, e := range q.allPendingLocked() {
		q.removePendingLocked(e)
		if k := q.dropLocked(e, false); k != nil {
			keys = append(keys, k)
		}
	}
	for _, seq := range q.spool.clear() {
		keys = append(keys, messageKey(q.qid, seq))
	}
	q.spoolGen++
	return keys
}

// QueueStats is a destination's counters, for the admin API.
type QueueStats struct {
	Destination  string `json:"destination"`
	Subscription string `json:"subscription,omitempty"`
	Pending      int    `json:"pending"`
	OnDisk       int    `json:"onDisk"` // pending messages paged out to the store
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
	s := QueueStats{Destination: q.dest.String(), Pending: q.npending + q.spool.len(), OnDisk: q.spool.len(), Consumers: len(q.consumers),
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
