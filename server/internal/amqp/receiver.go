package amqp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
	"github.com/tethermq/tether/server/internal/broker"
)

// receiverLink is a link the peer sends messages on (a producer): the
// broker is its receiver. Every message goes to the broker through the
// connection's producer, in order; an unsettled transfer is answered with
// Accepted only once the broker's Send has completed, which for a
// persistent message means it is on disk. Rejected carries the error.
//
// Credit is the producer flow control: at most ProducerCredit transfers
// are granted and not yet confirmed by the broker, so a producer faster
// than the store waits for credit (ActiveMQ's transport.producerCredit).
type receiverLink struct {
	s         *session
	handle    uint32
	name      string
	dest      broker.Destination
	anonymous bool  // no target address: each message's "to" names its destination
	rcvMode   uint8 // wire.RcvFirst: we settle with our outcome; RcvSecond: the peer settles

	deliveryCount uint32 // the sender's, as we have seen it
	credit        uint32 // transfers the peer may still start
	outstanding   int    // messages given to the broker, not yet confirmed
	cur           *incoming
	closed        bool
	temp          bool // dest is a temporary queue made for this link (dynamic target)
	coord         bool // a link to the transaction coordinator (coordinator.go)
}

// incoming is a delivery whose frames are still arriving.
type incoming struct {
	id      uint32
	settled bool
	txn     []byte // the transaction the transfer belongs to, if any
	buf     []byte
	counted int // bytes of buf counted in conn.partialBytes
}

// sendReq is one message on its way to the broker.
type sendReq struct {
	link    *receiverLink
	id      uint32 // delivery id
	settled bool   // pre-settled by the peer: no disposition
	msg     *broker.Message
	tx      string // the broker transaction the send belongs to, if any
	txn     []byte // its AMQP id, for the transactional state we answer with
	// op, when set, runs instead of a send (a transaction's discharge, a
	// temporary queue's deletion), so that it is ordered after the sends
	// before it; opDone then runs on the loop with its result.
	op     func(ctx context.Context, done func(error))
	opDone func(error)
}

func (s *session) attachReceiver(p *wire.Attach) error {
	o := s.c.srv.opts
	reply := &wire.Attach{
		Name: p.Name, Handle: p.Handle, Role: wire.RoleReceiver,
		SndSettleMode: p.SndSettleMode, RcvSettleMode: p.RcvSettleMode,
		Source: p.Source, Target: p.Target, MaxMessageSize: uint64(o.MaxMessageSize),
	}
	l := &receiverLink{s: s, handle: p.Handle, name: p.Name, rcvMode: p.RcvSettleMode,
		deliveryCount: p.InitialDeliveryCount}
	switch {
	case p.Coordinator != nil:
		// Local transactions only: the capabilities we support are echoed.
		reply.Coordinator = &wire.Coordinator{Capabilities: []wire.Symbol{capLocalTransactions}}
		l.coord = true
	case p.Target == nil:
		s.refuse(reply, wire.CondInvalidField, "attach without a target")
		return nil
	case p.Target.Dynamic:
		d, err := s.c.createTemp()
		if err != nil {
			s.refuse(reply, wire.CondInternalError, err.Error())
			return nil
		}
		t := *p.Target
		t.Address = d.String()
		reply.Target = &t
		l.dest, l.temp = d, true
	case p.Target.Address == "":
		l.anonymous = true
	default:
		d, err := destination(p.Target.Address)
		if err != nil {
			s.refuse(reply, wire.CondInvalidField, err.Error())
			return nil
		}
		if err := s.c.bs.Check(broker.ActionWrite, d); err != nil {
			s.refuse(reply, wire.CondUnauthorizedAccess, err.Error())
			return nil
		}
		l.dest = d
	}
	s.receivers[p.Handle] = l
	s.c.write(s.ch, reply, nil)
	l.grant()
	return nil
}

// destination parses a link or message address. Wildcards may only be
// subscribed to, never sent to.
func destination(addr string) (broker.Destination, error) {
	d, err := broker.ParseDestination(addr)
	if err != nil {
		return d, err
	}
	if d.IsWildcard() {
		return d, fmt.Errorf("cannot send to the wildcard destination %s", d)
	}
	return d, nil
}

// grant tops credit back up to the producer window once at least half of
// it is used, or once it ran out; a flow per transfer would double the
// frames on the wire.
func (l *receiverLink) grant() {
	if l.closed {
		return
	}
	window := uint32(l.s.c.srv.opts.ProducerCredit)
	avail := window - uint32(min(l.outstanding, int(window)))
	if avail <= l.credit || (avail-l.credit < window/2 && l.credit > 0) {
		return
	}
	l.credit = avail
	h, dc, credit := l.handle, l.deliveryCount, l.credit
	l.s.writeFlow(&wire.Flow{Handle: &h, DeliveryCount: &dc, LinkCredit: &credit})
}

// onFlow handles the sender's flow: it may have advanced its delivery
// count (spending credit without sending), and may ask for our state.
func (l *receiverLink) onFlow(p *wire.Flow) {
	// Serial-number arithmetic: a count behind ours (never valid, as the
	// sender's flow follows its transfers) is ignored.
	if p.DeliveryCount != nil && int32(*p.DeliveryCount-l.deliveryCount) > 0 {
		spent := min(*p.DeliveryCount-l.deliveryCount, l.credit)
		l.credit -= spent
		l.deliveryCount = *p.DeliveryCount
	}
	if p.Echo {
		h, dc, credit := l.handle, l.deliveryCount, l.credit
		l.s.writeFlow(&wire.Flow{Handle: &h, DeliveryCount: &dc, LinkCredit: &credit})
	}
	l.grant()
}

// onTransfer collects a delivery's frames; the last one sends it.
func (l *receiverLink) onTransfer(p *wire.Transfer, payload []byte) error {
	if l.cur == nil {
		if p.DeliveryID == nil {
			return errLink(l.s, l.handle, wire.CondNotAllowed, "first transfer of a delivery without a delivery-id")
		}
		if l.credit == 0 {
			return errLink(l.s, l.handle, wire.CondTransferLimit, "transfer without link credit")
		}
		l.credit--
		l.deliveryCount++
		l.cur = &incoming{id: *p.DeliveryID}
	} else if p.DeliveryID != nil && *p.DeliveryID != l.cur.id {
		return errLink(l.s, l.handle, wire.CondNotAllowed, "delivery %d started before delivery %d ended", *p.DeliveryID, l.cur.id)
	}
	if p.Settled != nil && *p.Settled {
		l.cur.settled = true
	}
	if ts, ok := p.State.(*wire.TransactionalState); ok {
		l.cur.txn = ts.TxnID
	}
	if p.Aborted {
		l.dropPartial() // the sender gave up on it: nothing was delivered
		return nil
	}
	c := l.s.c
	if len(l.cur.buf)+len(payload) > c.srv.opts.MaxMessageSize {
		l.dropPartial()
		return errLink(l.s, l.handle, wire.CondMessageSizeExceeded, "message larger than %d bytes", c.srv.opts.MaxMessageSize)
	}
	if l.cur.buf == nil && !p.More {
		l.cur.buf = payload // one frame: its buffer is ours alone, no copy
	} else {
		// Deliveries arriving in pieces on many links at once are bounded
		// together, not just one by one.
		if c.partialBytes+len(payload) > c.srv.opts.MaxMessageSize {
			l.dropPartial()
			return errLink(l.s, l.handle, wire.CondResourceLimit,
				"incomplete messages on this connection exceed %d bytes", c.srv.opts.MaxMessageSize)
		}
		c.partialBytes += len(payload)
		l.cur.counted += len(payload)
		l.cur.buf = append(l.cur.buf, payload...)
	}
	if p.More {
		return nil
	}
	c.partialBytes -= l.cur.counted
	d := l.cur
	l.cur = nil
	l.deliver(d)
	return nil
}

// deliver decodes a complete delivery and hands it to the producer. A
// message that cannot be decoded or mapped is rejected; it does not break
// the link or the connection (its frames were well-formed).
func (l *receiverLink) deliver(d *incoming) {
	wm, err := wire.DecodeMessage(d.buf)
	if err != nil {
		l.reject(d, wire.CondDecodeError, err)
		return
	}
	if l.coord {
		l.control(d, wm)
		return
	}
	var tx string
	if d.txn != nil {
		t := l.s.c.txns[string(d.txn)]
		if t == nil {
			l.reject(d, wire.CondTxUnknownID, fmt.Errorf("transfer in transaction %x, which is not declared", d.txn))
			return
		}
		tx = t.name
	}
	m, err := toBroker(wm, d.buf, l.dest, l.anonymous, time.Now())
	if err != nil {
		l.reject(d, wire.CondInvalidField, err)
		return
	}
	l.outstanding++
	l.s.c.prod.push(&sendReq{link: l, id: d.id, settled: d.settled, msg: m, tx: tx, txn: d.txn})
}

func (l *receiverLink) reject(d *incoming, cond wire.Symbol, err error) {
	l.s.c.log.Info("amqp message rejected", "link", l.name, "err", err)
	if !d.settled {
		l.dispose(d.id, &wire.Rejected{Error: &wire.Error{Condition: cond, Description: err.Error()}})
	}
	l.grant()
}

// onSent runs on the loop when the broker has taken (or refused) a message.
func (l *receiverLink) onSent(r *sendReq, err error) {
	l.outstanding--
	if l.closed {
		return
	}
	if !r.settled {
		if err != nil {
			l.s.c.log.Info("amqp send failed", "link", l.name, "dest", r.msg.Dest.String(), "err", err)
			l.dispose(r.id, &wire.Rejected{Error: &wire.Error{Condition: sendErrorCondition(err), Description: err.Error()}})
		} else if r.txn != nil {
			// Accepted provisionally: it takes effect at commit.
			l.dispose(r.id, &wire.TransactionalState{TxnID: r.txn, Outcome: wire.Accepted{}})
		} else {
			l.dispose(r.id, wire.Accepted{})
		}
	}
	l.grant()
}

// sendErrorCondition maps a broker send failure to an AMQP condition.
func sendErrorCondition(err error) wire.Symbol {
	switch {
	case errors.Is(err, broker.ErrUnauthorized):
		return wire.CondUnauthorizedAccess
	case errors.Is(err, broker.ErrSessionClosed):
		return wire.CondIllegalState
	case isContextErr(err):
		return wire.CondResourceLimit // gave up waiting for memory
	}
	return wire.CondInternalError
}

// dispose sends our outcome for one delivery. In rcv-settle-mode first we
// settle at once; in second the peer settles, and we forget the delivery
// either way (nothing more is done with it here).
func (l *receiverLink) dispose(id uint32, state wire.DeliveryState) {
	l.s.c.write(l.s.ch, &wire.Disposition{
		Role: wire.RoleReceiver, First: id, Settled: l.rcvMode == wire.RcvFirst, State: state,
	}, nil)
}

// dropPartial forgets an incomplete delivery and the bytes it held.
func (l *receiverLink) dropPartial() {
	if l.cur != nil {
		l.s.c.partialBytes -= l.cur.counted
		l.cur = nil
	}
}

// close marks the link closed: messages already with the producer are
// still sent, but no outcome is reported for them.
func (l *receiverLink) close() {
	if l.closed {
		return
	}
	l.closed = true
	l.dropPartial()
	if l.coord {
		l.s.c.rollbackAll(l)
	}
	if l.temp {
		l.s.c.dropTemp(l.dest)
	}
}
