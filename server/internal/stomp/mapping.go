package stomp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/server/internal/broker"
)

// Header names of the ActiveMQ/Artemis STOMP mapping.
const (
	hdrPersistent    = "persistent"
	hdrPriority      = "priority"
	hdrExpires       = "expires"
	hdrTimestamp     = "timestamp"
	hdrCorrelationID = "correlation-id"
	hdrReplyTo       = "reply-to"
	hdrType          = "type"
	hdrGroupID       = "JMSXGroupID"
	hdrGroupSeq      = "JMSXGroupSeq"
	hdrGroupFirst    = "JMSXGroupFirstForConsumer"
	hdrDeliveryCount = "JMSXDeliveryCount"
	hdrDupID         = "_AMQ_DUPL_ID"
	hdrRedelivered   = "redelivered"
	hdrNetworkPath   = "tether-broker-path"  // SEND/MESSAGE: brokers the message passed through
	hdrSubNetwork    = "tether-network-path" // SUBSCRIBE: brokers a bridge subscribes for
)

// parseDestination reads a STOMP destination: /queue/X and /topic/X, as
// ActiveMQ spells them, and the broker's own forms (queue://X, topic://X,
// or a bare name, a queue), which ActiveMQ's STOMP also accepts.
func parseDestination(s string) (broker.Destination, error) {
	if name, ok := strings.CutPrefix(s, "/queue/"); ok {
		s = broker.Destination{Kind: broker.Queue, Name: name}.String()
	} else if name, ok := strings.CutPrefix(s, "/topic/"); ok {
		s = broker.Destination{Kind: broker.Topic, Name: name}.String()
	}
	return broker.ParseDestination(s)
}

// wireDestination is a destination as STOMP spells it.
func wireDestination(d broker.Destination) string {
	if d.Kind == broker.Topic {
		return "/topic/" + d.Name
	}
	return "/queue/" + d.Name
}

// originalDestination renders a dead letter's original-destination header,
// held in the broker's form, in STOMP's spelling; a value the broker did
// not write goes out unchanged.
func originalDestination(v string) string {
	if strings.HasPrefix(v, "queue://") || strings.HasPrefix(v, "topic://") {
		if d, err := broker.ParseDestination(v); err == nil {
			return wireDestination(d)
		}
	}
	return v
}

// messageFromSend maps a SEND frame to a broker message. Standard headers
// become message fields; frame-control headers are dropped; every other
// header is a user property.
func messageFromSend(f *frame.Frame) (*broker.Message, error) {
	destHdr := f.Header.Get(frame.Destination)
	if destHdr == "" {
		return nil, errors.New("SEND: missing destination header")
	}
	dest, err := parseDestination(destHdr)
	if err != nil {
		return nil, fmt.Errorf("SEND: %w", err)
	}
	m := &broker.Message{Dest: dest, Body: f.Body, Priority: broker.DefaultPriority}
	for i := 0; i < f.Header.Len(); i++ {
		k, v := f.Header.GetAt(i)
		switch k {
		case frame.Destination, frame.Receipt, frame.Transaction, frame.ContentLength,
			frame.MessageId, hdrRedelivered, frame.Subscription, frame.Ack, hdrDeliveryCount,
			hdrGroupFirst, hdrTimestamp, "JMSXUserID":
			// frame control, or fields only the broker sets
		case hdrPersistent:
			m.Persistent = v == "true"
		case hdrPriority:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 9 {
				return nil, fmt.Errorf("SEND: priority=%q: want 0-9", v)
			}
			m.Priority = uint8(n)
		case hdrExpires:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("SEND: expires=%q: want unix milliseconds", v)
			}
			m.Expires = n
		case hdrCorrelationID:
			m.CorrelationID = v
		case hdrReplyTo:
			m.ReplyTo = v
		case hdrType:
			m.Type = v
		case frame.ContentType:
			m.ContentType = v
		case hdrGroupID:
			m.GroupID = v
		case hdrGroupSeq:
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("SEND: JMSXGroupSeq=%q: want an integer", v)
			}
			m.GroupSeq = int32(n)
		case hdrDupID:
			m.DupID = v
		case hdrNetworkPath:
			m.BrokerPath = splitPath(v)
		case broker.HeaderOriginalDestination:
			// A dead letter sent on (back to the DLQ, say): the broker
			// reads this header in its own form.
			if strings.HasPrefix(v, "/queue/") || strings.HasPrefix(v, "/topic/") {
				if d, err := parseDestination(v); err == nil {
					v = d.String()
				}
			}
			m.Headers = append(m.Headers, broker.Header{Name: k, Value: v})
		default:
			m.Headers = append(m.Headers, broker.Header{Name: k, Value: v})
		}
	}
	return m, nil
}

func splitPath(v string) []string {
	if v == "" {
		return nil
	}
	var out []string
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == ',' {
			if i > start {
				out = append(out, v[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// appendMessage encodes a delivery as a MESSAGE frame.
func (c *conn) appendMessage(buf []byte, s *sub, d *broker.Delivery) []byte {
	m := d.Message
	esc := c.escape
	buf = append(buf, "MESSAGE\n"...)
	buf = appendHeader(buf, frame.Subscription, s.id, esc)
	buf = appendHeader(buf, frame.MessageId, m.ID, esc)
	buf = appendHeader(buf, frame.Destination, wireDestination(m.Dest), esc)
	if c.version == "1.2" && s.ack != broker.AckAuto {
		buf = appendHeader(buf, frame.Ack, ackID(s.id, m.ID), esc)
	}
	if d.Redelivered {
		buf = append(buf, "redelivered:true\n"...)
	}
	if m.Persistent {
		buf = append(buf, "persistent:true\n"...)
	}
	buf = append(buf, "priority:"...)
	buf = strconv.AppendUint(buf, uint64(m.Priority), 10)
	buf = append(buf, '\n')
	if m.Expires != 0 {
		buf = append(buf, "expires:"...)
		buf = strconv.AppendInt(buf, m.Expires, 10)
		buf = append(buf, '\n')
	}
	buf = append(buf, "timestamp:"...)
	buf = strconv.AppendInt(buf, m.Timestamp, 10)
	buf = append(buf, '\n')
	buf = append(buf, "JMSXDeliveryCount:"...)
	buf = strconv.AppendInt(buf, int64(d.DeliveryCount), 10)
	buf = append(buf, '\n')
	if m.CorrelationID != "" {
		buf = appendHeader(buf, hdrCorrelationID, m.CorrelationID, esc)
	}
	if m.ReplyTo != "" {
		buf = appendHeader(buf, hdrReplyTo, m.ReplyTo, esc)
	}
	if m.Type != "" {
		buf = appendHeader(buf, hdrType, m.Type, esc)
	}
	if m.ContentType != "" {
		buf = appendHeader(buf, frame.ContentType, m.ContentType, esc)
	}
	if m.GroupID != "" {
		buf = appendHeader(buf, hdrGroupID, m.GroupID, esc)
		buf = append(buf, "JMSXGroupSeq:"...)
		buf = strconv.AppendInt(buf, int64(m.GroupSeq), 10)
		buf = append(buf, '\n')
		if d.FirstForConsumer {
			buf = append(buf, "JMSXGroupFirstForConsumer:true\n"...)
		}
	}
	if m.DupID != "" {
		buf = appendHeader(buf, hdrDupID, m.DupID, esc)
	}
	if len(m.BrokerPath) > 0 {
		p := m.BrokerPath[0]
		for _, x := range m.BrokerPath[1:] {
			p += "," + x
		}
		buf = appendHeader(buf, hdrNetworkPath, p, esc)
	}
	for _, h := range m.Headers {
		v := h.Value
		if h.Name == broker.HeaderOriginalDestination {
			v = originalDestination(v)
		}
		buf = appendHeader(buf, h.Name, v, esc)
	}
	buf = append(buf, "content-length:"...)
	buf = strconv.AppendInt(buf, int64(len(m.Body)), 10)
	buf = append(buf, "\n\n"...)
	buf = append(buf, m.Body...)
	return append(buf, 0)
}
