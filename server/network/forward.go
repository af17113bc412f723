package network

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/server/internal/broker"
)

// forwarder sends to the remote: the outbox's messages, and those the mover
// forwards directly. One goroutine sends them in order with the SDK's
// pipelined send, without waiting (the remote's group commit then takes
// many per fsync); another waits for the confirmations, in the same order,
// and acknowledges each message here only after the remote confirmed it.
// Every send of a message carries the same duplicate id, so the remote
// stores it once however often a broken bridge makes us send it again.
type forwarder struct {
	b       *bridge
	cons    *broker.Consumer // on the outbox
	queue   *mailbox[item]   // to write, in order
	written *mailbox[sent]   // written, receipt awaited, in order

	// free counts outbox slots: the mover reserves one per message it
	// moves, one is released per message confirmed, so at most
	// prefetchSize messages are committed to the remote and not there yet.
	free    atomic.Int64
	max     int64
	freedCh chan struct{}
}

// item is one message to send to the remote.
type item struct {
	msg       *broker.Message
	dest      broker.Destination
	dupID     string
	confirmed func() // the remote stored it
	refused   func() // the remote refused it (its redelivery count grows)
}

type sent struct {
	it item
	p  *client.PendingSend // nil: dropped (expired), nothing to wait for
}

func newForwarder(b *bridge) *forwarder {
	f := &forwarder{b: b, queue: newMailbox[item](), written: newMailbox[sent](), max: int64(b.opts.PrefetchSize), freedCh: make(chan struct{}, 1)}
	f.free.Store(f.max)
	return f
}

// start consumes the outbox, beginning with whatever an earlier bridge
// left unconfirmed.
func (f *forwarder) start() error {
	b := f.b
	cons, err := b.lsess.Subscribe(broker.ConsumerOptions{
		Dest: b.outbox, AckMode: broker.AckIndividual, Prefetch: b.opts.PrefetchSize,
		NetworkPath: []string{b.remoteName},
	}, f.fromOutbox)
	if err != nil {
		return fmt.Errorf("outbox %s: %w", b.outbox.Name, err)
	}
	f.cons = cons
	b.goRun(f.write)
	b.goRun(f.confirm)
	return nil
}

// fromOutbox runs under the outbox's lock: it only queues.
func (f *forwarder) fromOutbox(d *broker.Delivery) {
	m := d.Message
	dest, err := broker.ParseDestination(headerValue(m, hdrDest))
	if err != nil {
		// Not staged by a bridge: there is nowhere to send it. Refused, it
		// ends in the DLQ instead of blocking the outbox.
		f.submit(item{msg: m, refused: func() { f.cons.Nack(m.ID, nil) }})
		return
	}
	f.submit(item{
		msg: m, dest: dest, dupID: m.DupID,
		confirmed: func() { f.cons.Ack(m.ID, "", false, nil) },
		refused:   func() { f.cons.Nack(m.ID, nil) },
	})
}

func (f *forwarder) submit(it item) { f.queue.push(it) }

func (f *forwarder) write() {
	b := f.b
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-f.queue.ready():
		}
		for _, it := range f.queue.take() {
			switch {
			case it.confirmed == nil:
				b.log.Error("outbox message without a destination: refused", "message", it.msg.ID)
				it.refused()
				f.release()
				continue
			case it.msg.Expires > 0 && time.Now().UnixMilli() >= it.msg.Expires:
				// Expired on its way: dropped, as the broker drops it.
				f.written.push(sent{it: it})
				continue
			}
			p, err := b.remote.SendAsync(b.ctx, it.dest.String(), it.msg.Body, b.outgoing(it.msg, it.dupID)...)
			if err != nil {
				// Not sent: it stays unacknowledged here and is sent
				// again, with the same duplicate id, by the next bridge.
				b.fail(fmt.Errorf("forward to %s: %w", it.dest, err))
				return
			}
			f.written.push(sent{it: it, p: p})
		}
	}
}

func (f *forwarder) confirm() {
	b := f.b
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-f.written.ready():
		}
		for _, s := range f.written.take() {
			var err error
			if s.p != nil {
				// A send outlives a lost connection: the SDK re-sends it on
				// the next one. This bridge ends with the connection, and
				// the next one sends the message again from the outbox;
				// the remote keeps one copy (same duplicate id).
				select {
				case <-s.p.Done():
					err = s.p.Err()
				case <-b.ctx.Done():
					return
				}
			}
			var refused *client.BrokerError
			switch {
			case err == nil:
				s.it.confirmed()
				b.l.forwarded.Add(1)
				f.release()
			case errors.As(err, &refused):
				b.log.Error("the remote broker refused a forwarded message", "message", s.it.msg.ID, "destination", s.it.dest.String(), "err", err)
				s.it.refused()
				f.release()
				b.fail(fmt.Errorf("forward to %s: %w", s.it.dest, err))
				return
			default:
				b.fail(fmt.Errorf("forward to %s: %w", s.it.dest, err))
				return
			}
		}
	}
}

// reserve takes an outbox slot (mover only).
func (f *forwarder) reserve() bool {
	for {
		n := f.free.Load()
		if n <= 0 {
			return false
		}
		if f.free.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// release returns a slot. Messages staged by an earlier bridge release
// slots nobody reserved, hence the cap.
func (f *forwarder) release() {
	for {
		n := f.free.Load()
		if n >= f.max || f.free.CompareAndSwap(n, n+1) {
			break
		}
	}
	select {
	case f.freedCh <- struct{}{}:
	default:
	}
}

// freed is signalled when a slot comes free or a direct forward ended.
func (f *forwarder) freed() <-chan struct{} { return f.freedCh }
