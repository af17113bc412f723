package amqp

import (
	"context"
	"fmt"
	"sync"

	goamqp "github.com/Azure/go-amqp"
	"github.com/tethermq/tether/failover/session"
)

// DefaultPrefetch is the link credit of a subscription that sets no
// prefetch: ActiveMQ's AMQP default.
const DefaultPrefetch = 1000

// selectorFilter is the filter name ActiveMQ and Artemis apply as a JMS
// selector (go-amqp's NewSelectorFilter writes it).
const selectorFilter = "apache.org:selector-filter:string"

// subscription is one receiver link and its receive loop.
type subscription struct {
	id   string
	dest session.Destination
	mode session.AckMode
	rcv  *goamqp.Receiver
	// own is the AMQP session of a durable subscription: ending it detaches
	// the link without closing it, which keeps the durable subscription
	// (go-amqp's Receiver.Close always detaches with closed=true, which
	// deletes it).
	own     *goamqp.Session
	deliver func(*session.Delivery)
	done    chan struct{} // the receive loop has returned

	mu      sync.Mutex
	closing bool              // Unsubscribe is under way: deliver nothing more
	unacked []*goamqp.Message // AckClient: delivered, not yet acked, in order
}

// ackToken is a delivery's handle for Ack and Nack.
type ackToken struct {
	sub *subscription
	msg *goamqp.Message
}

// Subscribe attaches a receiver link for spec and returns once the broker
// answered the attach; its receive loop then calls deliver for each message.
func (s *Session) Subscribe(ctx context.Context, spec session.SubscribeSpec, deliver func(*session.Delivery)) error {
	if err := checkSpec(spec); err != nil {
		return err
	}
	opts := receiverOptions(spec)
	as := s.as
	var own *goamqp.Session
	if spec.Durable != "" {
		var err error
		if own, err = s.conn.NewSession(ctx, nil); err != nil {
			return s.classify(ctx, "subscribe", err)
		}
		as = own
	}
	rcv, err := as.NewReceiver(ctx, address(spec.Destination), opts)
	if err != nil {
		s.endOwn(own)
		return s.classify(ctx, "subscribe", err)
	}
	if spec.Selector != "" && rcv.LinkSourceFilterValue(selectorFilter) == nil {
		// The broker attached the link without the filter: it would
		// deliver everything.
		_ = s.detach(ctx, rcv, own)
		return unsupported("selectors (the broker did not apply the selector filter)")
	}
	sub := &subscription{
		id: spec.ID, dest: spec.Destination, mode: spec.Ack, rcv: rcv, own: own,
		deliver: deliver, done: make(chan struct{}),
	}
	s.mu.Lock()
	if old := s.subs[spec.ID]; old != nil {
		s.mu.Unlock()
		_ = s.detach(ctx, rcv, own)
		return fmt.Errorf("amqp: subscription %s already exists", spec.ID)
	}
	s.subs[spec.ID] = sub
	s.mu.Unlock()
	if !s.spawn(func() { s.receiveLoop(sub) }) {
		return s.lostErr()
	}
	return nil
}

// checkSpec refuses what has no AMQP mapping.
func checkSpec(spec session.SubscribeSpec) error {
	switch {
	case spec.Exclusive:
		return unsupported("exclusive consumers")
	case spec.Priority >= 0:
		return unsupported("consumer priority")
	case len(spec.Headers) > 0:
		return unsupported("subscription headers")
	case spec.Durable != "" && spec.Destination.Kind != session.Topic:
		return fmt.Errorf("amqp: a durable subscription needs a topic, not %s", spec.Destination)
	}
	return nil
}

// receiverOptions maps a subscription onto its receiver link.
func receiverOptions(spec session.SubscribeSpec) *goamqp.ReceiverOptions {
	credit := spec.Prefetch
	if credit <= 0 {
		credit = DefaultPrefetch
	}
	opts := &goamqp.ReceiverOptions{Name: spec.ID, Credit: int32(credit)}
	if spec.Ack == session.AckAuto {
		settled := goamqp.SenderSettleModeSettled
		opts.RequestedSenderSettleMode = &settled
	} else {
		// The broker settles our outcome only once it applied it, so Ack
		// returns once the ack is known to have taken effect.
		unsettled, second := goamqp.SenderSettleModeUnsettled, goamqp.ReceiverSettleModeSecond
		opts.RequestedSenderSettleMode = &unsettled
		opts.SettlementMode = &second
	}
	if spec.Selector != "" {
		opts.Filters = []goamqp.LinkFilter{goamqp.NewSelectorFilter(spec.Selector)}
	}
	if spec.Durable != "" {
		// ActiveMQ's convention: the link name is the subscription name,
		// the container-id the client id, and the source is durable and
		// never expires.
		opts.Name = spec.Durable
		opts.SourceDurability = goamqp.DurabilityUnsettledState
		opts.SourceExpiryPolicy = goamqp.ExpiryPolicyNever
	}
	return opts
}

// receiveLoop hands each message to the subscription until its link ends.
// A link that ends while neither Unsubscribe nor the session's end asked
// for it was detached by the broker: the session is failed so that the
// failover engine restores the subscription on a new connection.
func (s *Session) receiveLoop(sub *subscription) {
	defer close(sub.done)
	for {
		msg, err := sub.rcv.Receive(s.ctx, nil)
		sub.mu.Lock()
		closing := sub.closing
		if err == nil && !closing && sub.mode == session.AckClient {
			sub.unacked = append(sub.unacked, msg)
		}
		sub.mu.Unlock()
		if closing || s.ctx.Err() != nil {
			return // what was not delivered goes back to the broker with the link
		}
		if err != nil {
			s.fail(fmt.Errorf("subscription %s: link lost: %w", sub.id, err))
			return
		}
		sub.deliver(toDelivery(msg, sub))
	}
}

// Unsubscribe detaches the subscription's link (a durable subscription is
// kept on the broker) and stops delivering.
func (s *Session) Unsubscribe(ctx context.Context, id string) error {
	s.mu.Lock()
	sub := s.subs[id]
	delete(s.subs, id)
	s.mu.Unlock()
	if sub == nil {
		return nil
	}
	sub.mu.Lock()
	sub.closing = true
	sub.mu.Unlock()
	err := s.detach(ctx, sub.rcv, sub.own)
	select {
	case <-sub.done:
	case <-s.done:
	case <-ctx.Done():
		return fmt.Errorf("amqp: unsubscribe: %w", ctx.Err())
	}
	return err
}

// detach closes a receiver link, or ends the AMQP session of a durable one.
func (s *Session) detach(ctx context.Context, rcv *goamqp.Receiver, own *goamqp.Session) error {
	var err error
	if own != nil {
		err = own.Close(ctx)
	} else {
		err = rcv.Close(ctx)
	}
	if err != nil {
		return s.classify(ctx, "unsubscribe", err)
	}
	return nil
}

// endOwn ends a durable subscription's session whose attach failed.
func (s *Session) endOwn(own *goamqp.Session) {
	if own == nil {
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	_ = own.Close(ctx)
}
