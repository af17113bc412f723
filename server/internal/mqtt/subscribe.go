package mqtt

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/server/internal/broker"
)

// subscription is one topic filter of a connection, backed by one broker
// consumer. It is immutable but for closed: a changed QoS makes a new one.
type subscription struct {
	filter   string
	qos      byte
	durable  string // broker durable subscription name; "" when not durable
	cons     *broker.Consumer
	noDollar bool // the filter starts with a wildcard: '$' topics are not for it
	// closed tells the writer to skip deliveries still queued for it: the
	// broker takes them back when the consumer closes (and hands them to a
	// replacement), so writing them would duplicate them.
	closed atomic.Bool
}

// durableName names the durable subscription of a persistent session's
// filter. The QoS is not part of it (ActiveMQ's is "<QoS>:<filter>") so
// that re-subscribing at another QoS resumes the same backlog.
func durableName(filter string) string { return "mqtt:" + filter }

const subackFailure = 0x80

// subscribe creates the broker consumer for one filter: durable for QoS 1
// and 2 in a persistent session, a plain topic subscription otherwise.
func (c *conn) subscribe(filter string, qos byte) (*subscription, error) {
	sub := &subscription{filter: filter, qos: qos, noDollar: startsWithWildcard(filter)}
	if !c.clean && qos > 0 {
		sub.durable = durableName(filter)
	}
	cons, err := c.sess.Subscribe(broker.ConsumerOptions{
		Dest:        broker.Destination{Kind: broker.Topic, Name: toBroker(filter)},
		AckMode:     broker.AckIndividual,
		Prefetch:    c.srv.opts.SubscriptionPrefetch, // 0: the broker's default for the kind
		DurableName: sub.durable,
	}, func(d *broker.Delivery) { c.out.push(outItem{d: d, sub: sub}) })
	if err != nil {
		return nil, fmt.Errorf("subscribe %q: %w", filter, err)
	}
	sub.cons = cons
	return sub, nil
}

// drop ends a subscription; keepDurable leaves its durable subscription
// (and backlog) in the broker for the replacement to resume.
func (c *conn) drop(sub *subscription, keepDurable bool) error {
	sub.closed.Store(true)
	sub.cons.Close()
	if sub.durable == "" || keepDurable {
		return nil
	}
	if err := c.sess.Unsubscribe(sub.durable); err != nil && !errors.Is(err, broker.ErrDurableUnknown) {
		return fmt.Errorf("unsubscribe %q: %w", sub.filter, err)
	}
	return nil
}

// onSubscribe answers SUBSCRIBE. A persistent session records the new
// filters before creating them (a crash in between leaves a recorded
// filter that the next connection creates, never a durable subscription
// that nothing knows about). SUBACK, then the retained messages of each
// granted filter, leave behind the acknowledgements already due.
func (c *conn) onSubscribe(p *packets.SubscribePacket) error {
	if p.MessageID == 0 || len(p.Topics) == 0 {
		return fmt.Errorf("%w: SUBSCRIBE without a packet id or a filter", errProtocol)
	}
	codes := make([]byte, len(p.Topics))
	want := map[string]byte{}
	for i, f := range p.Topics {
		if p.Qoss[i] > 2 {
			return fmt.Errorf("%w: SUBSCRIBE with QoS %d", errProtocol, p.Qoss[i])
		}
		if err := checkFilter(f); err != nil {
			if errors.Is(err, errBadUTF8) {
				// Ill-formed UTF-8 closes the connection [MQTT-1.5.3-2];
				// only a misplaced wildcard is refused in SUBACK.
				return fmt.Errorf("%w: SUBSCRIBE filter %q: %v", errProtocol, f, err)
			}
			c.log.Info("subscription refused", "filter", f, "err", err)
			codes[i] = subackFailure
			continue
		}
		want[f] = p.Qoss[i]
	}
	if !c.clean && len(want) > 0 {
		next := map[string]byte{}
		for f, s := range c.subs {
			next[f] = s.qos
		}
		for f, q := range want {
			next[f] = q
		}
		if err := c.saveSubs(next); err != nil {
			return err
		}
	}
	failed := false
	var retained []outItem
	for i, f := range p.Topics {
		if codes[i] == subackFailure {
			continue
		}
		q := p.Qoss[i]
		if err := c.replace(f, q); err != nil {
			c.log.Warn("subscription failed", "filter", f, "err", err)
			codes[i], failed = subackFailure, true
			continue
		}
		codes[i] = q
		retained = append(retained, c.retainedFor(f, q)...)
	}
	if failed && !c.clean {
		if err := c.saveRecord(); err != nil {
			return err
		}
	}
	ack := &packets.SubackPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Suback}, MessageID: p.MessageID, ReturnCodes: codes}
	c.acks.send(append([]outItem{{pkt: ack}}, retained...)...)
	return nil
}

// replace installs filter at qos. An identical filter's subscription is
// replaced without interrupting its flow [MQTT-3.8.4-3]: the same QoS keeps
// the consumer, another QoS closes it (in-flight messages go back to the
// subscription) and opens the new one on the same durable subscription.
func (c *conn) replace(filter string, qos byte) error {
	old := c.subs[filter]
	if old != nil && old.qos == qos {
		return nil
	}
	if old != nil {
		delete(c.subs, filter)
		keep := !c.clean && qos > 0
		if err := c.drop(old, keep); err != nil {
			return err
		}
	}
	sub, err := c.subscribe(filter, qos)
	if err != nil {
		return err
	}
	c.subs[filter] = sub
	return nil
}

// retainedFor builds the retained messages matching filter, at
// min(their QoS, qos), in topic order.
func (c *conn) retainedFor(filter string, qos byte) []outItem {
	ms := c.sh.retained.collect(func(topic string) bool { return matches(filter, topic) })
	topics := make([]string, 0, len(ms))
	for t := range ms {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	items := make([]outItem, 0, len(topics))
	for _, t := range topics {
		m := ms[t]
		q := qos
		if v, ok := m.Header(qosHeader); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && byte(n) < q {
				q = byte(n)
			}
		}
		pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		pub.Qos, pub.Retain, pub.TopicName, pub.Payload = q, true, t, m.Body
		items = append(items, outItem{pub: pub})
	}
	return items
}

// onUnsubscribe ends the named subscriptions (a persistent session's
// durable ones with their backlog) and then updates the session record.
func (c *conn) onUnsubscribe(p *packets.UnsubscribePacket) error {
	if p.MessageID == 0 || len(p.Topics) == 0 {
		return fmt.Errorf("%w: UNSUBSCRIBE without a packet id or a filter", errProtocol)
	}
	for _, f := range p.Topics {
		if err := checkString(f); err != nil {
			return fmt.Errorf("%w: UNSUBSCRIBE filter %q: %v", errProtocol, f, err)
		}
	}
	changed := false
	for _, f := range p.Topics {
		sub := c.subs[f]
		if sub == nil {
			continue
		}
		delete(c.subs, f)
		changed = true
		if err := c.drop(sub, false); err != nil {
			c.log.Warn("unsubscribe failed", "filter", f, "err", err)
		}
	}
	if changed && !c.clean {
		if err := c.saveRecord(); err != nil {
			return err
		}
	}
	c.acks.send(outItem{pkt: &packets.UnsubackPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Unsuback}, MessageID: p.MessageID}})
	return nil
}
