package amqp

import (
	"context"
	"fmt"
	"sync"

	goamqp "github.com/Azure/go-amqp"
	"github.com/tethermq/tether/failover/session"
)

// Ack accepts d (in AckClient mode, with every earlier unacked delivery of
// its subscription) and returns once the broker settled it.
func (s *Session) Ack(ctx context.Context, d *session.Delivery, tx string) error {
	return s.settle(ctx, d, tx, "ack", func(ctx context.Context, r *goamqp.Receiver, m *goamqp.Message) error {
		return r.AcceptMessage(ctx, m)
	})
}

// Nack hands d (in AckClient mode, with every earlier unacked delivery of
// its subscription) back as Modified{delivery-failed}: the broker
// redelivers it, counted, and dead-letters it after its redelivery limit.
func (s *Session) Nack(ctx context.Context, d *session.Delivery, tx string) error {
	return s.settle(ctx, d, tx, "nack", func(ctx context.Context, r *goamqp.Receiver, m *goamqp.Message) error {
		return r.ModifyMessage(ctx, m, &goamqp.ModifyMessageOptions{DeliveryFailed: true})
	})
}

type disposeFunc func(context.Context, *goamqp.Receiver, *goamqp.Message) error

func (s *Session) settle(ctx context.Context, d *session.Delivery, tx, op string, dispose disposeFunc) error {
	if tx != "" {
		return unsupported("transactions")
	}
	tok, ok := d.Token.(*ackToken)
	if !ok {
		return fmt.Errorf("amqp: %s: delivery %s did not come from an AMQP session", op, d.MessageID)
	}
	if tok.sub.mode == session.AckAuto {
		return nil // pre-settled: the broker acked it when it sent it
	}
	select {
	case <-s.done:
		return s.lostErr()
	default:
	}
	if tok.sub.isClosing() {
		return fmt.Errorf("amqp: %s %s: its subscription was unsubscribed (the broker redelivers it)", op, d.MessageID)
	}
	msgs := tok.sub.covered(tok.msg)
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs[:len(msgs)-1] {
		// Earlier deliveries of a cumulative ack are settled at once, not
		// one round trip after another.
		wg.Go(func() { errs[i] = dispose(ctx, tok.sub.rcv, m) })
	}
	errs[len(msgs)-1] = dispose(ctx, tok.sub.rcv, tok.msg)
	wg.Wait()
	for _, err := range errs {
		if err == nil {
			continue
		}
		if tok.sub.isClosing() {
			// Unsubscribe closed the link under the ack: the link's end
			// is not the connection's.
			return fmt.Errorf("amqp: %s %s: its subscription was unsubscribed (the broker redelivers it): %w", op, d.MessageID, err)
		}
		return s.classify(ctx, op, err)
	}
	return nil
}

func (sub *subscription) isClosing() bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.closing
}

// covered returns the messages an ack of m settles: m alone, or in
// AckClient mode every unacked delivery up to m, which it forgets.
func (sub *subscription) covered(m *goamqp.Message) []*goamqp.Message {
	if sub.mode != session.AckClient {
		return []*goamqp.Message{m}
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for i, u := range sub.unacked {
		if u == m {
			out := append([]*goamqp.Message(nil), sub.unacked[:i+1]...)
			sub.unacked = append(sub.unacked[:0], sub.unacked[i+1:]...)
			return out
		}
	}
	return []*goamqp.Message{m} // settled before, or never recorded
}
