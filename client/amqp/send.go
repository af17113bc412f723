package amqp

import (
	"context"
	"errors"
	"fmt"

	goamqp "github.com/Azure/go-amqp"
	"github.com/tethermq/tether/failover/session"
)

// resolved is the Confirmation of a send that asked for none.
var resolved = func() session.Confirmation {
	ch := make(chan error, 1)
	ch <- nil
	close(ch)
	return ch
}()

// senderEntry is the sender link of one destination, attached once however
// many goroutines send there at the same time.
type senderEntry struct {
	ready chan struct{} // closed once snd or err is set
	snd   *goamqp.Sender
	err   error
}

// Send writes m on its destination's sender link and returns once the
// transfer is written. With m.Confirm the transfer is unsettled and the
// Confirmation resolves with the broker's outcome; without, it is
// pre-settled (at-most-once) and resolves at once.
func (s *Session) Send(ctx context.Context, m *session.Outgoing) (session.Confirmation, error) {
	if m.Tx != "" {
		return nil, unsupported("transactions")
	}
	msg, err := toMessage(m)
	if err != nil {
		return nil, err
	}
	snd, err := s.sender(ctx, m.Destination)
	if err != nil {
		return nil, err
	}
	if !m.Confirm {
		if err := snd.Send(ctx, msg, &goamqp.SendOptions{Settled: true}); err != nil {
			return nil, s.sendErr(ctx, err)
		}
		return resolved, nil
	}
	if !s.beginConfirm() {
		return nil, s.lostErr()
	}
	receipt, err := snd.SendWithReceipt(ctx, msg, nil)
	if err != nil {
		s.confirms.Done()
		return nil, s.sendErr(ctx, err)
	}
	ch := make(chan error, 1)
	if !s.spawn(func() {
		defer s.confirms.Done()
		ch <- s.outcome(&receipt)
	}) {
		s.confirms.Done()
		ch <- s.lostErr()
	}
	return ch, nil
}

// beginConfirm counts a confirmation about to be awaited, unless the
// session is closing: Close waits for the count to reach zero, and nothing
// may be added to a WaitGroup that is being waited on from zero.
func (s *Session) beginConfirm() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.dead {
		return false
	}
	s.confirms.Add(1)
	return true
}

// sendErr classifies a failed transfer. go-amqp gives up waiting for link
// credit with ErrCondTransferLimitExceeded before anything is written; any
// other failure while ctx ended may have left part of a message on the
// link, so the session is failed rather than reused.
func (s *Session) sendErr(ctx context.Context, err error) error {
	var ae *goamqp.Error
	if ctx.Err() != nil {
		if !errors.As(err, &ae) || ae.Condition != goamqp.ErrCondTransferLimitExceeded {
			s.fail(fmt.Errorf("send interrupted: %w", err))
		}
		return fmt.Errorf("amqp: send: %w (%w)", ctx.Err(), err)
	}
	return s.classify(ctx, "send", err)
}

// outcome waits for the broker's disposition of one transfer.
func (s *Session) outcome(r *goamqp.SendReceipt) error {
	state, err := r.Wait(s.ctx)
	if err != nil {
		if s.ctx.Err() == nil {
			s.fail(fmt.Errorf("send: %w", err)) // the link died under a live connection
		}
		return s.lostErr()
	}
	return outcomeErr(state)
}

// outcomeErr maps the broker's outcome of a transfer: Accepted confirms it;
// anything else is the broker refusing it, which re-sending would not change.
func outcomeErr(state goamqp.DeliveryState) error {
	switch st := state.(type) {
	case *goamqp.StateAccepted:
		return nil
	case *goamqp.StateRejected:
		be := &session.BrokerError{Op: "send", Message: "rejected"}
		if st.Error != nil {
			be.Message, be.Detail = string(st.Error.Condition), st.Error.Description
		}
		return be
	case *goamqp.StateReleased:
		return &session.BrokerError{Op: "send", Message: "released", Detail: "the broker did not take the message"}
	case *goamqp.StateModified:
		return &session.BrokerError{Op: "send", Message: "modified", Detail: "the broker did not take the message"}
	}
	return &session.BrokerError{Op: "send", Message: fmt.Sprintf("unexpected outcome %T", state)}
}

// sender returns the sender link of d, attaching it on first use.
func (s *Session) sender(ctx context.Context, d session.Destination) (*goamqp.Sender, error) {
	addr := address(d)
	for {
		s.mu.Lock()
		if s.dead {
			s.mu.Unlock()
			return nil, s.lostErr()
		}
		e, ok := s.senders[addr]
		if !ok {
			e = &senderEntry{ready: make(chan struct{})}
			s.senders[addr] = e
		}
		s.mu.Unlock()
		if !ok {
			s.attachSender(ctx, addr, e)
		}
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("amqp: send: %w", ctx.Err())
		}
		if e.err == nil {
			return e.snd, nil
		}
		if errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded) {
			if ctx.Err() == nil {
				continue // another sender's context ended during the attach: try again
			}
		}
		return nil, s.classify(ctx, "send", e.err)
	}
}

// attachSender attaches the link for addr and publishes the outcome in e;
// a failed attach is forgotten so that the next send tries again.
//
// Senders are unsettled-or-presettled (mixed), and ask the broker to settle
// first: its Accepted or Rejected settles the transfer in one frame.
func (s *Session) attachSender(ctx context.Context, addr string, e *senderEntry) {
	mixed, first := goamqp.SenderSettleModeMixed, goamqp.ReceiverSettleModeFirst
	e.snd, e.err = s.as.NewSender(ctx, addr, &goamqp.SenderOptions{
		SettlementMode:              &mixed,
		RequestedReceiverSettleMode: &first,
	})
	if e.err != nil {
		s.mu.Lock()
		delete(s.senders, addr)
		s.mu.Unlock()
	}
	close(e.ready)
}
