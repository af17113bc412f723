package mqtt

import (
	"context"
	"fmt"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/server/internal/broker"
)

// qosHeader carries an MQTT message's QoS through the broker, so that an
// MQTT subscriber receives it at min(publish QoS, subscription QoS). It is
// ActiveMQ's property name, so other protocols see the same header.
const qosHeader = "ActiveMQ.MQTT.QoS"

var qosValues = [3]string{"0", "1", "2"}

// onPublish routes an inbound PUBLISH. QoS 1 and 2 are acknowledged (in
// arrival order) once the broker stored them; a store failure closes the
// connection without the acknowledgement, so the client sends again.
func (c *conn) onPublish(p *packets.PublishPacket) error {
	if err := checkTopicName(p.TopicName); err != nil {
		return fmt.Errorf("%w: PUBLISH to %q: %v", errProtocol, p.TopicName, err)
	}
	if p.Qos > 0 && p.MessageID == 0 {
		return fmt.Errorf("%w: QoS %d PUBLISH without a packet id", errProtocol, p.Qos)
	}
	id, topic := p.MessageID, p.TopicName
	stored := func(err error) error {
		if err != nil {
			return fmt.Errorf("storing PUBLISH %d to %q: %w", id, topic, err)
		}
		return nil
	}
	switch p.Qos {
	case 0:
		c.route(c.ctx, topic, p.Payload, 0, p.Retain, func(err error) {
			if err != nil {
				c.log.Warn("QoS 0 message not routed", "topic", topic, "err", err)
			}
		})
	case 1:
		slot := c.acks.reserve()
		c.route(c.ctx, topic, p.Payload, 1, p.Retain, func(err error) {
			c.acks.complete(slot, &packets.PubackPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Puback}, MessageID: id}, stored(err))
		})
	case 2:
		rec := &packets.PubrecPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Pubrec}, MessageID: id}
		e, dup := c.state.begin(id)
		slot := c.acks.reserve()
		if dup {
			// A retransmission before PUBREL: answer with the original's
			// outcome, route nothing.
			e.then(func(err error) { c.acks.complete(slot, rec, stored(err)) })
			return nil
		}
		c.route(c.ctx, topic, p.Payload, 2, p.Retain, func(err error) {
			if err != nil {
				c.state.forget(id, e) // not stored: a retransmission must be routed
			}
			e.finish(err)
			c.acks.complete(slot, rec, stored(err))
		})
	}
	return nil
}

// route sends one MQTT message (a PUBLISH or a will) to the broker and, when
// retain is set, updates the retained table too; done runs once both are
// stored.
func (c *conn) route(ctx context.Context, topic string, payload []byte, qos byte, retain bool, done func(error)) {
	hs := []broker.Header{{Name: qosHeader, Value: qosValues[qos]}}
	m := &broker.Message{
		Dest: broker.Destination{Kind: broker.Topic, Name: toBroker(topic)},
		Body: payload, Persistent: qos > 0, Priority: broker.DefaultPriority, Headers: hs,
	}
	if c.dropUnauthorized(m.Dest, done) {
		return // before the retained table, which is written with the broker's rights
	}
	if !retain {
		c.sess.Send(ctx, m, "", done)
		return
	}
	// The retained table first: its view changes before the live copy
	// can reach a subscriber, so a SUBSCRIBE that follows the live copy
	// always finds the retained one.
	both := join(2, done)
	if len(payload) == 0 {
		// An empty retained message clears the topic's retained message
		// and is itself delivered, but not retained [MQTT-3.3.1-10].
		c.sh.retained.remove(ctx, topic, both)
	} else {
		c.sh.retained.put(ctx, topic, payload, hs, both)
	}
	c.sess.Send(ctx, m, "", both)
}

// onPubrel completes an inbound QoS 2 message: its packet id may be reused.
func (c *conn) onPubrel(id uint16) {
	c.state.forget(id, nil)
	c.acks.send(outItem{pkt: &packets.PubcompPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Pubcomp}, MessageID: id}})
}

// onPuback completes an outbound QoS 1 message: the broker may forget it.
// A PUBACK for a QoS 2 message is a protocol violation; one for an unknown
// id (late, or after a reconnect) is ignored.
func (c *conn) onPuback(id uint16) error {
	a, res := c.flights.puback(id)
	switch res {
	case ackUnknown:
		c.log.Debug("PUBACK for an unknown packet id", "id", id)
		return nil
	case ackWrong:
		return fmt.Errorf("%w: PUBACK for packet id %d, which is a QoS 2 PUBLISH", errProtocol, id)
	}
	a.send()
	c.out.kick() // a parked delivery may take the id
	return nil
}

// onPubrec is the client's receipt of an outbound QoS 2 message. The broker
// forgets the message here, not at PUBCOMP: from PUBREC on the client owns
// it, and redelivering it after a reconnect would duplicate it; what the
// session keeps instead is the PUBREL it owes, which a persistent session
// stores in its record before the broker forgets the message, so that the
// PUBREL is re-sent even after a broker restart.
func (c *conn) onPubrec(id uint16) error {
	a, first, res := c.flights.pubrec(id)
	switch res {
	case ackUnknown:
		c.log.Debug("PUBREC for an unknown packet id", "id", id)
		return nil
	case ackWrong:
		return fmt.Errorf("%w: PUBREC for packet id %d, which is a QoS 1 PUBLISH", errProtocol, id)
	}
	if first && !c.clean && c.clientID != "" {
		if err := c.saveRecord(); err != nil {
			return err
		}
	}
	if first {
		a.send()
	}
	c.out.push(outItem{pkt: pubrelPacket(id)})
	return nil
}

// onPubcomp frees the packet id of a completed outbound QoS 2 message.
func (c *conn) onPubcomp(id uint16) error {
	switch c.flights.pubcomp(id) {
	case ackUnknown:
		c.log.Debug("PUBCOMP for an unknown packet id", "id", id)
		return nil
	case ackWrong:
		return fmt.Errorf("%w: PUBCOMP for packet id %d, which is not a released QoS 2 PUBLISH", errProtocol, id)
	}
	if !c.clean && c.clientID != "" {
		// Not waited for: a stale id in the record costs at most one
		// PUBREL after a restart, which the client answers.
		c.sh.sessions.put(c.ctx, c.clientID, c.recordBody(), nil, func(err error) {
			if err != nil {
				c.log.Warn("session record not updated after PUBCOMP", "err", err)
			}
		})
	}
	c.out.kick()
	return nil
}
