package broker

import (
	"log/slog"
	"sync"

	"github.com/tethermq/tether/server/store"
)

// commitOp is one unit of work for the committer: store mutations to apply
// atomically, then (in submission order, after the store accepted them) an
// in-memory apply step and a completion callback.
type commitOp struct {
	sets    [][2][]byte
	deletes [][]byte
	sync    bool
	apply   func(err error) // runs on the committer goroutine, in order
	done    func(err error) // completion for the caller (receipt)
}

// committer serialises store writes through one goroutine and groups them:
// every op that arrives while a commit is in progress joins the next batch,
// which is made durable with a single fsync. Ops complete in submission
// order, which is what keeps a producer's messages in order even though
// its sends are pipelined.
type committer struct {
	st  store.Store
	log *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*commitOp
	closed  bool
	stopped chan struct{}
}

func newCommitter(st store.Store, log *slog.Logger) *committer {
	c := &committer{st: st, log: log, stopped: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	go c.run()
	return c
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

// close drains what is queued and stops the goroutine.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.cond.Signal()
	c.mu.Unlock()
	<-c.stopped
}

func (c *committer) run() {
	defer close(c.stopped)
	var spare []*commitOp
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed {
			c.cond.Wait()
		}
		if len(c.queue) == 0 && c.closed {
			c.mu.Unlock()
			return
		}
		ops := c.queue
		c.queue = spare[:0]
		c.mu.Unlock()

		err := c.write(ops)
		for i, op := range ops {
			finish(op, err)
			ops[i] = nil
		}
		spare = ops
	}
}

func (c *committer) write(ops []*commitOp) error {
	var b store.Batch
	sync := false
	for _, op := range ops {
		if len(op.sets) == 0 && len(op.deletes) == 0 {
			continue
		}
		if b == nil {
			b = c.st.NewBatch()
		}
		for _, kv := range op.sets {
			b.Set(kv[0], kv[1])
		}
		for _, k := range op.deletes {
			b.Delete(k)
		}
		sync = sync || op.sync
	}
	if b == nil {
		return nil
	}
	if err := b.Commit(sync); err != nil {
		c.log.Error("store commit failed", "ops", len(ops), "err", err)
		return err
	}
	return nil
}

func finish(op *commitOp, err error) {
	if op.apply != nil {
		op.apply(err)
	}
	if op.done != nil {
		op.done(err)
	}
}
