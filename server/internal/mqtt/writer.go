package mqtt

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/server/internal/broker"
)

// writeLoop is the connection's writer goroutine: it drains the outbox in
// batches, turns deliveries into PUBLISH packets, and flushes once per
// batch. A PUBLISH that needs a packet id while all are in use is parked,
// with every later PUBLISH behind it (order is kept), until an
// acknowledgement frees an id; control packets are never parked, so the
// client's own acknowledgements never wait for it.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	w := bufio.NewWriterSize(&timedWriter{nc: c.nc, timeout: c.srv.opts.WriteTimeout}, 32<<10)
	var batch, parked []outItem
	var written []*broker.Delivery // QoS 0 deliveries, acked once flushed
	for {
		select {
		case <-c.out.signal:
		case <-c.ctx.Done():
			return
		}
		batch = c.out.take(batch)
		var err error
		n := 0
		for ; n < len(parked) && err == nil; n++ {
			var park bool
			if park, err = c.writeItem(w, parked[n], &written); park {
				break
			}
		}
		parked = append(parked[:0], parked[n:]...)
		for _, it := range batch {
			if err != nil {
				break
			}
			if len(parked) > 0 && it.pkt == nil {
				parked = append(parked, it)
				continue
			}
			var park bool
			if park, err = c.writeItem(w, it, &written); park {
				parked = append(parked, it)
			}
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			c.shutdown(fmt.Errorf("write: %w", err))
			return
		}
		for _, d := range written {
			d.Consumer.Ack(d.Message.ID, "", false, nil)
		}
		clear(written)
		written = written[:0]
	}
}

// writeItem writes one item; park reports a PUBLISH that must wait for a
// free packet id.
func (c *conn) writeItem(w *bufio.Writer, it outItem, written *[]*broker.Delivery) (park bool, err error) {
	switch {
	case it.pkt != nil:
		return false, it.pkt.Write(w)
	case it.pub != nil:
		if it.pub.Qos > 0 {
			// alloc numbers the packet: it is kept for a re-send after
			// a reconnect.
			if _, _, ok := c.flights.alloc(&outFlight{owner: c, qos: it.pub.Qos, pub: it.pub}); !ok {
				return true, nil
			}
		}
		return false, it.pub.Write(w)
	}
	d, m := it.d, it.d.Message
	if it.sub.closed.Load() {
		return false, nil // taken back by the broker; see subscription.closed
	}
	topic := fromBroker(m.Dest.Name)
	if it.sub.noDollar && strings.HasPrefix(topic, "$") {
		// Matched by the broker's wildcard, but MQTT keeps '$' topics
		// from filters that start with a wildcard [MQTT-4.7.2-1].
		d.Consumer.Ack(m.ID, "", false, nil)
		return false, nil
	}
	pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pub.TopicName, pub.Payload = topic, m.Body
	pub.Qos = outboundQoS(m, it.sub.qos)
	if pub.Qos > 0 {
		id, dup, ok := c.flights.alloc(&outFlight{owner: c, c: d.Consumer, msgID: m.ID, filter: it.sub.filter, qos: pub.Qos})
		if !ok {
			return true, nil
		}
		pub.MessageID, pub.Dup = id, d.Redelivered || dup
	}
	if err := pub.Write(w); err != nil {
		return false, err
	}
	if pub.Qos == 0 {
		*written = append(*written, d)
	}
	return false, nil
}

// outboundQoS is min(publish QoS, subscription QoS) for MQTT messages. A
// message from another protocol has no MQTT QoS: it goes out at the
// subscription QoS capped at 1 when persistent (a broker-stored message can
// be redelivered until PUBACK) and at 0 when not (nothing could redeliver
// it, so promising more would be a lie).
func outboundQoS(m *broker.Message, subQoS byte) byte {
	if v, ok := m.Header(qosHeader); ok && len(v) == 1 && v[0] >= '0' && v[0] <= '2' {
		return min(v[0]-'0', subQoS)
	}
	if m.Persistent {
		return min(subQoS, 1)
	}
	return 0
}
