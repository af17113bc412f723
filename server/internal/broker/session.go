package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tethermq/tether/server/internal/selector"
)

// Errors a connector maps to protocol errors.
var (
	ErrTxUnknown      = errors.New("unknown transaction")
	ErrTxExists       = errors.New("transaction already begun")
	ErrNeedClientID   = errors.New("durable subscription needs a client id")
	ErrDurableActive  = errors.New("durable subscription already has an active consumer")
	ErrDurableUnknown = errors.New("no such durable subscription")
	ErrSessionClosed  = errors.New("session closed")
	errClosed         = errors.New("broker closed")
)

// SessionOptions identify a client connection.
type SessionOptions struct {
	ClientID string // for durable subscriptions; a second session with the same id takes it over
	User     string
	// OnStolen is called (once, from another goroutine) when a newer session
	// claims the same client id; the connector should close its connection.
	OnStolen func()
	// Access, when set, checks every Send and Subscribe for User (authz.go).
	Access *AccessControl
	// Protocol and RemoteAddr describe the connection for the admin API.
	Protocol, RemoteAddr string
}

// Session is one client connection's view of the broker: its consumers,
// transactions and the ordering of its sends.
type Session struct {
	b    *Broker
	id   string
	opts SessionOptions

	inCommit atomic.Int64 // ops of this session still in the committer

	mu        sync.Mutex
	consumers map[uint64]*Consumer
	txs       map[string]*txState
	closed    bool
}

type txState struct {
	sends []*Message
	acks  []txAck
}

type txAck struct {
	c     *Consumer
	msgID string
}

// ID is the broker-wide session id.
func (s *Session) ID() string { return s.id }

// ClientID is the client id the session was opened with.
func (s *Session) ClientID() string { return s.opts.ClientID }

// Send routes m to its destination. For a persistent message done is called
// once it is on disk (so the connector may send its receipt); the broker
// keeps the session's messages in order even though sends are pipelined.
// Send blocks while the broker's memory limit is reached (producer flow
// control), bounded by ctx. A message whose DupID was already seen by the
// destination is dropped and reported as success. done is called exactly
// once, possibly before Send returns.
func (s *Session) Send(ctx context.Context, m *Message, tx string, done func(error)) {
	if err := s.b.prepare(m, s); err != nil {
		call(done, err)
		return
	}
	if err := s.Check(ActionWrite, m.Dest); err != nil {
		call(done, err)
		return
	}
	m.size = m.memSize()
	if m.Persistent {
		if err := s.b.space.wait(ctx, m.Dest); err != nil {
			call(done, err)
			return
		}
	}
	if m.Persistent && m.Dest.Kind == Queue {
		// Stored before it is queued, and queued on disk when the window is
		// full: memory does not bound a persistent backlog (storeUsage does).
		s.b.mem.charge(m.size)
	} else if err := s.b.mem.acquire(ctx, m.size); err != nil {
		call(done, fmt.Errorf("send to %s: waiting for memory: %w", m.Dest, err))
		return
	}
	m.refs = 1 // the send's own hold, dropped once routed
	if tx != "" {
		s.mu.Lock()
		t := s.txs[tx]
		if t != nil {
			t.sends = append(t.sends, m)
		}
		s.mu.Unlock()
		if t == nil {
			s.b.unref(m)
			call(done, fmt.Errorf("send in transaction %q: %w", tx, ErrTxUnknown))
			return
		}
		call(done, nil)
		return
	}
	op := &commitOp{done: done}
	s.b.routeInto(op, m)
	if len(op.sets) == 0 && s.inCommit.Load() == 0 {
		finish(op, nil)
		return
	}
	op.sync = m.Persistent
	s.submit(op)
}

// submit sends op through the committer, counting it so later non-persistent
// work of this session waits its turn.
func (s *Session) submit(op *commitOp) {
	if s.b.commit.hold(op) {
		return // nothing to complete: the write is held and goes out with the next batch
	}
	s.inCommit.Add(1)
	apply := op.apply
	op.apply = func(err error) {
		if apply != nil {
			apply(err)
		}
		s.inCommit.Add(-1)
	}
	s.b.commit.submit(op)
}

func (s *Session) orderedAfterCommit() bool { return s.inCommit.Load() > 0 }

// Flush calls done once everything the session submitted before it has
// completed (a DISCONNECT receipt).
func (s *Session) Flush(done func(error)) {
	if s.inCommit.Load() == 0 {
		call(done, nil)
		return
	}
	s.submit(&commitOp{done: done})
}

// Begin starts a transaction.
func (s *Session) Begin(tx string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	if _, ok := s.txs[tx]; ok {
		return fmt.Errorf("begin %q: %w", tx, ErrTxExists)
	}
	s.txs[tx] = &txState{}
	return nil
}

func (s *Session) takeTx(tx string) (*txState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txs[tx]
	if t == nil {
		return nil, fmt.Errorf("transaction %q: %w", tx, ErrTxUnknown)
	}
	delete(s.txs, tx)
	return t, nil
}

func (s *Session) addTxAck(tx string, a txAck) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txs[tx]
	if t == nil {
		return fmt.Errorf("ack in transaction %q: %w", tx, ErrTxUnknown)
	}
	t.acks = append(t.acks, a)
	return nil
}

// Commit applies a transaction's sends and acks in one durable store batch.
func (s *Session) Commit(tx string, done func(error)) {
	t, err := s.takeTx(tx)
	if err != nil {
		call(done, err)
		return
	}
	op := &commitOp{}
	for _, m := range t.sends {
		s.b.routeInto(op, m)
		op.sync = op.sync || m.Persistent
	}
	if len(t.acks) == 0 {
		op.done = done
		s.submit(op)
		return
	}
	// Acks of messages no longer in flight (redelivered elsewhere since)
	// are ignored, as a broker that lost track of them would.
	t.acks[0].c.ackNow(t.acks, true, op, func(err error) {
		if errors.Is(err, ErrUnknownMessage) {
			err = nil
		}
		call(done, err)
	})
}

// Abort discards a transaction's sends and acks. Messages whose acks are
// discarded stay in flight at their consumer, as in ActiveMQ.
func (s *Session) Abort(tx string) error {
	t, err := s.takeTx(tx)
	if err != nil {
		return err
	}
	for _, m := range t.sends {
		s.b.unref(m)
	}
	return nil
}

// Subscribe creates a consumer. deliver is called under the destination's
// lock for each dispatched message: it must not block and must not call
// back into the broker; a connector queues the delivery for its writer.
func (s *Session) Subscribe(o ConsumerOptions, deliver func(*Delivery)) (*Consumer, error) {
	if o.Browser {
		return nil, errors.New("subscribe: queue browsers are not supported")
	}
	sel, err := selector.Parse(o.Selector)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: selector: %w", o.Dest, err)
	}
	if o.Dest.Kind == Queue && o.Dest.IsWildcard() {
		return nil, fmt.Errorf("subscribe %s: wildcard queues are not supported", o.Dest)
	}
	if err := s.Check(ActionRead, o.Dest); err != nil {
		return nil, err
	}
	c := &Consumer{
		id: s.b.nextConsumerID.Add(1), s: s, opts: o, priority: o.Priority,
		exclusive: o.Exclusive, deliver: deliver, byMsgID: make(map[string]*entry),
	}
	c.prefetch = o.Prefetch
	if c.prefetch <= 0 {
		switch {
		case o.Dest.Kind == Queue:
			c.prefetch = DefaultQueuePrefetch
		case o.DurableName != "":
			c.prefetch = DefaultDurablePrefetch
		default:
			c.prefetch = DefaultTopicPrefetch
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrSessionClosed
	}
	s.mu.Unlock()

	switch {
	case o.Dest.Kind == Queue:
		if o.DurableName != "" {
			return nil, fmt.Errorf("subscribe %s: durable subscriptions are for topics", o.Dest)
		}
		c.sel = sel
		c.q = s.b.queueFor(o.Dest)
	case o.DurableName != "":
		if s.opts.ClientID == "" {
			return nil, fmt.Errorf("subscribe %s: %w", o.Dest, ErrNeedClientID)
		}
		q, err := s.b.durableFor(s, o, sel, c)
		if err != nil {
			return nil, err
		}
		c.q = q
	default:
		c.q = s.b.newTopicSub(s, o, sel)
	}

	s.mu.Lock()
	s.consumers[c.id] = c
	s.mu.Unlock()
	q := c.q
	q.mu.Lock()
	q.addConsumerLocked(c)
	q.dispatchLocked()
	q.mu.Unlock()
	s.b.replayAdvisories(q)
	s.b.consumerAdded(c)
	return c, nil
}

// Unsubscribe deletes a durable subscription and its messages. It fails if
// the subscription has an active consumer.
func (s *Session) Unsubscribe(durableName string) error {
	if s.opts.ClientID == "" {
		return ErrNeedClientID
	}
	return s.b.deleteDurable(durableQID(s.opts.ClientID, durableName))
}

func (s *Session) removeConsumer(c *Consumer) {
	s.mu.Lock()
	delete(s.consumers, c.id)
	s.mu.Unlock()
}

// Close ends the session: open transactions are rolled back, consumers
// closed (their in-flight messages redelivered), non-durable topic
// subscriptions removed.
func (s *Session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	cs := make([]*Consumer, 0, len(s.consumers))
	for _, c := range s.consumers {
		cs = append(cs, c)
	}
	s.consumers = map[uint64]*Consumer{}
	txs := s.txs
	s.txs = map[string]*txState{}
	s.mu.Unlock()
	for _, t := range txs {
		for _, m := range t.sends {
			s.b.unref(m)
		}
	}
	for _, c := range cs {
		c.closeQueueSide()
	}
	s.b.sessionClosed(s)
}
