package amqp

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/selector"
)

// senderLink is a link the peer receives messages from (a consumer): the
// broker is its sender. It owns one broker consumer.
//
// Link credit is the prefetch: a queue consumer is created when the peer
// first grants credit, with that credit as its prefetch (or
// Options.Prefetch), so the broker never has more of this link's messages
// in flight than the receiver asked for and competing consumers get the
// rest. (The prefetch stays fixed afterwards: the broker core cannot
// change it.) Deliveries beyond the current credit (the receiver lowered
// it, or drained) wait in pending, which the prefetch bounds.
//
// Settlement: snd-settle-mode settled makes deliveries pre-settled
// (at-most-once; the consumer acknowledges each once it is written);
// otherwise each delivery waits for the receiver's outcome.
type senderLink struct {
	s          *session
	handle     uint32
	name       string
	opts       broker.ConsumerOptions
	presettled bool
	rcvSecond  bool // the receiver settles only after our confirmation
	durable    bool // a durable topic subscription named after the link
	temp       bool // the source is a temporary queue made for this link (dynamic source)
	browse     bool // distribution-mode copy on a queue: a browser, which consumes nothing
	browser    *broker.QueueBrowser

	consumer  *broker.Consumer
	subFailed bool

	deliveryCount uint32
	credit        uint32
	drain         bool
	pending       []*broker.Delivery
	inReady       bool
	nextTag       uint64
	closed        bool
}

// outDelivery is a delivery sent and not yet settled by the receiver.
type outDelivery struct {
	link  *senderLink
	msgID string
}

// outTransfer is a delivery being written frame by frame.
type outTransfer struct {
	link    *senderLink
	id      uint32
	tag     []byte
	settled bool
	payload []byte
	off     int
}

// Selector filters (the JMS selector filter registered by Apache for AMQP).
const (
	selectorFilterCode   = uint64(0x0000468C00000004)
	selectorFilterSymbol = wire.Symbol("apache.org:selector-filter:string")
)

func (s *session) attachSender(p *wire.Attach) error {
	reply := &wire.Attach{
		Name: p.Name, Handle: p.Handle, Role: wire.RoleSender,
		SndSettleMode: p.SndSettleMode, RcvSettleMode: p.RcvSettleMode,
		Source: p.Source, Target: p.Target,
	}
	if p.Source == nil {
		s.refuse(reply, wire.CondInvalidField, "attach without a source")
		return nil
	}
	var d broker.Destination
	var err error
	src := *p.Source
	if p.Source.Dynamic {
		// A temporary queue, named here and deleted when the link ends.
		if d, err = s.c.createTemp(); err != nil {
			s.refuse(reply, wire.CondInternalError, err.Error())
			return nil
		}
		src.Address = d.String()
	} else if d, err = broker.ParseDestination(p.Source.Address); err != nil {
		s.refuse(reply, wire.CondInvalidField, err.Error())
		return nil
	}
	if !p.Source.Dynamic {
		// A temporary queue belongs to this connection; any other source
		// needs read rights.
		if err := s.c.bs.Check(broker.ActionRead, d); err != nil {
			s.refuse(reply, wire.CondUnauthorizedAccess, err.Error())
			return nil
		}
	}
	reply.Source = &src
	l := &senderLink{
		s: s, handle: p.Handle, name: p.Name,
		presettled: p.SndSettleMode == wire.SndSettled,
		rcvSecond:  p.RcvSettleMode == wire.RcvSecond,
		opts:       broker.ConsumerOptions{Dest: d, AckMode: broker.AckIndividual, Prefetch: s.c.srv.opts.Prefetch},
		temp:       p.Source.Dynamic,
	}
	if l.presettled {
		l.opts.AckMode = broker.AckAuto
	}
	// Only the filters applied are echoed, so the receiver can tell.
	src.Filter = nil
	for _, e := range p.Source.Filter {
		desc, ok := e.Value.(wire.Described)
		text, isText := desc.Value.(string)
		if !ok || !isText || (desc.Descriptor != selectorFilterCode && desc.Descriptor != selectorFilterSymbol) {
			continue
		}
		if _, err := selector.Parse(text); err != nil {
			s.refuse(reply, wire.CondInvalidField, "selector: "+err.Error())
			return nil
		}
		l.opts.Selector = text
		src.Filter = append(src.Filter, e)
	}
	if d.Kind == broker.Topic {
		src.DistributionMode = "copy"
		// ActiveMQ's convention: a durable, never-expiring source on a
		// topic is a durable subscription named after the link.
		if p.Source.Durable != 0 && p.Source.ExpiryPolicy == "never" {
			l.durable = true
			l.opts.DurableName = p.Name
		}
	} else {
		if d.IsWildcard() {
			s.refuse(reply, wire.CondNotAllowed, "cannot consume from the wildcard queue "+d.String())
			return nil
		}
		if p.Source.DistributionMode == "copy" {
			return s.attachBrowser(l, reply, &src)
		}
		src.DistributionMode = "move"
	}
	s.senders[p.Handle] = l
	s.c.write(s.ch, reply, nil)
	// A topic subscription must exist as soon as the receiver is attached,
	// or it would miss what is published before its first credit; a
	// topic's prefetch only bounds what waits here, since no other
	// consumer competes for its messages. A queue consumer waits for the
	// first credit, which becomes its prefetch.
	if l.opts.Prefetch > 0 || d.Kind == broker.Topic {
		return l.subscribe(l.opts.Prefetch)
	}
	return nil
}

// subscribe creates the broker consumer. Its deliveries arrive under the
// destination's lock, so they only go into the inbox.
// A prefetch of 0 takes the broker's default for the destination.
func (l *senderLink) subscribe(prefetch int) error {
	l.opts.Prefetch = min(prefetch, maxPrefetch)
	c, err := l.s.c.bs.Subscribe(l.opts, func(d *broker.Delivery) {
		l.s.c.inbox.push(event{link: l, delivery: d})
	})
	if err != nil {
		l.subFailed = true
		cond := wire.CondInternalError
		if errors.Is(err, broker.ErrUnauthorized) {
			cond = wire.CondUnauthorizedAccess
		}
		return errLink(l.s, l.handle, cond, "subscribe %s: %v", l.opts.Dest, err)
	}
	l.consumer = c
	return nil
}

// onFlow applies the receiver's credit: credit = its delivery-count + its
// link-credit - our delivery-count (transfers it had not seen yet still
// count against its credit).
func (l *senderLink) onFlow(p *wire.Flow) error {
	if p.LinkCredit != nil {
		rcvCount := uint32(0) // our initial delivery-count, if it has not seen our attach
		if p.DeliveryCount != nil {
			rcvCount = *p.DeliveryCount
		}
		unseen := l.deliveryCount - rcvCount
		if unseen > *p.LinkCredit {
			l.credit = 0
		} else {
			l.credit = *p.LinkCredit - unseen
		}
	}
	l.drain = p.Drain
	l.fillBrowse()
	if l.consumer == nil && !l.subFailed && !l.browse && l.credit > 0 {
		if err := l.subscribe(int(l.credit)); err != nil {
			return err
		}
		// Subscribing dispatched what was waiting into the inbox: take it
		// now, so that a drain below does not give up credit it could use.
		if err := l.s.c.onEvents(); err != nil {
			return err
		}
	}
	l.s.markReady(l)
	l.s.pump()
	if !l.checkDrain() && p.Echo {
		l.writeFlow(false)
	}
	return nil
}

// checkDrain completes a drain the receiver asked for once nothing more
// can be sent on its credit: with nothing pending the rest of the credit
// is used up (the delivery count advances), and a flow tells the receiver.
// It runs after each flow and each delivery sent, so a drain held up by
// the session window completes when the window opens. It reports whether
// it sent a flow.
func (l *senderLink) checkDrain() bool {
	if !l.drain || l.closed || (l.s.partial != nil && l.s.partial.link == l) {
		return false
	}
	if len(l.pending) == 0 {
		l.deliveryCount += l.credit
		l.credit = 0
	}
	if l.credit > 0 {
		return false
	}
	l.drain = false
	l.writeFlow(true)
	return true
}

func (l *senderLink) writeFlow(drain bool) {
	h, dc, credit := l.handle, l.deliveryCount, l.credit
	avail := uint32(len(l.pending))
	l.s.writeFlow(&wire.Flow{Handle: &h, DeliveryCount: &dc, LinkCredit: &credit, Available: &avail, Drain: drain})
}

// onDelivery queues a message the broker dispatched to this link.
func (l *senderLink) onDelivery(d *broker.Delivery) {
	if l.closed {
		return // the consumer was closed: the broker redelivers it
	}
	l.pending = append(l.pending, d)
	l.s.markReady(l)
}

func (s *session) markReady(l *senderLink) {
	if !l.inReady && !l.closed && l.credit > 0 && len(l.pending) > 0 {
		l.inReady = true
		s.ready = append(s.ready, l)
	}
}

// pump writes transfers while the peer's session window allows: first the
// rest of a delivery part-way through its frames, then new deliveries from
// ready links in turn.
func (s *session) pump() {
	for s.remoteInWindow > 0 && !s.ending {
		if t := s.partial; t != nil {
			s.writeTransferFrame()
			if s.partial == nil {
				t.link.checkDrain() // after the delivery's last frame, never before
			}
			continue
		}
		if len(s.ready) == 0 {
			return
		}
		l := s.ready[0]
		s.ready = s.ready[1:]
		l.inReady = false
		if l.closed || l.credit == 0 || len(l.pending) == 0 {
			continue
		}
		d := l.pending[0]
		l.pending[0] = nil
		l.pending = l.pending[1:]
		s.startDelivery(l, d)
		s.markReady(l)
	}
}

func (s *session) startDelivery(l *senderLink, d *broker.Delivery) {
	l.credit--
	l.deliveryCount++
	id := s.nextDeliveryID
	s.nextDeliveryID++
	tag := binary.BigEndian.AppendUint64(nil, l.nextTag)
	l.nextTag++
	s.partial = &outTransfer{link: l, id: id, tag: tag, settled: l.presettled, payload: fromBroker(d, time.Now(), s.c.log.Warn)}
	switch {
	case l.browse:
		// A browser's deliveries consume nothing, whatever their outcome.
		if !l.presettled {
			s.unsettled[id] = &outDelivery{link: l, msgID: d.Message.ID}
		}
	case l.presettled:
		// At-most-once: acknowledged once written (broker.AckAuto).
		c, msgID := l.consumer, d.Message.ID
		s.c.afterFlush = append(s.c.afterFlush, func() { c.Ack(msgID, "", false, nil) })
	default:
		s.unsettled[id] = &outDelivery{link: l, msgID: d.Message.ID}
	}
}

// writeTransferFrame writes the next frame of the partial delivery, as
// much payload as the peer's max-frame-size allows.
func (s *session) writeTransferFrame() {
	t := s.partial
	tr := &wire.Transfer{Handle: t.link.handle, More: true}
	if t.off == 0 {
		format := uint32(0)
		tr.DeliveryID, tr.DeliveryTag, tr.MessageFormat, tr.Settled = &t.id, t.tag, &format, &t.settled
	}
	overhead := wire.FrameHeaderSize + len(wire.AppendPerformative(make([]byte, 0, 64), tr))
	n := min(len(t.payload)-t.off, s.c.maxFrameOut-overhead)
	tr.More = t.off+n < len(t.payload)
	s.c.write(s.ch, tr, t.payload[t.off:t.off+n])
	t.off += n
	s.nextOutgoingID++
	s.remoteInWindow--
	if !tr.More {
		s.partial = nil
	}
}

// settle applies the receiver's disposition to one unsettled delivery.
//
// Outcomes (ActiveMQ's mapping):
//   - Accepted acknowledges the message.
//   - Released returns it without counting a delivery (the receiver never
//     processed it).
//   - Modified{delivery-failed} returns it counted (Consumer.Nack), so after
//     MaxRedeliveries it goes to the DLQ; Modified without delivery-failed
//     returns it uncounted.
//   - Rejected, and Modified{undeliverable-here}, send it to the DLQ at once.
//   - Received (not an outcome) changes nothing; a settlement without any
//     state counts as Accepted (the receiver is done with it).
func (s *session) settle(id uint32, d *outDelivery, p *wire.Disposition) {
	state := p.State
	if state == nil && p.Settled {
		state = wire.Accepted{}
	}
	if d.link.browse {
		if _, terminal := state.(*wire.Received); terminal || state == nil {
			return
		}
		delete(s.unsettled, id) // a copy: nothing to acknowledge
		if !p.Settled {
			s.c.write(s.ch, &wire.Disposition{Role: wire.RoleSender, First: id, Settled: true, State: state}, nil)
		}
		return
	}
	if ts, ok := state.(*wire.TransactionalState); ok {
		if ts.Outcome == nil {
			return // transactional acquisition only: not supported, nothing to do
		}
		outcome, err := s.txnAckFor(d, ts)
		if err != nil {
			s.c.log.Info("amqp transactional disposition ignored", "err", err)
			return
		}
		if outcome == nil { // acknowledged in the transaction
			delete(s.unsettled, id)
			if !p.Settled {
				s.c.write(s.ch, &wire.Disposition{Role: wire.RoleSender, First: id, Settled: true, State: ts}, nil)
			}
			return
		}
		state = outcome
	}
	c := d.link.consumer
	switch state.(type) {
	case wire.Accepted:
		c.Ack(d.msgID, "", false, nil)
	case wire.Released:
		c.Release(d.msgID, nil)
	case *wire.Rejected:
		c.DeadLetter(d.msgID, "rejected by the AMQP receiver", nil)
	case *wire.Modified:
		m := state.(*wire.Modified)
		switch {
		case m.UndeliverableHere:
			c.DeadLetter(d.msgID, "undeliverable here (AMQP modified)", nil)
		case m.DeliveryFailed:
			c.Nack(d.msgID, nil)
		default:
			c.Release(d.msgID, nil)
		}
	default:
		return // Received, or a state without an outcome: still unsettled
	}
	delete(s.unsettled, id)
	if !p.Settled {
		// rcv-settle-mode second: the receiver waits for us to settle.
		s.c.write(s.ch, &wire.Disposition{Role: wire.RoleSender, First: id, Settled: true, State: state}, nil)
	}
}

// close closes the consumer: its unsettled and pending deliveries are
// redelivered by the broker. closed=true on a durable subscription's link
// also deletes the subscription, as in ActiveMQ.
func (l *senderLink) close(closed bool) {
	if l.closed {
		return
	}
	l.closed = true
	l.pending, l.browser = nil, nil
	s := l.s
	if s.partial != nil && s.partial.link == l {
		s.partial = nil
	}
	for id, d := range s.unsettled {
		if d.link == l {
			delete(s.unsettled, id)
		}
	}
	if l.temp {
		defer s.c.dropTemp(l.opts.Dest) // after the consumer is closed
	}
	if l.consumer == nil {
		return
	}
	l.consumer.Close()
	if l.durable && closed {
		if err := s.c.bs.Unsubscribe(l.opts.DurableName); err != nil {
			s.c.log.Info("amqp durable subscription not removed", "name", l.opts.DurableName, "err", err)
		}
	}
}

// attachBrowser completes the attach of a queue browser (a source with
// distribution-mode copy, ActiveMQ's activemq.mode=browse): it is sent
// the messages waiting in the queue when it attached (in memory or paged
// out to disk), as far as its credit goes, and consumes none of them.
// Once it has them all, a drain completes at once: that is how a client
// learns the browse is over.
func (s *session) attachBrowser(l *senderLink, reply *wire.Attach, src *wire.Source) error {
	br, err := s.c.bs.Browse(l.opts.Dest, l.opts.Selector)
	if err != nil {
		s.refuse(reply, wire.CondInternalError, err.Error())
		return nil
	}
	src.DistributionMode = "copy"
	l.browse, l.browser = true, br
	s.senders[reply.Handle] = l
	s.c.write(s.ch, reply, nil)
	return nil
}

// fillBrowse takes from the browser as many messages as the credit allows,
// no more, since messages paged out to disk are read for it. So whenever
// a browser link has credit left and nothing pending, the browse is over.
func (l *senderLink) fillBrowse() {
	if want := int(l.credit) - len(l.pending); l.browser != nil && want > 0 {
		for _, m := range l.browser.Next(want) {
			l.pending = append(l.pending, &broker.Delivery{Message: m, DeliveryCount: 1})
		}
	}
}
