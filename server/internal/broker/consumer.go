package broker

import (
	"errors"
	"fmt"

	"github.com/tethermq/tether/server/internal/selector"
)

// AckMode is how a consumer's messages are acknowledged.
type AckMode uint8

const (
	// AckAuto: the connector acknowledges each message once it has written
	// it to the client, so prefetch still bounds what is in flight.
	AckAuto AckMode = iota
	// AckClient: cumulative; acking a message acks every earlier one
	// dispatched to the same consumer.
	AckClient
	// AckIndividual: each message is acked on its own.
	AckIndividual
)

// Default prefetch sizes, ActiveMQ's.
const (
	DefaultQueuePrefetch   = 1000
	DefaultTopicPrefetch   = 32767
	DefaultDurablePrefetch = 100
)

// ConsumerOptions describe a subscription.
type ConsumerOptions struct {
	Dest        Destination
	AckMode     AckMode
	Prefetch    int // 0 = the default for the destination kind
	Selector    string
	Exclusive   bool
	Priority    int
	DurableName string // topic only; needs the session's client id
	NoLocal     bool   // topic only: skip messages sent by this session
	Browser     bool   // queue only: see messages without consuming them (not dispatched)
	// NetworkPath marks a network bridge's consumer: the brokers whose
	// demand it represents (nearest first). It shows in advisories.
	NetworkPath []string
	// Filter, when set, must also accept a message for this consumer to get
	// it (network bridges: loop prevention and hop limits).
	Filter func(*Message) bool
}

// ErrUnknownMessage is returned when an ack or nack names a message that is
// not in flight at that consumer (already acked, or redelivered elsewhere).
var ErrUnknownMessage = errors.New("message not in flight at this consumer")

// Consumer receives messages from one queue (or one topic subscription).
type Consumer struct {
	id        uint64
	s         *Session
	q         *queue
	opts      ConsumerOptions
	sel       *selector.Selector
	prefetch  int
	priority  int
	exclusive bool
	browser   bool
	deliver   func(*Delivery)

	// guarded by q.mu
	assigned  plist // pending messages of groups this consumer owns
	nassigned int
	inflight  clist
	byMsgID   map[string]*entry
	closed    bool
}

// ID is the broker-wide consumer id.
func (c *Consumer) ID() uint64 { return c.id }

// Options returns what the consumer was created with.
func (c *Consumer) Options() ConsumerOptions { return c.opts }

func (c *Consumer) fullLocked() bool { return c.closed || c.inflight.n >= c.prefetch }

func (c *Consumer) acceptsLocked(m *Message) bool {
	if c.opts.NoLocal && m.ProducerConn != "" && m.ProducerConn == c.s.id {
		return false
	}
	if c.opts.Filter != nil && !c.opts.Filter(m) {
		return false
	}
	if c.sel == nil {
		return true
	}
	return c.sel.Matches(messageProperty(m))
}

// Ack acknowledges msgID (and, in client mode, everything dispatched to this
// consumer before it). With tx it takes effect at Commit. sync makes the
// store delete durable before done is called (the client asked for a
// receipt). done may be nil; it is called exactly once otherwise.
func (c *Consumer) Ack(msgID, tx string, sync bool, done func(error)) {
	if tx != "" {
		if err := c.s.addTxAck(tx, txAck{c: c, msgID: msgID}); err != nil {
			call(done, err)
			return
		}
		call(done, nil)
		return
	}
	c.ackNow([]txAck{{c: c, msgID: msgID}}, sync, nil, done)
}

// ackNow removes the acked entries from flight and deletes their store
// keys, with extra mutations (a transaction's sends) in the same batch.
func (c *Consumer) collectAcksLocked(msgID string, cumulative bool) ([]*entry, error) {
	e := c.byMsgID[msgID]
	if e == nil {
		return nil, fmt.Errorf("ack %s: %w", msgID, ErrUnknownMessage)
	}
	if !cumulative {
		return []*entry{e}, nil
	}
	var out []*entry
	for x := c.inflight.head; x != nil; x = x.cnext {
		out = append(out, x)
		if x == e {
			break
		}
	}
	return out, nil
}

func (c *Consumer) ackNow(acks []txAck, sync bool, extra *commitOp, done func(error)) {
	op := extra
	if op == nil {
		op = &commitOp{}
	}
	var firstErr error
	for _, a := range acks {
		q := a.c.q
		q.mu.Lock()
		es, err := a.c.collectAcksLocked(a.msgID, a.c.opts.AckMode == AckClient)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		for _, e := range es {
			a.c.inflight.remove(e)
			delete(a.c.byMsgID, e.msg.ID)
			e.consumer = nil
			q.dequeued++
			if k := q.dropLocked(e, true); k != nil {
				op.deletes = append(op.deletes, k)
			}
		}
		q.dispatchLocked()
		q.mu.Unlock()
	}
	op.sync = op.sync || sync
	if firstErr != nil {
		prev := op.done
		op.done = func(err error) {
			if err == nil {
				err = firstErr
			}
			if prev != nil {
				prev(err)
			}
			call(done, err)
		}
	} else if done != nil {
		prev := op.done
		op.done = func(err error) {
			if prev != nil {
				prev(err)
			}
			done(err)
		}
	}
	if len(op.sets) == 0 && len(op.deletes) == 0 && op.apply == nil && !c.s.orderedAfterCommit() {
		finish(op, nil)
		return
	}
	c.s.submit(op)
}

// Nack returns msgID for redelivery (flagged redelivered, delivery count
// incremented), or to the DLQ once it has been redelivered MaxRedeliveries
// times. In client mode it covers every earlier in-flight message too.
func (c *Consumer) Nack(msgID string, done func(error)) {
	q := c.q
	q.mu.Lock()
	es, err := c.collectAcksLocked(msgID, c.opts.AckMode == AckClient)
	now := nowMs()
	for _, e := range es {
		c.inflight.remove(e)
		delete(c.byMsgID, e.msg.ID)
		e.consumer = nil
		q.requeueLocked(e, now)
	}
	q.dispatchLocked()
	q.mu.Unlock()
	call(done, err)
}

// Release returns msgID for redelivery without counting the delivery (AMQP
// Released: the client never processed it).
func (c *Consumer) Release(msgID string, done func(error)) {
	q := c.q
	q.mu.Lock()
	es, err := c.collectAcksLocked(msgID, false)
	now := nowMs()
	for _, e := range es {
		c.inflight.remove(e)
		delete(c.byMsgID, e.msg.ID)
		e.consumer = nil
		e.deliveries--
		q.requeueLocked(e, now)
	}
	q.dispatchLocked()
	q.mu.Unlock()
	call(done, err)
}

// DeadLetter moves msgID straight to ActiveMQ.DLQ (AMQP Rejected, or
// Modified with undeliverable-here).
func (c *Consumer) DeadLetter(msgID, cause string, done func(error)) {
	q := c.q
	q.mu.Lock()
	es, err := c.collectAcksLocked(msgID, false)
	for _, e := range es {
		c.inflight.remove(e)
		delete(c.byMsgID, e.msg.ID)
		e.consumer = nil
		q.deadLetterLocked(e, true, cause)
	}
	q.dispatchLocked()
	q.mu.Unlock()
	call(done, err)
}

// SetPrefetch changes how many unacked messages the consumer may hold
// (AMQP link credit growing after attach).
func (c *Consumer) SetPrefetch(n int) {
	if n < 1 {
		n = 1
	}
	q := c.q
	q.mu.Lock()
	c.prefetch = n
	q.dispatchLocked()
	q.mu.Unlock()
}

// Close stops the consumer; its in-flight messages are redelivered to the
// remaining consumers, in order. A durable subscription keeps its messages.
func (c *Consumer) Close() {
	c.s.removeConsumer(c)
	c.closeQueueSide()
}

func (c *Consumer) closeQueueSide() {
	q := c.q
	q.mu.Lock()
	if c.closed {
		q.mu.Unlock()
		return
	}
	c.closed = true
	q.removeConsumerLocked(c)
	q.mu.Unlock()
	c.s.b.consumerRemoved(c)
}

func call(done func(error), err error) {
	if done != nil {
		done(err)
	}
}

// messageProperty exposes a message's fields and headers to selectors,
// under their JMS names.
func messageProperty(m *Message) func(string) (any, bool) {
	return func(name string) (any, bool) {
		switch name {
		case "JMSPriority":
			return int64(m.Priority), true
		case "JMSTimestamp":
			return m.Timestamp, true
		case "JMSExpiration":
			return m.Expires, true
		case "JMSDeliveryMode":
			if m.Persistent {
				return "PERSISTENT", true
			}
			return "NON_PERSISTENT", true
		case "JMSCorrelationID":
			return m.CorrelationID, m.CorrelationID != ""
		case "JMSType":
			return m.Type, m.Type != ""
		case "JMSMessageID":
			return m.ID, true
		case "JMSXGroupID":
			return m.GroupID, m.GroupID != ""
		case "JMSXGroupSeq":
			return int64(m.GroupSeq), m.GroupID != ""
		}
		v, ok := m.Header(name)
		return v, ok
	}
}
