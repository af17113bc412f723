package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tethermq/tether/server/internal/store"
)

// commitOp is one unit of work for the committer: store mutations to apply
// atomically, then (in submission order, after the store accepted them) an
// in-memory apply step and a completion callback.
type commitOp struct {
	sets    [][2][]byte
	deletes [][]byte
	sync    bool
	err     error           // set by the committer when the store refused this op
	apply   func(err error) // runs on the committer goroutine, in order
	done    func(err error) // completion for the caller (receipt)
}

// committer serialises store writes through one goroutine and groups them:
// every op that arrives while a commit is in progress joins the next batch,
// which is made durable with a single fsync. Ops complete in submission
// order, which is what keeps a producer's messages in order even though
// its sends are pipelined.
//
// Writes nobody waits on (acks without a receipt, expiry) are not written
// at once: they are held and written with the next synced batch, or after
// deferLimit mutations or deferInterval, whichever comes first. That saves
// a store write per consumed message; the cost, after a crash, is that a
// message acked in the last deferInterval may be redelivered, which is the
// at-least-once promise for acks without a receipt anyway.
type committer struct {
	st  store.Store
	log *slog.Logger

	mu       sync.Mutex
	cond     *sync.Cond
	queue    []*commitOp
	closed   bool
	busy     bool // run is writing a batch (and may touch deferred)
	stopped  chan struct{}
	deferred commitOp // held unsynced mutations: run touches them while busy, others under mu when not
	since    time.Time
	ticker   *time.Ticker
	tickStop chan struct{}
	observer atomic.Pointer[func(CommitInfo)] // metrics (inspect.go)

	// Flushes connectors asked for while a batch was being completed
	// (AfterBatch): replies first, then deliveries.
	amu        sync.Mutex
	completing atomic.Bool // set and cleared under amu; read alone on afterBatch's fast path
	spareR     []func()    // complete's recycled lists
	spareO     []func()
	replies    []func()
	others     []func()
}

const (
	deferLimit    = 4096
	deferInterval = 50 * time.Millisecond
)

func newCommitter(st store.Store, log *slog.Logger) *committer {
	c := &committer{st: st, log: log, stopped: make(chan struct{}), tickStop: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	c.ticker = time.NewTicker(deferInterval)
	go c.run()
	go c.tick()
	return c
}

// tick wakes the committer so held writes never wait longer than
// deferInterval.
func (c *committer) tick() {
	for {
		select {
		case <-c.tickStop:
			return
		case <-c.ticker.C:
			c.mu.Lock()
			c.cond.Signal()
			c.mu.Unlock()
		}
	}
}

// submit queues op. After close it fails the op at once.
func (c *committer) submit(op *commitOp) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		finish(op, errClosed)
		return
	}
	c.queue = append(c.queue, op)
	if len(c.queue) == 1 {
		c.cond.Signal()
	}
	c.mu.Unlock()
}

// hold takes a store write nobody waits on (an auto-ack's delete) straight
// into the held writes when the committer is idle, instead of waking it up
// for a batch that only holds: that is a wake-up per consumed message less
// on the commit goroutine, which a producer waiting on receipts needs. It
// reports whether it did; if not, the caller submits op.
func (c *committer) hold(op *commitOp) bool {
	if op.sync || op.done != nil || op.apply != nil {
		return false
	}
	n := len(op.sets) + len(op.deletes)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.busy || len(c.queue) > 0 || c.held()+n >= deferLimit {
		return false
	}
	if c.held() == 0 {
		c.since = time.Now()
	}
	c.deferred.sets = append(c.deferred.sets, op.sets...)
	c.deferred.deletes = append(c.deferred.deletes, op.deletes...)
	return true
}

// close drains what is queued, writes what is held and stops.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.cond.Signal()
	c.mu.Unlock()
	<-c.stopped
	c.ticker.Stop()
	close(c.tickStop)
}

func (c *committer) run() {
	defer close(c.stopped)
	var spare []*commitOp
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed && !c.heldTooLong() {
			c.cond.Wait()
		}
		ops := c.queue
		c.queue = spare[:0]
		closed := c.closed
		c.busy = true
		c.mu.Unlock()
		c.process(ops, closed)
		c.mu.Lock()
		c.busy = false
		c.mu.Unlock()
		if len(ops) == 0 {
			spare = ops // c.queue now uses spare's array: never hand it out twice
			if closed {
				return
			}
			continue
		}
		spare = ops
	}
}

// process writes one batch (or, with no ops, the held writes) and completes
// it. Only run calls it, with busy set.
func (c *committer) process(ops []*commitOp, closed bool) {
	if len(ops) == 0 {
		if err := c.flushHeld(); err != nil {
			c.log.Error("store commit of held writes failed", "err", err)
		}
		return
	}
	err := c.write(ops, closed)
	c.complete(ops, err)
}

// complete runs the ops' callbacks in order, then the flushes connectors
// asked for meanwhile (afterBatch), so the replies and deliveries those
// callbacks queued are written from here, one write per connection, rather
// than through a wake-up of each connection's writer.
func (c *committer) complete(ops []*commitOp, err error) {
	c.amu.Lock()
	c.completing.Store(true)
	c.amu.Unlock()
	for i, op := range ops {
		if op.err != nil {
			finish(op, op.err)
		} else {
			finish(op, err)
		}
		ops[i] = nil
	}
	c.amu.Lock()
	c.completing.Store(false)
	replies, others := c.replies, c.others
	c.replies, c.others = c.spareR, c.spareO
	c.amu.Unlock()
	for _, fn := range replies {
		fn()
	}
	for _, fn := range others {
		fn()
	}
	clear(replies)
	clear(others)
	c.spareR, c.spareO = replies[:0], others[:0]
}

// afterBatch queues fn to run on the commit goroutine right after the
// completion callbacks it is running now, and reports whether it did; with
// no batch completing it returns false and the caller wakes its own writer.
// A reply (a receipt somebody waits on) runs before other flushes.
func (c *committer) afterBatch(fn func(), reply bool) bool {
	if !c.completing.Load() {
		return false // most deliveries (non-persistent sends) come here: no lock
	}
	c.amu.Lock()
	defer c.amu.Unlock()
	if !c.completing.Load() {
		return false
	}
	if reply {
		c.replies = append(c.replies, fn)
	} else {
		c.others = append(c.others, fn)
	}
	return true
}

func (c *committer) held() int { return len(c.deferred.sets) + len(c.deferred.deletes) }

// heldTooLong is called with mu held; deferred is only touched by run.
func (c *committer) heldTooLong() bool {
	return c.held() > 0 && time.Since(c.since) >= deferInterval
}

func (c *committer) flushHeld() error {
	if c.held() == 0 {
		return nil
	}
	b := c.st.NewBatch()
	c.addTo(b, &c.deferred)
	if err := b.Commit(false); err != nil {
		c.since = time.Now() // kept: retried after deferInterval
		return err
	}
	c.resetHeld()
	return nil
}

func (c *committer) resetHeld() {
	c.deferred.sets = c.deferred.sets[:0]
	c.deferred.deletes = c.deferred.deletes[:0]
}

func (c *committer) addTo(b store.Batch, op *commitOp) {
	for _, kv := range op.sets {
		b.Set(kv[0], kv[1])
	}
	for _, k := range op.deletes {
		b.Delete(k)
	}
}

func (c *committer) write(ops []*commitOp, closing bool) error {
	sync, n := false, 0
	for _, op := range ops {
		sync = sync || op.sync
		n += len(op.sets) + len(op.deletes)
	}
	if !sync && !closing && c.held()+n < deferLimit {
		if n > 0 {
			if c.held() == 0 {
				c.since = time.Now()
			}
			for _, op := range ops {
				c.deferred.sets = append(c.deferred.sets, op.sets...)
				c.deferred.deletes = append(c.deferred.deletes, op.deletes...)
			}
		}
		return nil
	}
	if n == 0 && c.held() == 0 {
		return nil
	}
	// One store commit per chunk of at most maxBatchBytes (an op is never
	// split): a journal record must fit a journal file, and a huge write
	// delays everybody. Only the last chunk needs a sync: the store makes
	// every earlier commit durable with it. Ops of a chunk the store refused
	// (and of every chunk after it) get its error; earlier chunks are stored
	// and complete normally.
	held, heldSets := c.deferred.deletes, c.deferred.sets
	c.deferred = commitOp{}
	type chunk struct{ from, to int } // ops[from:to]; the first chunk also carries the held writes
	var chunks []chunk
	size := batchBytes(heldSets, held)
	from := 0
	for i, op := range ops {
		n := batchBytes(op.sets, op.deletes)
		if size > 0 && size+n > maxBatchBytes {
			chunks = append(chunks, chunk{from, i})
			from, size = i, 0
		}
		size += n
	}
	chunks = append(chunks, chunk{from, len(ops)})
	var failed error
	failedAt := len(ops)
	for ci, ch := range chunks {
		b := c.st.NewBatch()
		if ci == 0 {
			for _, kv := range heldSets {
				b.Set(kv[0], kv[1])
			}
			for _, k := range held {
				b.Delete(k)
			}
		}
		for _, op := range ops[ch.from:ch.to] {
			c.addTo(b, op)
		}
		start := time.Now()
		err := b.Commit(sync && ci == len(chunks)-1)
		c.observe(start, ch.to-ch.from, b.Len(), sync && ci == len(chunks)-1, err)
		if err != nil {
			c.log.Error("store commit failed", "ops", len(ops)-ch.from, "err", err)
			if errors.Is(err, store.ErrNoSpace) {
				err = fmt.Errorf("%w: no space left on the store's disk; not stored (%w)", ErrStoreFull, err)
			}
			failed, failedAt = err, ch.from
			break
		}
		if ci == 0 {
			held, heldSets = nil, nil // written
		}
	}
	if failed == nil {
		return nil
	}
	for _, op := range ops[failedAt:] {
		op.err = failed
	}
	c.keepAcks(held, heldSets, ops[failedAt:])
	return nil
}

// maxBatchBytes caps one store commit; see write.
const maxBatchBytes = 4 << 20

func batchBytes(sets [][2][]byte, deletes [][]byte) int {
	n := 0
	for _, kv := range sets {
		n += len(kv[0]) + len(kv[1]) + 8
	}
	for _, k := range deletes {
		n += len(k) + 4
	}
	return n
}

// keepAcks holds again, for the next batch, the deletes of a batch the
// store refused (a full disk): they are acknowledgements already taken out
// of memory, and losing them would keep consumed messages on disk, where
// they pin space that the broker needs to recover, and would bring them
// back at the next start. Ops that also set keys (sends, dead-letter
// moves) are not retried: their callers get the error, and nothing of
// them is stored.
func (c *committer) keepAcks(held [][]byte, heldSets [][2][]byte, ops []*commitOp) {
	c.deferred.sets = heldSets
	c.deferred.deletes = held
	for _, op := range ops {
		if len(op.sets) == 0 {
			c.deferred.deletes = append(c.deferred.deletes, op.deletes...)
		}
	}
	if c.held() > 0 {
		c.since = time.Now()
	}
}

func finish(op *commitOp, err error) {
	if op.apply != nil {
		op.apply(err)
	}
	if op.done != nil {
		op.done(err)
	}
}
