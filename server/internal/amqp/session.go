package amqp

import (
	"errors"
	"math"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
)

// Session flow control (part 2, section 2.5.6). The peer may send
// incomingWindow transfer frames before our next flow re-opens the window;
// we re-open it when half is used. Our outgoing window is unlimited: only
// the peer's incoming window and link credit restrain what we send.
const (
	incomingWindow = 2048
	outgoingWindow = math.MaxUint32
)

// session is one AMQP session: its links and both directions' transfer
// accounting. Owned by the connection's loop. Our channel and link handles
// mirror the peer's (each side numbers its own endpoints, so reusing the
// peer's numbers is always unique on our side too).
type session struct {
	c         *conn
	ch        uint16
	handleMax uint32

	// incoming transfers (from the peer)
	nextIncomingID uint32
	inWindow       uint32 // frames the peer may still send

	// outgoing transfers (to the peer)
	nextOutgoingID uint32
	remoteInWindow uint32 // frames the peer still accepts
	nextDeliveryID uint32

	receivers map[uint32]*receiverLink // links the peer sends on
	senders   map[uint32]*senderLink   // links the peer receives from
	detaching map[uint32]bool          // handles we detached, awaiting the peer's detach

	unsettled map[uint32]*outDelivery // deliveries sent, awaiting the peer's outcome
	ready     []*senderLink           // links with credit and messages to send
	partial   *outTransfer            // a delivery part-way through its frames

	ending bool // we sent end with an error and wait for the peer's end
}

func newSession(c *conn, ch uint16, p *wire.Begin) *session {
	return &session{
		c: c, ch: ch, handleMax: min(p.HandleMax, handleMax),
		nextIncomingID: p.NextOutgoingID, inWindow: incomingWindow,
		remoteInWindow: p.IncomingWindow,
		receivers:      map[uint32]*receiverLink{},
		senders:        map[uint32]*senderLink{},
		detaching:      map[uint32]bool{},
		unsettled:      map[uint32]*outDelivery{},
	}
}

// onFrame handles a frame on the session's channel. A link error detaches
// that link and is not returned; session and connection errors are.
func (s *session) onFrame(f *wire.Frame) error {
	if s.ending {
		// After our end only the peer's end matters (part 2, section
		// 2.5.5: frames in flight are discarded).
		if _, ok := f.Body.(*wire.End); ok {
			delete(s.c.sessions, s.ch)
		}
		return nil
	}
	var err error
	switch p := f.Body.(type) {
	case *wire.Attach:
		err = s.attach(p)
	case *wire.Flow:
		err = s.flow(p)
	case *wire.Transfer:
		err = s.transfer(p, f.Payload)
	case *wire.Disposition:
		err = s.disposition(p)
	case *wire.Detach:
		err = s.detach(p)
	case *wire.End:
		return s.end(p)
	}
	var le *linkError
	if errors.As(err, &le) {
		s.detachWithError(le)
		err = nil
	}
	if err == nil {
		s.pump()
	}
	return err
}

// writeFlow sends the session's flow state, with a link's state if l is set.
func (s *session) writeFlow(link *wire.Flow) {
	next := s.nextIncomingID
	f := link
	if f == nil {
		f = &wire.Flow{}
	}
	f.NextIncomingID = &next
	f.IncomingWindow = s.inWindow
	f.NextOutgoingID = s.nextOutgoingID
	f.OutgoingWindow = outgoingWindow
	s.c.write(s.ch, f, nil)
}

// flow applies the peer's flow: its incoming window, and a link's credit
// when it names one.
func (s *session) flow(p *wire.Flow) error {
	// remote-incoming-window = next-incoming-id(flow) + incoming-window(flow)
	// - next-outgoing-id(ours); without next-incoming-id the peer has not
	// seen our begin, so our initial outgoing id (0) stands in.
	var nextIn uint32
	if p.NextIncomingID != nil {
		nextIn = *p.NextIncomingID
	}
	s.remoteInWindow = nextIn + p.IncomingWindow - s.nextOutgoingID
	if p.Handle == nil {
		if p.Echo {
			s.writeFlow(nil)
		}
		return nil
	}
	h := *p.Handle
	switch {
	case s.detaching[h]:
		return nil
	case s.senders[h] != nil:
		return s.senders[h].onFlow(p)
	case s.receivers[h] != nil:
		s.receivers[h].onFlow(p)
		return nil
	}
	return errSession(s, wire.CondUnattachedHandle, "flow for handle %d, which is not attached", h)
}

// transfer accounts for an incoming transfer frame and hands it to its link.
func (s *session) transfer(p *wire.Transfer, payload []byte) error {
	if s.inWindow == 0 {
		return errSession(s, wire.CondWindowViolation, "transfer beyond the incoming window")
	}
	s.inWindow--
	s.nextIncomingID++
	if s.inWindow <= incomingWindow/2 {
		s.inWindow = incomingWindow
		s.writeFlow(nil)
	}
	switch {
	case s.detaching[p.Handle]:
		return nil
	case s.receivers[p.Handle] != nil:
		return s.receivers[p.Handle].onTransfer(p, payload)
	case s.senders[p.Handle] != nil:
		return errSession(s, wire.CondErrantLink, "transfer on handle %d, on which the broker is the sender", p.Handle)
	}
	return errSession(s, wire.CondUnattachedHandle, "transfer on handle %d, which is not attached", p.Handle)
}

// disposition applies the peer's outcomes to deliveries we sent. The
// peer's dispositions as a sender (settling our dispositions in
// rcv-settle-mode second) need nothing from us.
func (s *session) disposition(p *wire.Disposition) error {
	if p.Role != wire.RoleReceiver {
		return nil
	}
	last := p.First
	if p.Last != nil {
		last = *p.Last
	}
	span := last - p.First // serial-number arithmetic: wraps like the ids
	if uint64(span) >= uint64(len(s.unsettled)) {
		// A wide range (possibly hostile): walk what is unsettled instead.
		for id, d := range s.unsettled {
			if id-p.First <= span {
				s.settle(id, d, p)
			}
		}
		return nil
	}
	for id := p.First; ; id++ {
		if d := s.unsettled[id]; d != nil {
			s.settle(id, d, p)
		}
		if id == last {
			return nil
		}
	}
}

// attach creates the link the peer attached, or refuses it.
func (s *session) attach(p *wire.Attach) error {
	h := p.Handle
	if h > s.handleMax {
		return errSession(s, wire.CondNotAllowed, "handle %d beyond handle-max %d", h, s.handleMax)
	}
	if s.receivers[h] != nil || s.senders[h] != nil || s.detaching[h] {
		return errSession(s, wire.CondHandleInUse, "handle %d already attached", h)
	}
	if p.Role == wire.RoleSender {
		return s.attachReceiver(p)
	}
	return s.attachSender(p)
}

// refuse answers an attach with no terminus on our side and detaches it
// with the reason at once (part 2, section 2.6.3).
func (s *session) refuse(reply *wire.Attach, cond wire.Symbol, desc string) {
	if reply.Role == wire.RoleReceiver {
		reply.Target, reply.Coordinator = nil, nil
	} else {
		reply.Source = nil
	}
	s.c.write(s.ch, reply, nil)
	s.detaching[reply.Handle] = true
	s.c.write(s.ch, &wire.Detach{Handle: reply.Handle, Closed: true, Error: &wire.Error{Condition: cond, Description: desc}}, nil)
	s.c.log.Info("amqp link refused", "link", reply.Name, "condition", cond, "reason", desc)
}

// detach handles the peer's detach: the answer to ours, or its own, which
// we answer.
func (s *session) detach(p *wire.Detach) error {
	h := p.Handle
	if s.detaching[h] {
		delete(s.detaching, h)
		return nil
	}
	if p.Error != nil {
		s.c.log.Info("amqp peer detached a link with an error", "handle", h, "err", p.Error)
	}
	switch {
	case s.receivers[h] != nil:
		s.receivers[h].close()
		delete(s.receivers, h)
	case s.senders[h] != nil:
		s.senders[h].close(p.Closed)
		delete(s.senders, h)
	default:
		return errSession(s, wire.CondUnattachedHandle, "detach of handle %d, which is not attached", h)
	}
	s.c.write(s.ch, &wire.Detach{Handle: h, Closed: p.Closed}, nil)
	return nil
}

// detachWithError closes a link because of le and tells the peer.
func (s *session) detachWithError(le *linkError) {
	h := le.handle
	if rl := s.receivers[h]; rl != nil {
		rl.close()
		delete(s.receivers, h)
	}
	if sl := s.senders[h]; sl != nil {
		sl.close(false)
		delete(s.senders, h)
	}
	s.detaching[h] = true
	s.c.write(s.ch, &wire.Detach{Handle: h, Closed: true, Error: &wire.Error{Condition: le.cond, Description: le.desc}}, nil)
	s.c.log.Info("amqp link detached", "handle", h, "condition", le.cond, "reason", le.desc)
}

// end handles the peer's end: close every link and answer.
func (s *session) end(p *wire.End) error {
	if p.Error != nil {
		s.c.log.Info("amqp peer ended a session with an error", "channel", s.ch, "err", p.Error)
	}
	s.closeLinks()
	delete(s.c.sessions, s.ch)
	s.c.write(s.ch, &wire.End{}, nil)
	return nil
}

// fail ends the session because of se and waits for the peer's end.
func (s *session) fail(se *sessionError) {
	s.closeLinks()
	s.ending = true
	s.c.write(s.ch, &wire.End{Error: &wire.Error{Condition: se.cond, Description: se.desc}}, nil)
	s.c.log.Info("amqp session ended", "channel", s.ch, "condition", se.cond, "reason", se.desc)
}

// closeLinks closes every link: consumers close (their unsettled
// deliveries are redelivered), sends in progress still complete.
func (s *session) closeLinks() {
	for h, rl := range s.receivers {
		rl.close()
		delete(s.receivers, h)
	}
	for h, sl := range s.senders {
		sl.close(false)
		delete(s.senders, h)
	}
	s.ready = nil
	s.partial = nil
	clear(s.unsettled)
}
