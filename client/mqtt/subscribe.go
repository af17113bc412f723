package mqtt

import (
	"context"
	"fmt"
	"slices"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/tethermq/tether/failover/session"
)

// subscription is one topic filter of the session and where its messages go.
type subscription struct {
	id      string
	filter  string
	mode    session.AckMode
	deliver func(*session.Delivery)
	unacked []paho.Message // AckClient: delivered, not yet acked, in order (guarded by Session.mu)
}

// ackToken is a delivery's handle for Ack.
type ackToken struct {
	sub *subscription
	msg paho.Message
}

// subscribeQoS is the QoS of every subscription: at-least-once, and on a
// persistent session a durable subscription.
const subscribeQoS = 1

// Subscribe registers spec's filter, hands it the messages that arrived
// before it (a persistent session's broker sends stored messages as soon
// as the client connects, before the failover engine re-subscribes), then
// sends SUBSCRIBE and returns once the SUBACK granted it.
func (s *Session) Subscribe(ctx context.Context, spec session.SubscribeSpec, deliver func(*session.Delivery)) error {
	if err := s.checkSpec(spec); err != nil {
		return err
	}
	filter, err := topicName(spec.Destination)
	if err != nil {
		return err
	}
	if err := checkFilter(filter); err != nil {
		return err
	}
	sub := &subscription{id: spec.ID, filter: filter, mode: spec.Ack, deliver: deliver}
	if err := s.register(sub); err != nil {
		return err
	}
	c := s.client()
	tok := c.Subscribe(filter, subscribeQoS, nil) // nil: every message goes to onMessage
	if err := s.wait(ctx, tok); err != nil {
		s.unregister(sub, false)
		return fmt.Errorf("mqtt: subscribe %s: %w", filter, err)
	}
	granted, ok := tok.(*paho.SubscribeToken).Result()[filter]
	if !ok || granted > 2 {
		s.unregister(sub, false)
		return &session.BrokerError{Op: "subscribe", Message: "refused", Detail: "the broker refused the topic filter " + filter}
	}
	if granted < subscribeQoS {
		s.log.Warn("mqtt: broker downgraded the subscription to QoS 0: at most once", "filter", filter)
	}
	return nil
}

// checkSpec refuses what MQTT 3.1.1 cannot express.
func (s *Session) checkSpec(spec session.SubscribeSpec) error {
	switch {
	case spec.Selector != "":
		return unsupported("selectors")
	case spec.Exclusive:
		return unsupported("exclusive consumers")
	case spec.Priority >= 0:
		return unsupported("consumer priority")
	case len(spec.Headers) > 0:
		return unsupported("subscription headers")
	case spec.Prefetch > 0:
		return unsupported("prefetch (the broker decides how many messages are in flight)")
	case spec.Durable != "" && s.clean:
		return unsupported("durable subscriptions on a clean session (set a client id, or cleanSession=false)")
	}
	return nil
}

// register adds sub to the routing table and delivers the parked messages
// it matches, in arrival order, before any later one can reach it.
func (s *Session) register(sub *subscription) error {
	var autoAck []paho.Message
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return s.lostErr()
	}
	for _, other := range s.subs {
		if other.id == sub.id {
			s.mu.Unlock()
			return fmt.Errorf("mqtt: subscription %s already exists", sub.id)
		}
		if overlap(other.filter, sub.filter) {
			s.mu.Unlock()
			return unsupported(fmt.Sprintf("overlapping subscriptions (%s and %s): MQTT does not say which one a message is for", other.filter, sub.filter))
		}
	}
	s.subs[sub.id] = sub
	s.gone = slices.DeleteFunc(s.gone, func(f string) bool { return overlap(f, sub.filter) })
	kept := s.parked[:0]
	for _, m := range s.parked {
		if matches(sub.filter, m.Topic()) {
			if s.dispatch(sub, m) {
				autoAck = append(autoAck, m)
			}
			continue
		}
		kept = append(kept, m)
	}
	clear(s.parked[len(kept):])
	s.parked = kept
	s.mu.Unlock()
	for _, m := range autoAck {
		m.Ack()
	}
	return nil
}

// unregister removes sub from the routing table. After an UNSUBSCRIBE the
// filter is remembered as gone, so that messages the broker had already
// sent for it are acked and dropped instead of parked forever.
func (s *Session) unregister(sub *subscription, unsubscribed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs[sub.id] == sub {
		delete(s.subs, sub.id)
	}
	if unsubscribed {
		s.gone = append(s.gone, sub.filter)
	}
}

// onMessage runs on paho's router goroutine for every PUBLISH, in arrival
// order. A message with no subscription yet is parked, unacked.
func (s *Session) onMessage(_ paho.Client, m paho.Message) {
	s.mu.Lock()
	var sub *subscription
	for _, candidate := range s.subs {
		if matches(candidate.filter, m.Topic()) {
			sub = candidate
			break // subscriptions never overlap: there is at most one
		}
	}
	ack := false
	switch {
	case sub != nil:
		ack = s.dispatch(sub, m)
	case s.dead:
	case slices.ContainsFunc(s.gone, func(f string) bool { return matches(f, m.Topic()) }):
		ack = true // its subscription was removed: nobody wants it
	default:
		s.parked = append(s.parked, m)
		s.log.Debug("mqtt: message before its subscription, parked", "topic", m.Topic())
	}
	s.mu.Unlock()
	if ack {
		m.Ack()
	}
}

// dispatch hands m to sub and reports whether it is to be acked at once
// (auto-ack). Call with s.mu held.
func (s *Session) dispatch(sub *subscription, m paho.Message) bool {
	if sub.mode == session.AckClient && m.Qos() > 0 {
		sub.unacked = append(sub.unacked, m)
	}
	sub.deliver(&session.Delivery{
		SubscriptionID: sub.id,
		MessageID:      s.deliveryID(),
		Destination:    destination(m.Topic()),
		Body:           m.Payload(),
		Redelivered:    m.Duplicate(),
		Persistent:     m.Qos() > 0,
		Priority:       -1,
		Token:          &ackToken{sub: sub, msg: m},
	})
	return sub.mode == session.AckAuto
}

// Unsubscribe sends UNSUBSCRIBE and stops delivering. On a persistent
// session this ends the durable subscription on the broker.
func (s *Session) Unsubscribe(ctx context.Context, id string) error {
	s.mu.Lock()
	sub := s.subs[id]
	s.mu.Unlock()
	if sub == nil {
		return nil
	}
	s.unregister(sub, true)
	c := s.client()
	if err := s.wait(ctx, c.Unsubscribe(sub.filter)); err != nil {
		return fmt.Errorf("mqtt: unsubscribe %s: %w", sub.filter, err)
	}
	return nil
}
