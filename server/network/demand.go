package network

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tethermq/tether/server/internal/broker"
)

// consumerPriorityBase is ActiveMQ's priority of a network consumer with
// decreaseNetworkConsumerPriority: below every application consumer.
const consumerPriorityBase = -5

// memoryWait bounds how long staging a message may wait for the broker's
// memory limit before the message is forwarded directly instead.
const memoryWait = 200 * time.Millisecond

// mover turns remote demand into local network consumers and moves what
// they receive towards the remote. It is one goroutine, and it alone
// creates, closes and acknowledges for those consumers, so a message is
// never moved after its consumer was closed (the broker would already have
// handed it to someone else).
//
// A message is moved by staging: one local transaction acknowledges it and
// puts a copy into the bridge's outbox queue, so it is in exactly one of
// the two at every instant, on disk if persistent. The forwarder sends the
// outbox to the remote. When the broker's memory limit leaves no room for
// the copy, the message is forwarded directly instead and acknowledged once
// the remote confirmed it (ActiveMQ's way; then a crash of this broker at
// the wrong moment can deliver it here and there).
type mover struct {
	b          *bridge
	events     *mailbox[demandEvent]
	deliveries *mailbox[*broker.Delivery]

	demands    map[string]*demand // by key: destination, or destination#remote-consumer
	byConsumer map[uint64]*demand // open demands by local consumer id
	pending    []*broker.Delivery // delivered, waiting for an outbox slot
	closing    []*demand          // closed to new work, waiting for direct forwards
	txSeq      uint64
}

// demand is one local network consumer and the remote consumers it stands for.
type demand struct {
	dest    broker.Destination
	cons    *broker.Consumer
	remote  map[string]bool // remote consumer ids
	static  bool
	direct  atomic.Int64 // messages forwarded directly, not yet confirmed
	closing bool
}

func newMover(b *bridge) *mover {
	return &mover{
		b: b, events: newMailbox[demandEvent](), deliveries: newMailbox[*broker.Delivery](),
		demands: map[string]*demand{}, byConsumer: map[uint64]*demand{},
	}
}

func (m *mover) run() {
	for {
		for _, ev := range m.events.take() {
			m.apply(ev)
		}
		m.pending = append(m.pending, m.deliveries.take()...)
		m.moveReady()
		m.finishClosing()
		select {
		case <-m.b.ctx.Done():
			return
		case <-m.events.ready():
		case <-m.deliveries.ready():
		case <-m.b.fwd.freed():
		}
	}
}

func (m *mover) apply(ev demandEvent) {
	key := ev.dest.String()
	if ev.static {
		if d := m.demands[key]; d != nil {
			d.static = true
		} else if d := m.open(key, ev); d != nil {
			d.static = true
		}
		return
	}
	if !m.b.wantsDemand(ev, m.b.env.Name) {
		return
	}
	if ev.dest.Kind == broker.Queue && !m.b.opts.ConduitSubscriptions {
		key += "#" + ev.consumerID
	}
	d := m.demands[key]
	if ev.add {
		if d == nil {
			if d = m.open(key, ev); d == nil {
				return
			}
		}
		d.remote[ev.consumerID] = true
		return
	}
	if d == nil {
		return
	}
	delete(d.remote, ev.consumerID)
	if len(d.remote) == 0 && !d.static {
		m.close(key, d)
	}
}

// open creates the local network consumer for a remote demand: priority
// -5 (less further away) with decreaseNetworkConsumerPriority, the
// connector's prefetch, the remote in front of the demand's broker path
// (it shows in this broker's advisories), and the forwarding filter.
func (m *mover) open(key string, ev demandEvent) *demand {
	b := m.b
	path := append([]string{b.remoteName}, ev.path...)
	prio := ev.priority
	if b.opts.DecreaseNetworkConsumerPriority {
		prio = consumerPriorityBase
		if len(path) > 1 {
			prio -= len(path) + 1
		}
	}
	d := &demand{dest: ev.dest, remote: map[string]bool{}}
	cons, err := b.lsess.Subscribe(broker.ConsumerOptions{
		Dest: ev.dest, AckMode: broker.AckIndividual, Prefetch: b.opts.PrefetchSize,
		Priority: prio, NetworkPath: path, Filter: b.forwardFilter(ev.dest),
	}, m.deliveries.push)
	if err != nil {
		b.log.Warn("cannot create a network consumer", "destination", ev.dest.String(), "err", err)
		return nil
	}
	d.cons = cons
	m.demands[key] = d
	m.byConsumer[cons.ID()] = d
	b.log.Debug("forwarding on demand", "destination", ev.dest.String(), "remote", b.remoteName, "priority", prio)
	return d
}

func (m *mover) close(key string, d *demand) {
	delete(m.demands, key)
	delete(m.byConsumer, d.cons.ID())
	d.closing = true
	m.closing = append(m.closing, d)
	m.b.log.Debug("demand gone", "destination", d.dest.String(), "remote", m.b.remoteName)
}

// finishClosing closes the consumers of departed demand once none of their
// messages is on its way: closing returns undelivered and unconfirmed
// messages to the queue, which must not happen to one the remote may have.
func (m *mover) finishClosing() {
	m.closing = slices.DeleteFunc(m.closing, func(d *demand) bool {
		if d.direct.Load() > 0 {
			return false
		}
		d.cons.Close()
		return true
	})
}

// moveReady moves pending deliveries while the outbox has room; those of
// closed demand are skipped (the broker took them back when it closed).
func (m *mover) moveReady() {
	n := 0
	for ; n < len(m.pending); n++ {
		dl := m.pending[n]
		d := m.byConsumer[dl.Consumer.ID()]
		if d == nil {
			continue
		}
		if !m.b.fwd.reserve() {
			break
		}
		m.move(d, dl.Message)
	}
	m.pending = append(m.pending[:0], m.pending[n:]...)
}

func (m *mover) move(d *demand, src *broker.Message) {
	b := m.b
	if b.env.MemoryLimit > 0 && b.env.Broker.MemoryUsage() >= b.env.MemoryLimit {
		m.forwardDirect(d, src)
		return
	}
	m.txSeq++
	tx := "bridge-" + strconv.FormatUint(m.txSeq, 10)
	if err := b.lsess.Begin(tx); err != nil {
		b.fail(err)
		return
	}
	var sendErr error
	ctx, cancel := context.WithTimeout(b.ctx, memoryWait)
	b.lsess.Send(ctx, b.outboxCopy(src), tx, func(err error) { sendErr = err }) // done runs before Send returns in a transaction
	cancel()
	if sendErr != nil {
		_ = b.lsess.Abort(tx)
		if b.ctx.Err() == nil {
			m.forwardDirect(d, src)
		}
		return
	}
	d.cons.Ack(src.ID, tx, false, nil)
	b.lsess.Commit(tx, func(err error) {
		if err != nil {
			b.log.Error("staging a message in the outbox failed", "message", src.ID, "err", err)
			b.fail(err)
		}
	})
}

// forwardDirect sends src to the remote straight from its consumer.
func (m *mover) forwardDirect(d *demand, src *broker.Message) {
	m.b.log.Debug("memory limit reached: forwarding without staging", "message", src.ID)
	d.direct.Add(1)
	m.b.fwd.submit(item{
		msg: src, dest: src.Dest, dupID: m.b.forwardDupID(src),
		confirmed: func() {
			d.cons.Ack(src.ID, "", true, nil)
			d.direct.Add(-1)
		},
		refused: func() {
			d.cons.Nack(src.ID, nil)
			d.direct.Add(-1)
		},
	})
}

// forwardFilter is the network consumer's filter (run under the queue's
// lock, so it only reads): a message goes to the remote unless it has
// travelled messageTTL hops already, or it came from the remote, which is
// allowed only for a queue with no consumer here when
// replayWhenNoConsumers is on.
func (b *bridge) forwardFilter(dest broker.Destination) func(*broker.Message) bool {
	ttl := b.opts.messageTTL()
	remote := b.remoteName
	replay := b.opts.ReplayWhenNoConsumers && dest.Kind == broker.Queue
	watch := b.watch
	return func(msg *broker.Message) bool {
		if len(msg.BrokerPath) >= ttl {
			return false
		}
		if slices.Contains(msg.BrokerPath, remote) {
			return replay && watch != nil && !watch.hasLocalConsumers(dest)
		}
		return true
	}
}
