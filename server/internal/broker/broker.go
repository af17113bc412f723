package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tethermq/tether/server/internal/store"
)

// Config tunes the broker; zero values take ActiveMQ's defaults.
type Config struct {
	Name                          string        // broker name, part of message ids
	MemoryLimit                   int64         // bytes of messages held before sends wait (64 MiB)
	MaxRedeliveries               int           // redeliveries before the DLQ (6); -1 = never dead-letter
	DupWindow                     int           // _AMQ_DUPL_ID ids remembered per destination (20,000)
	ConsumersBeforeDispatchStarts int           // hold a queue's dispatch until this many consumers...
	TimeBeforeDispatchStarts      time.Duration // ...or this long (1 s when only the count is set)
	MaxIdleGroups                 int           // idle message groups remembered per queue (65,536)
	// StoreLimit bounds the store's disk use (storeUsage): at the limit,
	// persistent sends wait. 0 = no limit.
	StoreLimit int64
	// SendFailIfNoSpaceAfterTimeout: a persistent send waiting for store
	// space fails after this long (0 = it waits, bounded by its context).
	SendFailIfNoSpaceAfterTimeout time.Duration
	Logger                        *slog.Logger
}

// ConsumerEvent reports a consumer added or removed, for advisories and
// network bridges.
type ConsumerEvent struct {
	Added    bool
	Consumer *Consumer
	Dest     Destination
	Session  *Session
}

// Broker is the message router. Create it with New over an open store.
type Broker struct {
	cfg    Config
	log    *slog.Logger
	st     store.Store
	commit *committer
	mem    *memoryLimiter
	space  *spaceGate
	// cacheHigh is how much of the memory limit persistent messages may
	// fill before new ones stay on disk (ActiveMQ's
	// cursorMemoryHighWaterMark, 70%).
	cacheHigh int64
	bg        sync.WaitGroup // page-ins
	bgMu      sync.Mutex
	closing   bool // under bgMu: Close has begun, no new page-in

	epoch          uint64
	counter        atomic.Uint64
	nextConsumerID atomic.Uint64
	nextSessionID  atomic.Uint64

	mu         sync.RWMutex
	queues     map[string]*queue // by queue name
	topicExact map[string][]*subscription
	topicWild  []*subscription
	durables   map[string]*subscription // by qid
	clients    map[string]*Session      // by client id
	consumers  map[uint64]*Consumer     // every open consumer, for advisories
	observers  []func(ConsumerEvent)
	closed     bool
	sessions   sync.Map // *Session -> time.Time it opened (inspect.go)

	dupMu sync.Mutex
	dups  map[string]*dupWindow // by destination string

	sweepStop chan struct{}
	sweepDone chan struct{}
}

// New recovers the broker's state from st and starts it. The caller owns st
// and closes it after Close.
func New(cfg Config, st store.Store) (*Broker, error) {
	if cfg.Name == "" {
		cfg.Name = "localhost"
	}
	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = 64 << 20
	}
	if cfg.MaxRedeliveries == 0 {
		cfg.MaxRedeliveries = 6
	} else if cfg.MaxRedeliveries < 0 {
		cfg.MaxRedeliveries = int(^uint(0) >> 1)
	}
	if cfg.DupWindow <= 0 {
		cfg.DupWindow = 20000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Broker{
		cfg: cfg, log: cfg.Logger, st: st, mem: newMemoryLimiter(cfg.MemoryLimit),
		queues: map[string]*queue{}, topicExact: map[string][]*subscription{},
		durables: map[string]*subscription{}, clients: map[string]*Session{}, consumers: map[uint64]*Consumer{},
		dups: map[string]*dupWindow{}, sweepStop: make(chan struct{}), sweepDone: make(chan struct{}),
		cacheHigh: cfg.MemoryLimit * 7 / 10,
	}
	b.space = newSpaceGate(st, cfg.StoreLimit, cfg.SendFailIfNoSpaceAfterTimeout, b.log)
	if err := b.recover(); err != nil {
		return nil, err
	}
	b.commit = newCommitter(st, b.log)
	go b.sweepExpired()
	return b, nil
}

// Name is the broker's name.
func (b *Broker) Name() string { return b.cfg.Name }

// Close stops the broker: pending store writes complete, then nothing more
// is accepted. Sessions should be closed first by their connectors.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.bgMu.Lock()
	b.closing = true
	b.bgMu.Unlock()
	close(b.sweepStop)
	<-b.sweepDone
	b.space.close()
	b.bg.Wait()
	b.commit.close()
	return nil
}

// AfterCommitBatch lets a connector that just queued output (a receipt, a
// delivery) have it written from the broker's commit goroutine once the
// store batch it is completing is done, instead of waking the connection's
// writer: after an fsync, that wake-up is a cross-CPU hand-off on the path
// of every producer waiting for a receipt. It reports false when no batch is
// being completed; the connector then wakes its writer as usual. fn must not
// block. reply marks output somebody waits on, flushed first.
func (b *Broker) AfterCommitBatch(fn func(), reply bool) bool {
	return b.commit.afterBatch(fn, reply)
}

// NewSession opens a session for one client connection. A client id held by
// another session is taken over (link stealing): the old session is closed
// and told through its OnStolen, so a client reconnecting after a network
// failure is not refused while its old connection is still timing out.
func (b *Broker) NewSession(o SessionOptions) (*Session, error) {
	s := &Session{
		b: b, id: "S" + strconv.FormatUint(b.nextSessionID.Add(1), 10), opts: o,
		consumers: map[uint64]*Consumer{}, txs: map[string]*txState{},
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, errClosed
	}
	b.sessions.Store(s, time.Now())
	var old *Session
	if o.ClientID != "" {
		old = b.clients[o.ClientID]
		b.clients[o.ClientID] = s
	}
	b.mu.Unlock()
	if old != nil {
		b.log.Info("client id taken over by a new connection", "clientID", o.ClientID)
		old.Close()
		if old.opts.OnStolen != nil {
			go old.opts.OnStolen()
		}
	}
	return s, nil
}

func (b *Broker) sessionClosed(s *Session) {
	b.sessions.Delete(s)
	b.mu.Lock()
	if s.opts.ClientID != "" && b.clients[s.opts.ClientID] == s {
		delete(b.clients, s.opts.ClientID)
	}
	b.mu.Unlock()
}

// Observe registers fn for consumer added/removed events. fn runs on the
// goroutine that changed the consumer and must not block.
func (b *Broker) Observe(fn func(ConsumerEvent)) {
	b.mu.Lock()
	b.observers = append(b.observers, fn)
	b.mu.Unlock()
}

func (b *Broker) notify(ev ConsumerEvent) {
	b.mu.RLock()
	obs := b.observers
	b.mu.RUnlock()
	for _, fn := range obs {
		fn(ev)
	}
}

func (b *Broker) consumerAdded(c *Consumer) {
	b.mu.Lock()
	b.consumers[c.id] = c
	b.mu.Unlock()
	b.publishAdvisory(c, true)
	b.notify(ConsumerEvent{Added: true, Consumer: c, Dest: c.opts.Dest, Session: c.s})
}

func (b *Broker) consumerRemoved(c *Consumer) {
	if sub := c.q.sub; sub != nil && sub.durable {
		b.mu.Lock()
		if sub.active == c {
			sub.active = nil
		}
		b.mu.Unlock()
	} else if sub != nil {
		b.removeSub(sub)
		c.q.mu.Lock()
		c.q.closed = true
		keys := c.q.purgeLocked()
		c.q.mu.Unlock()
		if len(keys) > 0 {
			b.commit.submit(&commitOp{deletes: keys})
		}
	}
	b.mu.Lock()
	delete(b.consumers, c.id)
	b.mu.Unlock()
	b.publishAdvisory(c, false)
	b.notify(ConsumerEvent{Added: false, Consumer: c, Dest: c.opts.Dest, Session: c.s})
}

func (b *Broker) nextSeq() uint64 { return b.epoch<<40 | b.counter.Add(1) }

func nowMs() int64 { return time.Now().UnixMilli() }

func itoa(n int) string { return strconv.Itoa(n) }

// prepare validates a message from a producer and fills broker fields.
func (b *Broker) prepare(m *Message, s *Session) error {
	if m.Dest.Name == "" {
		return errors.New("send: missing destination")
	}
	if m.Dest.IsWildcard() {
		return fmt.Errorf("send to %s: cannot send to a wildcard destination", m.Dest)
	}
	if m.Priority > 9 {
		m.Priority = 9
	}
	m.seq = b.nextSeq()
	if m.ID == "" {
		m.ID = "ID:" + b.cfg.Name + "-" + strconv.FormatUint(b.epoch, 10) + "-" + strconv.FormatUint(m.seq&(1<<40-1), 10)
	}
	if m.Timestamp == 0 {
		m.Timestamp = nowMs()
	}
	if s != nil {
		m.ProducerConn = s.id
	}
	return nil
}

func (b *Broker) ref(m *Message) { atomic.AddInt32(&m.refs, 1) }

func (b *Broker) unref(m *Message) {
	if atomic.AddInt32(&m.refs, -1) == 0 {
		b.mem.release(m.size)
	}
}

// queueFor returns the named queue, creating it on first use.
func (b *Broker) queueFor(d Destination) *queue {
	b.mu.RLock()
	q := b.queues[d.Name]
	b.mu.RUnlock()
	if q != nil {
		return q
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if q = b.queues[d.Name]; q == nil {
		q = newQueue(b, d, queueQID(d.Name), true)
		b.queues[d.Name] = q
	}
	return q
}

// routeInto adds m's store writes and in-memory delivery to op. A duplicate
// (its DupID already in the destination's window) becomes a no-op that
// still completes in order, so its receipt follows the original's.
func (b *Broker) routeInto(op *commitOp, m *Message) {
	if m.DupID != "" {
		b.dupMu.Lock()
		key := m.Dest.String()
		w := b.dups[key]
		if w == nil {
			w = newDupWindow(key, b.cfg.DupWindow)
			b.dups[key] = w
		}
		if w.contains(m.DupID) {
			b.dupMu.Unlock()
			b.log.Debug("duplicate send dropped", "dest", key, "dupID", m.DupID)
			prev := op.apply
			op.apply = func(err error) {
				if prev != nil {
					prev(err)
				}
				b.unref(m)
			}
			return
		}
		set, evicted := w.add(m.DupID, m.Persistent)
		b.dupMu.Unlock()
		if m.Persistent {
			op.sets = append(op.sets, set)
		}
		if evicted != nil {
			op.deletes = append(op.deletes, evicted)
		}
	}
	type target struct {
		q       *queue
		persist bool
	}
	var targets []target
	if m.Dest.Kind == Queue {
		targets = []target{{b.queueFor(m.Dest), m.Persistent}}
	} else {
		for _, sub := range b.matchingSubs(m) {
			targets = append(targets, target{sub.q, m.Persistent && sub.durable})
		}
	}
	var enc []byte
	for _, t := range targets {
		if t.persist {
			if enc == nil {
				enc = encodeMessage(m)
			}
			op.sets = append(op.sets, [2][]byte{messageKey(t.q.qid, m.seq), enc})
		}
	}
	prev := op.apply
	op.apply = func(err error) {
		if prev != nil {
			prev(err)
		}
		if err != nil {
			if m.DupID != "" {
				b.dupMu.Lock()
				if w := b.dups[m.Dest.String()]; w != nil {
					w.remove(m.DupID)
				}
				b.dupMu.Unlock()
			}
		} else {
			for _, t := range targets {
				t.q.enqueue(m, t.persist)
			}
		}
		b.unref(m)
	}
}

// sweepExpired periodically drops expired pending messages so that an
// unconsumed backlog of expired messages does not hold memory forever.
func (b *Broker) sweepExpired() {
	defer close(b.sweepDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-b.sweepStop:
			return
		case <-t.C:
		}
		for _, q := range b.allQueues() {
			q.mu.Lock()
			now := nowMs()
			for _, e := range q.allPendingLocked() {
				if e.msg.Expired(now) {
					q.removePendingLocked(e)
					q.expireLocked(e, false)
				}
			}
			q.mu.Unlock()
		}
	}
}

func (b *Broker) allQueues() []*queue {
	b.mu.RLock()
	defer b.mu.RUnlock()
	qs := make([]*queue, 0, len(b.queues)+len(b.durables))
	for _, q := range b.queues {
		qs = append(qs, q)
	}
	for _, s := range b.topicWild {
		qs = append(qs, s.q)
	}
	for _, subs := range b.topicExact {
		for _, s := range subs {
			qs = append(qs, s.q)
		}
	}
	for _, s := range b.durables {
		if !s.registered {
			qs = append(qs, s.q)
		}
	}
	return qs
}

// Stats returns counters for every queue and topic subscription.
func (b *Broker) Stats() []QueueStats {
	qs := b.allQueues()
	out := make([]QueueStats, 0, len(qs))
	for _, q := range qs {
		out = append(out, q.stats())
	}
	return out
}

// MemoryLimit is the memory limit in force.
func (b *Broker) MemoryLimit() int64 { return b.cfg.MemoryLimit }

// MemoryUsage is the number of message bytes held against the memory limit.
func (b *Broker) MemoryUsage() int64 { return b.mem.usage() }

// ResetGroups forgets every message-group owner of a queue (rebalance): the
// next message of each group picks an owner afresh.
func (b *Broker) ResetGroups(queueName string) error {
	b.mu.RLock()
	q := b.queues[queueName]
	b.mu.RUnlock()
	if q == nil {
		return fmt.Errorf("reset groups: no queue %q", queueName)
	}
	q.mu.Lock()
	q.groups.Reset()
	q.dispatchLocked()
	q.mu.Unlock()
	return nil
}
