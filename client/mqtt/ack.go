package mqtt

import (
	"context"
	"fmt"
	"slices"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/tethermq/tether/failover/session"
)

// Ack sends PUBACK for d (in AckClient mode, first for every earlier
// unacked delivery of its subscription, in order). MQTT 3.1.1 does not
// confirm a PUBACK: Ack returns once paho has it to write. If the
// connection drops before, the broker redelivers the message (at least
// once).
func (s *Session) Ack(ctx context.Context, d *session.Delivery, tx string) error {
	if tx != "" {
		return unsupported("transactions")
	}
	tok, ok := d.Token.(*ackToken)
	if !ok {
		return fmt.Errorf("mqtt: ack: delivery %s did not come from an MQTT session", d.MessageID)
	}
	if tok.sub.mode == session.AckAuto {
		return nil
	}
	select {
	case <-s.done:
		return s.lostErr()
	default:
	}
	for _, m := range s.covered(tok) {
		m.Ack()
	}
	select {
	case <-s.done:
		return s.lostErr() // the PUBACK may not have been written
	default:
		return nil
	}
}

// covered returns what an ack of tok settles: its message alone, or in
// AckClient mode every unacked delivery of the subscription up to it.
func (s *Session) covered(tok *ackToken) []paho.Message {
	if tok.sub.mode != session.AckClient {
		return []paho.Message{tok.msg}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(tok.sub.unacked, tok.msg)
	if i < 0 {
		return []paho.Message{tok.msg} // acked before (paho acks once), or QoS 0
	}
	out := slices.Clone(tok.sub.unacked[:i+1])
	tok.sub.unacked = slices.Delete(tok.sub.unacked, 0, i+1)
	return out
}

// Nack is refused: MQTT 3.1.1 has no negative acknowledgement. A message
// left unacked is redelivered once the session reconnects.
func (s *Session) Nack(context.Context, *session.Delivery, string) error {
	return unsupported("nack (MQTT 3.1.1 has no negative acknowledgement; an unacked message comes back after a reconnect)")
}
