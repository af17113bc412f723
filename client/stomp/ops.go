package stomp

import (
	"context"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/failover/session"
)

// resolved is the Confirmation of a send that asked for none.
var resolved = func() session.Confirmation {
	ch := make(chan error, 1)
	ch <- nil
	close(ch)
	return ch
}()

// Send writes a SEND frame, with a receipt when m.Confirm is set.
func (s *Session) Send(ctx context.Context, m *session.Outgoing) (session.Confirmation, error) {
	if err := checkHeaders(m.Headers); err != nil {
		return nil, err
	}
	f := sendFrame(m)
	if !m.Confirm {
		if err := s.write(ctx, f); err != nil {
			return nil, err
		}
		return resolved, nil
	}
	ch, err := s.request(ctx, f, "send")
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// Subscribe registers deliver, then sends SUBSCRIBE and waits for its
// receipt; a MESSAGE can arrive before the receipt and is delivered.
func (s *Session) Subscribe(ctx context.Context, spec session.SubscribeSpec, deliver func(*session.Delivery)) error {
	if err := checkSubscribeHeaders(spec.Headers); err != nil {
		return err
	}
	s.mu.Lock()
	s.subs[spec.ID] = deliver
	s.mu.Unlock()
	err := s.call(ctx, subscribeFrame(spec), "subscribe")
	if err != nil {
		s.mu.Lock()
		delete(s.subs, spec.ID)
		s.mu.Unlock()
		if ctx.Err() != nil {
			// The broker may still create it: take it back, so that it
			// does not hold messages for a subscription nobody reads.
			_ = s.write(context.Background(), frame.New(frame.UNSUBSCRIBE, frame.Id, spec.ID))
		}
	}
	return err
}

// Unsubscribe sends UNSUBSCRIBE and stops delivering once it is confirmed.
func (s *Session) Unsubscribe(ctx context.Context, id string) error {
	err := s.call(ctx, frame.New(frame.UNSUBSCRIBE, frame.Id, id), "unsubscribe")
	s.mu.Lock()
	delete(s.subs, id)
	s.mu.Unlock()
	return err
}

// Ack sends ACK for d and waits for its receipt.
func (s *Session) Ack(ctx context.Context, d *session.Delivery, tx string) error {
	return s.call(ctx, s.ackFrame(frame.ACK, d, tx), "ack")
}

// Nack sends NACK for d and waits for its receipt.
func (s *Session) Nack(ctx context.Context, d *session.Delivery, tx string) error {
	return s.call(ctx, s.ackFrame(frame.NACK, d, tx), "nack")
}

// Begin starts transaction tx.
func (s *Session) Begin(ctx context.Context, tx string) error {
	return s.call(ctx, frame.New(frame.BEGIN, frame.Transaction, tx), "begin")
}

// Commit commits transaction tx.
func (s *Session) Commit(ctx context.Context, tx string) error {
	return s.call(ctx, frame.New(frame.COMMIT, frame.Transaction, tx), "commit")
}

// Abort rolls transaction tx back.
func (s *Session) Abort(ctx context.Context, tx string) error {
	return s.call(ctx, frame.New(frame.ABORT, frame.Transaction, tx), "abort")
}

// ackFrame builds ACK or NACK in the form of the negotiated version: 1.2
// names the MESSAGE's ack header, 1.1 its subscription and message-id.
func (s *Session) ackFrame(command string, d *session.Delivery, tx string) *frame.Frame {
	tok, _ := d.Token.(ackToken)
	f := frame.New(command)
	if s.version == "1.2" {
		f.Header.Add(frame.Id, tok.ack)
	} else {
		f.Header.Add(frame.Subscription, d.SubscriptionID)
		f.Header.Add(frame.MessageId, d.MessageID)
	}
	if tx != "" {
		f.Header.Add(frame.Transaction, tx)
	}
	return f
}
