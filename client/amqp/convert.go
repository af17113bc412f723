package amqp

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goamqp "github.com/Azure/go-amqp"
	"github.com/tethermq/tether/failover/session"
)

// Application properties with a meaning to ActiveMQ-style brokers.
const (
	propDuplicateID = "_AMQ_DUPL_ID"              // duplicate detection (Artemis's name; tether's broker reads it)
	propGroupFirst  = "JMSXGroupFirstForConsumer" // set on a group's first message to a consumer
)

// Reserved lists the application-property names this adapter sets itself
// or that a broker reads as something else than a header; the client
// refuses them as headers (use the matching send option).
var Reserved = []string{propDuplicateID, "JMSXGroupID", "JMSXGroupSeq"}

// defaultPriority is AMQP's (and JMS's) priority when none is given.
const defaultPriority = 4

// address maps a destination to the ActiveMQ AMQP address form. The prefix
// is always written, although a bare name means a queue, so that a name
// that looks like a prefixed one is never misread.
func address(d session.Destination) string { return d.String() }

// toMessage maps an Outgoing onto an AMQP message (see the package doc).
func toMessage(m *session.Outgoing) (*goamqp.Message, error) {
	msg := &goamqp.Message{Data: [][]byte{m.Body}}
	h := &goamqp.MessageHeader{Durable: m.Persistent, Priority: defaultPriority}
	if m.Priority >= 0 {
		h.Priority = uint8(min(m.Priority, 9))
	}
	to := address(m.Destination)
	p := &goamqp.MessageProperties{To: &to}
	if !m.Expires.IsZero() {
		// Both forms: ttl is what AMQP intermediaries honour, the absolute
		// time is what ActiveMQ reads first.
		h.TTL = max(time.Until(m.Expires), time.Millisecond)
		exp := m.Expires
		p.AbsoluteExpiryTime = &exp
	}
	if m.GroupID != "" {
		g := m.GroupID
		p.GroupID = &g
	}
	if m.GroupSeq != 0 {
		// group-sequence is a uint; -1 (closing the group) travels as
		// 0xFFFFFFFF, which ActiveMQ reads back through intValue().
		seq := uint32(int32(m.GroupSeq))
		p.GroupSequence = &seq
	}
	if m.CorrelationID != "" {
		p.CorrelationID = m.CorrelationID
	}
	if m.ReplyTo != nil {
		rt := address(*m.ReplyTo)
		p.ReplyTo = &rt
	}
	msg.Header, msg.Properties = h, p
	if len(m.Headers) > 0 || m.DuplicateID != "" {
		ap := make(map[string]any, len(m.Headers)+1)
		for k, v := range m.Headers {
			if k == "" {
				return nil, fmt.Errorf("amqp: empty header name")
			}
			if slices.Contains(Reserved, k) {
				return nil, fmt.Errorf("amqp: header %q is set by tether itself; use the matching send option", k)
			}
			ap[k] = v
		}
		if m.DuplicateID != "" {
			ap[propDuplicateID] = m.DuplicateID
		}
		msg.ApplicationProperties = ap
	}
	return msg, nil
}

// toDelivery maps a received AMQP message. sub is the subscription it came
// on: its destination stands in when the message has no "to".
func toDelivery(msg *goamqp.Message, sub *subscription) *session.Delivery {
	d := &session.Delivery{
		SubscriptionID: sub.id,
		Destination:    sub.dest,
		Body:           body(msg),
		Priority:       defaultPriority,
		DeliveryCount:  1,
		Token:          &ackToken{sub: sub, msg: msg},
	}
	if h := msg.Header; h != nil {
		d.Persistent = h.Durable
		d.Priority = int(h.Priority)
		// delivery-count is the number of earlier failed attempts;
		// DeliveryCount counts this one too, as JMSXDeliveryCount does.
		d.DeliveryCount = int(h.DeliveryCount) + 1
		d.Redelivered = h.DeliveryCount > 0
		if h.TTL > 0 {
			d.Expires = time.Now().Add(h.TTL)
		}
	}
	if p := msg.Properties; p != nil {
		d.MessageID = idString(p.MessageID)
		if p.To != nil {
			if dest, err := session.ParseDestination(*p.To); err == nil {
				d.Destination = dest
			}
		}
		if p.AbsoluteExpiryTime != nil && !p.AbsoluteExpiryTime.IsZero() && p.AbsoluteExpiryTime.UnixMilli() > 0 {
			d.Expires = *p.AbsoluteExpiryTime
		}
		if p.GroupID != nil {
			d.GroupID = *p.GroupID
		}
		if p.GroupSequence != nil {
			d.GroupSeq = int(int32(*p.GroupSequence))
		}
		d.CorrelationID = idString(p.CorrelationID)
		if p.ReplyTo != nil {
			if rt, err := session.ParseDestination(*p.ReplyTo); err == nil {
				d.ReplyTo = &rt
			}
		}
	}
	if d.MessageID == "" {
		// The broker keeps a producer's message without a message-id as
		// it is and gives its own id in this annotation.
		if id, ok := msg.Annotations["x-opt-tether-message-id"].(string); ok {
			d.MessageID = id
		}
	}
	d.Headers = headers(msg.ApplicationProperties)
	if v, ok := d.Headers.Get(propDuplicateID); ok {
		d.DuplicateID = v
	}
	if v, ok := d.Headers.Get(propGroupFirst); ok {
		d.FirstForConsumer = v == "true"
	}
	return d
}

// body returns the payload: the data sections joined, or a string or
// binary amqp-value (how ActiveMQ sends a text message) as bytes.
func body(msg *goamqp.Message) []byte {
	switch {
	case len(msg.Data) == 1:
		return msg.Data[0]
	case len(msg.Data) > 1:
		return slices.Concat(msg.Data...)
	}
	switch v := msg.Value.(type) {
	case string:
		return []byte(v)
	case []byte:
		return v
	case nil:
		return nil
	default:
		return fmt.Append(nil, v)
	}
}

// headers renders the application properties as strings, sorted by name
// (a map has no wire order to keep).
func headers(ap map[string]any) session.Headers {
	if len(ap) == 0 {
		return nil
	}
	names := make([]string, 0, len(ap))
	for k := range ap {
		names = append(names, k)
	}
	slices.Sort(names)
	h := make(session.Headers, 0, 2*len(names))
	for _, k := range names {
		h = append(h, k, propertyString(ap[k]))
	}
	return h
}

func propertyString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return strconv.FormatInt(v.UnixMilli(), 10)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// idString renders an AMQP message or correlation id (ulong, uuid, binary
// or string) the way ActiveMQ does, so that ids compare equal across
// protocols: non-string ids get a type prefix.
func idString(id any) string {
	switch v := id.(type) {
	case nil:
		return ""
	case string:
		return v
	case uint64:
		return "AMQP_ULONG:" + strconv.FormatUint(v, 10)
	case goamqp.UUID:
		return "AMQP_UUID:" + v.String()
	case []byte:
		return "AMQP_BINARY:" + strings.ToUpper(hex.EncodeToString(v))
	}
	return fmt.Sprint(id)
}
