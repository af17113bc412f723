package mqtt

import (
	"context"
	"fmt"
	"strings"

	"github.com/tethermq/tether/failover/session"
)

// resolved is the Confirmation of a send that asked for none.
var resolved = func() session.Confirmation {
	ch := make(chan error, 1)
	ch <- nil
	close(ch)
	return ch
}()

// Send publishes m and returns once paho queued it for its writer, which
// keeps call order. A persistent or confirmed message goes at QoS 1 (the
// broker stores it: MQTT has no non-persistent QoS 1); with m.Confirm the
// Confirmation resolves at PUBACK. Anything else goes at QoS 0 and
// resolves at once.
func (s *Session) Send(ctx context.Context, m *session.Outgoing) (session.Confirmation, error) {
	if err := checkOutgoing(m); err != nil {
		return nil, err
	}
	topic, err := topicName(m.Destination)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(topic, "+#") {
		return nil, fmt.Errorf("mqtt: cannot publish to the wildcard destination %s", m.Destination)
	}
	c := s.client()
	if c == nil || ctx.Err() != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, s.lostErr()
	}
	qos := byte(0)
	if m.Persistent || m.Confirm {
		qos = 1
	}
	if !m.Confirm {
		tok := c.Publish(topic, qos, false, m.Body)
		select {
		case <-tok.Done():
			if tok.Error() != nil {
				s.fail(tok.Error())
				return nil, s.lostErr()
			}
		default: // queued: QoS 0 completes once written, QoS 1 at PUBACK
		}
		return resolved, nil
	}
	if !s.beginConfirm() {
		return nil, s.lostErr()
	}
	tok := c.Publish(topic, qos, false, m.Body)
	ch := make(chan error, 1)
	if !s.spawn(func() {
		defer s.confirms.Done()
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil {
				// No negative PUBACK exists: a publish fails only with its
				// connection (or paho's 30 s queueing timeout, after which
				// the connection is not to be trusted either).
				s.fail(fmt.Errorf("publish: %w", err))
				ch <- s.lostErr()
				return
			}
			ch <- nil
		case <-s.ctx.Done():
			ch <- s.lostErr()
		}
	}) {
		s.confirms.Done()
		return nil, s.lostErr()
	}
	return ch, nil
}

// checkOutgoing refuses what an MQTT 3.1.1 PUBLISH cannot carry. The
// duplicate id is not refused: the failover engine sets one on every send,
// and MQTT's contract (at-least-once) does without it.
func checkOutgoing(m *session.Outgoing) error {
	switch {
	case m.Tx != "":
		return unsupported("transactions")
	case len(m.Headers) > 0:
		return unsupported("headers (an MQTT 3.1.1 message has none)")
	case m.GroupID != "" || m.GroupSeq != 0:
		return unsupported("message groups")
	case m.Priority >= 0:
		return unsupported("message priority")
	case !m.Expires.IsZero():
		return unsupported("message expiry")
	case m.CorrelationID != "":
		return unsupported("correlation id")
	case m.ReplyTo != nil:
		return unsupported("reply-to")
	}
	return nil
}
