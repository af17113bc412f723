package amqp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
	"github.com/tethermq/tether/server/internal/broker"
)

// Headers this connector reserves in broker.Message.Headers. They are
// never taken from a peer's application-properties and never sent back as
// application-properties.
const (
	// headerBodyKind records a body that was not data sections, so that it
	// is re-emitted the same way: "text" for an amqp-value string (the body
	// holds its UTF-8 bytes; the value ActiveMQ's STOMP uses for text
	// messages), "amqp-value" or "amqp-sequence" for other values (the
	// body holds their AMQP encoding, passed through untouched).
	headerBodyKind = "amq-msg-type"
	// headerMessageID keeps the producer's message-id (in the string form
	// of msgid.go); the broker assigns its own ID.
	headerMessageID = "JMS_AMQP_MESSAGE_ID"
	// headerDupID is the duplicate-detection property (Artemis's name).
	headerDupID = "_AMQ_DUPL_ID"
)

const (
	bodyText     = "text"
	bodyValue    = "amqp-value"
	bodySequence = "amqp-sequence"
)

// toBroker maps an AMQP message received on a link to dest (or, when
// anonymous, to the message's "to") onto a broker message:
//
//	header.durable             Persistent (absent: non-persistent)
//	header.priority            Priority (absent: 4)
//	header.ttl                 Expires = now + ttl, unless absolute-expiry-time
//	properties.message-id      header JMS_AMQP_MESSAGE_ID
//	properties.subject         Type
//	properties.reply-to        ReplyTo
//	properties.correlation-id  CorrelationID
//	properties.content-type    ContentType
//	properties.absolute-expiry-time, creation-time  Expires, Timestamp
//	properties.group-id        GroupID
//	properties.group-sequence  GroupSeq as int32: 0xFFFFFFFF is -1, closing the group
//	application-properties     Headers, values as text (docs/amqp.md); _AMQ_DUPL_ID is
//	                           DupID; JMSXGroupID/JMSXGroupSeq set the group
//	                           when the properties section does not
//	body                       Body (see headerBodyKind)
//
// user-id, content-encoding and reply-to-group-id have no field of their
// own. All of the message's sections but the header and the delivery
// annotations are also kept encoded in broker.Message.AMQP, which is what
// AMQP receivers get (passthrough.go): the fields above serve the other
// protocols.
func toBroker(wm *wire.Message, enc []byte, dest broker.Destination, anonymous bool, now time.Time) (*broker.Message, error) {
	m := &broker.Message{Dest: dest, Priority: broker.DefaultPriority}
	var ttl *uint32
	if h := wm.Header; h != nil {
		m.Persistent = h.Durable
		m.Priority = min(h.Priority, 9)
		ttl = h.TTL
	}
	if p := wm.Properties; p != nil {
		if anonymous {
			if p.To == "" {
				return nil, errors.New("no target address and no \"to\" property")
			}
			d, err := destination(p.To)
			if err != nil {
				return nil, err
			}
			m.Dest = d
		}
		if id := idToString(p.MessageID); id != "" {
			m.Headers = append(m.Headers, broker.Header{Name: headerMessageID, Value: id})
		}
		m.Type, m.ReplyTo = p.Subject, p.ReplyTo
		m.CorrelationID = idToString(p.CorrelationID)
		m.ContentType = string(p.ContentType)
		if p.AbsoluteExpiryTime != nil && *p.AbsoluteExpiryTime > 0 {
			m.Expires = int64(*p.AbsoluteExpiryTime)
		}
		if p.CreationTime != nil && *p.CreationTime > 0 {
			m.Timestamp = int64(*p.CreationTime)
		}
		m.GroupID = p.GroupID
		if p.GroupSequence != nil {
			m.GroupSeq = int32(*p.GroupSequence)
		}
	} else if anonymous {
		return nil, errors.New("no target address and no properties section")
	}
	if m.Expires == 0 && ttl != nil && *ttl > 0 {
		m.Expires = now.UnixMilli() + int64(*ttl)
	}
	if err := applicationProperties(m, wm.ApplicationProperties, wm.Properties); err != nil {
		return nil, err
	}
	switch {
	case wm.HasValue:
		if s, ok := wm.Value.(string); ok {
			m.Body = []byte(s)
			m.Headers = append(m.Headers, broker.Header{Name: headerBodyKind, Value: bodyText})
		} else {
			m.Body = wm.ValueRaw
			m.Headers = append(m.Headers, broker.Header{Name: headerBodyKind, Value: bodyValue})
		}
	case len(wm.Sequences) > 0:
		m.Body = bytes.Join(wm.Sequences, nil)
		m.Headers = append(m.Headers, broker.Header{Name: headerBodyKind, Value: bodySequence})
	case len(wm.Data) == 1:
		m.Body = wm.Data[0]
	default:
		m.Body = bytes.Join(wm.Data, nil)
	}
	m.AMQP = keepSections(wm, enc, m)
	return m, nil
}

// applicationProperties copies the application-properties into m.
func applicationProperties(m *broker.Message, props wire.Map, p *wire.Properties) error {
	for _, e := range props {
		name, ok := e.Key.(string)
		if !ok {
			return fmt.Errorf("application-properties key of type %T, not string", e.Key)
		}
		switch e.Value.(type) {
		case nil, wire.Decimal32, wire.Decimal64, wire.Decimal128:
			// No text form for other protocols (a null is the same as no
			// property there); AMQP receivers still get them, unchanged.
			continue
		}
		if name == headerDupID {
			switch v := e.Value.(type) {
			case string:
				m.DupID = v
			case []byte: // Artemis clients send it as bytes
				m.DupID = string(v)
			default:
				return fmt.Errorf("%s of type %T, not string or binary", headerDupID, e.Value)
			}
			continue
		}
		if name == headerBodyKind || name == headerMessageID {
			continue
		}
		v, err := propertyString(e.Value)
		if err != nil {
			return fmt.Errorf("application property %q: %w", name, err)
		}
		switch {
		case name == "JMSXGroupID" && (p == nil || p.GroupID == ""):
			m.GroupID = v
			continue
		case name == "JMSXGroupSeq" && (p == nil || p.GroupSequence == nil):
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return fmt.Errorf("JMSXGroupSeq %q: not an int", v)
			}
			m.GroupSeq = int32(n)
			continue
		}
		m.Headers = append(m.Headers, broker.Header{Name: name, Value: v})
	}
	return nil
}

// propertyString formats an application property value (a simple type:
// the specification allows no lists, maps or arrays there) as the string
// the broker stores.
func propertyString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case wire.Symbol:
		return string(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case uint8:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case int8:
		return strconv.FormatInt(int64(v), 10), nil
	case int16:
		return strconv.FormatInt(int64(v), 10), nil
	case int32:
		return strconv.FormatInt(int64(v), 10), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case wire.Char:
		return string(rune(v)), nil
	case wire.Timestamp:
		return strconv.FormatInt(int64(v), 10), nil
	case wire.UUID:
		return formatUUID(v), nil
	case []byte:
		return strings.ToUpper(hex.EncodeToString(v)), nil
	}
	return "", fmt.Errorf("values of type %T are not allowed", v)
}
