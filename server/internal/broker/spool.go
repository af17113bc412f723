package broker

import (
	"errors"
	"slices"
	"sync"

	"github.com/tethermq/tether/server/internal/store"
)

// Paging (ActiveMQ's store cursor): a queue keeps in memory only a window
// of its persistent messages; the rest stay on disk, known by their store
// order alone (8 bytes each), and are read back in order as consumers
// drain the window. So memoryLimit bounds what the broker holds, not how
// much may be queued, and recovery needs the store's keys, not its values.
//
// Invariants (under the queue's mutex):
//   - Every persistent message of the queue is in exactly one of: the
//     window (pending or in flight, as an entry) or the spool (on disk only).
//   - While the spool is not empty, new persistent messages join its tail,
//     so the window never holds a newer message than one still on disk;
//     paging in takes the spool's head. Non-persistent messages are never
//     spooled: they may overtake spooled persistent ones, as with
//     ActiveMQ's separate persistent and non-persistent cursors.
//   - At most one page-in per queue runs at a time (paging); it reads
//     without the mutex and takes only what is still at the spool's head
//     (spoolGen changes when the spool is cleared).

// pageSize is how many persistent messages a queue keeps pending in memory
// before new ones stay on disk; a page-in starts when fewer than half are.
// ActiveMQ pages 200 at a time (maxPageSize); a larger window keeps a fast
// consumer with the default prefetch (1000) fed between page-ins.
const pageSize = 1000

// seqSpool is a FIFO of store sequence numbers.
type seqSpool struct {
	buf  []uint64
	head int
}

func (s *seqSpool) len() int        { return len(s.buf) - s.head }
func (s *seqSpool) push(seq uint64) { s.buf = append(s.buf, seq) }
func (s *seqSpool) peek(n int) []uint64 {
	n = min(n, s.len())
	return slices.Clone(s.buf[s.head : s.head+n])
}

func (s *seqSpool) pop() uint64 {
	v := s.buf[s.head]
	s.head++
	if s.head == len(s.buf) {
		s.buf, s.head = s.buf[:0], 0
	} else if s.head >= 1024 && s.head*2 >= len(s.buf) {
		s.buf = append(s.buf[:0], s.buf[s.head:]...)
		s.head = 0
	}
	return v
}

func (s *seqSpool) clear() []uint64 {
	out := s.buf[s.head:]
	s.buf, s.head = nil, 0
	return out
}

// spoolLocked reports whether a new persisted message should stay on disk.
func (q *queue) spoolLocked() bool {
	return q.spool.len() > 0 || q.windowPersisted >= pageSize || q.b.mem.usage() >= q.b.cacheHigh
}

// maybePageInLocked starts a page-in when the window is running low and a
// consumer could take more.
func (q *queue) maybePageInLocked() {
	if q.paging || q.closed || q.spool.len() == 0 || len(q.consumers) == 0 || q.holding {
		return
	}
	if q.windowPersisted >= pageSize/2 || !q.anyRoomLocked() {
		return
	}
	budget := q.b.cacheHigh - q.b.mem.usage()
	if budget <= 0 && q.windowPersisted > 0 {
		return // memory is tight and the consumers still have something to take
	}
	if !q.b.startBackground() {
		return // the broker is closing
	}
	seqs := q.spool.peek(pageSize - q.windowPersisted)
	q.paging = true
	gen := q.spoolGen
	go func() {
		defer q.b.bg.Done()
		q.pageIn(seqs, gen, budget)
	}()
}

// pageIn reads seqs from the store (at least one message, then as many as
// budget bytes allow) and adds them to the window.
func (q *queue) pageIn(seqs []uint64, gen uint64, budget int64) {
	msgs := make([]*Message, 0, len(seqs))
	var used int64
	for _, seq := range seqs {
		if used > 0 && used >= budget {
			break
		}
		m, err := q.b.loadMessage(q.qid, seq)
		if errors.Is(err, store.ErrClosed) {
			break // shutting down: what is not read stays spooled
		}
		if err != nil {
			// Unreadable (corrupt): skipped here, but not deleted, so a
			// restart tries it again.
			q.b.log.Error("paging in a stored message failed; it is skipped", "queue", q.qid, "seq", seq, "err", err)
		} else {
			used += m.size
		}
		msgs = append(msgs, m) // nil marks an unreadable message
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.paging = false
	if q.pagedIn != nil {
		q.pagedIn.Broadcast()
	}
	if q.spoolGen != gen || q.closed {
		return
	}
	for i, m := range msgs {
		if q.spool.len() == 0 || q.spool.buf[q.spool.head] != seqs[i] {
			break
		}
		q.spool.pop()
		if m == nil {
			continue
		}
		q.b.mem.charge(m.size)
		m.refs = 1
		q.placeNewLocked(&entry{msg: m, persisted: true, recovered: m.seq>>40 < q.b.epoch})
	}
	q.dispatchLocked()
}

// loadMessage reads one spooled message back.
func (b *Broker) loadMessage(qid string, seq uint64) (*Message, error) {
	v, err := b.st.Get(messageKey(qid, seq))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errors.New("not in the store")
		}
		return nil, err
	}
	m, err := decodeMessage(v)
	if err != nil {
		return nil, err
	}
	m.size = m.memSize()
	return m, nil
}

// WaitLoaded returns once nothing of the consumer's queue is left on disk
// only: every stored message has been paged in and dispatched or is
// pending in memory. It is for internal consumers that keep everything in
// flight (the MQTT connector's tables), which must see the whole queue
// before they serve; with a bounded prefetch it may wait for acks.
func (c *Consumer) WaitLoaded() {
	q := c.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pagedIn == nil {
		q.pagedIn = sync.NewCond(&q.mu)
	}
	for (q.spool.len() > 0 || q.paging) && !q.closed && !c.closed {
		q.maybePageInLocked()
		if !q.paging {
			return // nothing can be paged in for now (no room anywhere)
		}
		q.pagedIn.Wait()
	}
}

// startBackground counts a page-in goroutine for Close to wait on, unless
// Close has begun.
func (b *Broker) startBackground() bool {
	b.bgMu.Lock()
	defer b.bgMu.Unlock()
	if b.closing {
		return false
	}
	b.bg.Add(1)
	return true
}
