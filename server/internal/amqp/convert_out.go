package amqp

import (
	"time"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
	"github.com/tethermq/tether/server/internal/broker"
)

// fromBroker encodes a delivery as the payload of its transfers, whatever
// protocol the message was sent with:
//
//	Persistent           header.durable (only when true)
//	Priority             header.priority (only when not 4)
//	Expires              header.ttl (time left) and properties.absolute-expiry-time
//	DeliveryCount        header.delivery-count = failed attempts so far (when redelivered)
//	message id           properties.message-id: the producer's, else the broker's ID
//	Dest                 properties.to (queue://X or topic://X)
//	Type, ReplyTo        properties.subject, reply-to
//	CorrelationID        properties.correlation-id
//	ContentType          properties.content-type
//	Timestamp            properties.creation-time
//	GroupID, GroupSeq    properties.group-id, group-sequence (when set; -1 as 0xFFFFFFFF)
//	Headers, DupID       application-properties (string values; _AMQ_DUPL_ID)
//	Body                 one data section, or the amqp-value / amqp-sequence it came as
//
// A message sent over AMQP goes out instead as the producer sent it, with
// only the header (and possibly an annotation) being the broker's: see
// passthrough.go.
func fromBroker(d *broker.Delivery, now time.Time, log func(msg string, args ...any)) []byte {
	m := d.Message
	h := header(d, now)
	if m.AMQP != nil {
		k, err := parseKept(m.AMQP)
		if err == nil {
			out := make([]byte, 0, len(m.AMQP)+len(m.Body)+64)
			if h != nil {
				out = wire.AppendHeader(out, h)
			}
			if out, err = appendKept(out, k, m); err == nil {
				return out
			}
		}
		// Not expected (the connector wrote it): the fields still carry
		// the message, so it goes out re-encoded rather than not at all.
		log("amqp stored sections unreadable; re-encoding the message", "id", m.ID, "err", err)
	}
	wm := &wire.Message{Header: h}

	p := &wire.Properties{
		MessageID:     m.ID,
		To:            m.Dest.String(),
		Subject:       m.Type,
		ReplyTo:       m.ReplyTo,
		ContentType:   wire.Symbol(m.ContentType),
		GroupID:       m.GroupID,
		CorrelationID: nil,
	}
	if m.CorrelationID != "" {
		p.CorrelationID = idFromString(m.CorrelationID)
	}
	if m.Timestamp > 0 {
		ts := wire.Timestamp(m.Timestamp)
		p.CreationTime = &ts
	}
	if m.Expires > 0 {
		exp := wire.Timestamp(m.Expires)
		p.AbsoluteExpiryTime = &exp
	}
	if m.GroupID != "" && m.GroupSeq != 0 {
		seq := uint32(m.GroupSeq)
		p.GroupSequence = &seq
	}
	wm.Properties = p

	kind := ""
	seen := map[string]bool{}
	for _, hd := range m.Headers {
		switch hd.Name {
		case headerBodyKind:
			kind = hd.Value
			continue
		case headerMessageID:
			p.MessageID = idFromString(hd.Value)
			continue
		case headerDupID:
			continue
		}
		if seen[hd.Name] {
			continue // AMQP map keys are unique: the first of repeated headers wins
		}
		seen[hd.Name] = true
		wm.ApplicationProperties = append(wm.ApplicationProperties, wire.MapEntry{Key: hd.Name, Value: hd.Value})
	}
	if m.DupID != "" {
		wm.ApplicationProperties = append(wm.ApplicationProperties, wire.MapEntry{Key: headerDupID, Value: m.DupID})
	}

	switch kind {
	case bodyText:
		wm.Value, wm.HasValue = string(m.Body), true
	case bodyValue:
		if _, n, err := wire.Decode(m.Body); err == nil && n == len(m.Body) {
			wm.ValueRaw, wm.HasValue = m.Body, true
		}
	case bodySequence:
		wm.Sequences = splitValues(m.Body)
	}
	if !wm.HasValue && len(wm.Sequences) == 0 {
		wm.Data = [][]byte{m.Body}
	}
	return wire.AppendMessage(make([]byte, 0, len(m.Body)+256), wm)
}

// splitValues splits concatenated encoded lists back into sequence
// sections; nil (so the body goes out as data) if they do not decode.
func splitValues(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		v, n, err := wire.Decode(b)
		if _, isList := v.(wire.List); err != nil || !isList {
			return nil
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// header is the broker's header section for a delivery, nil when every
// field has its default.
func header(d *broker.Delivery, now time.Time) *wire.Header {
	m := d.Message
	h := &wire.Header{Durable: m.Persistent, Priority: m.Priority}
	if m.Expires > 0 {
		ttl := uint32(max(1, min(m.Expires-now.UnixMilli(), 0xffffffff)))
		h.TTL = &ttl
	}
	if d.DeliveryCount > 1 {
		h.DeliveryCount = uint32(d.DeliveryCount - 1)
	}
	if h.Durable || h.Priority != wire.DefaultPriority || h.TTL != nil || h.DeliveryCount > 0 {
		return h
	}
	return nil
}
