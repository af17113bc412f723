package broker

import (
	"fmt"
	"strings"
)

// DestKind says whether a destination is a queue or a topic.
type DestKind uint8

const (
	// Queue is point-to-point: each message goes to one consumer.
	Queue DestKind = iota
	// Topic is publish/subscribe: each subscription gets a copy.
	Topic
)

// Destination names a queue or a topic.
type Destination struct {
	Kind DestKind
	Name string
}

// DLQ is ActiveMQ's default dead-letter queue.
var DLQ = Destination{Kind: Queue, Name: "ActiveMQ.DLQ"}

// HeaderOriginalDestination is the header a dead letter gets: where it was
// sent, in the broker's form (queue://X, topic://X). Connectors render it
// in their protocol's spelling, as they do the destination.
const HeaderOriginalDestination = "original-destination"

// ParseDestination reads the broker's own form, which is the SDK's and
// AMQP's: queue://X, topic://X, or a bare name, which is a queue. A
// protocol with another spelling (STOMP's /queue/X) translates it in its
// connector.
func ParseDestination(s string) (Destination, error) {
	var d Destination
	switch {
	case strings.HasPrefix(s, "queue://"):
		d = Destination{Queue, s[len("queue://"):]}
	case strings.HasPrefix(s, "topic://"):
		d = Destination{Topic, s[len("topic://"):]}
	default:
		d = Destination{Queue, s}
	}
	if d.Name == "" {
		return d, fmt.Errorf("destination %q: empty name", s)
	}
	if strings.ContainsAny(d.Name, "\x00") {
		return d, fmt.Errorf("destination %q: NUL byte in name", s)
	}
	return d, nil
}

// String returns the SDK form, queue://X or topic://X.
func (d Destination) String() string {
	if d.Kind == Topic {
		return "topic://" + d.Name
	}
	return "queue://" + d.Name
}

// IsWildcard reports whether a topic name contains ActiveMQ wildcards
// (* one segment, > the rest).
func (d Destination) IsWildcard() bool {
	return d.Kind == Topic && (strings.Contains(d.Name, "*") || strings.Contains(d.Name, ">"))
}

// Header is one user property, kept in arrival order so that protocols
// that care about order (STOMP repeated headers) round-trip.
type Header struct{ Name, Value string }

// DefaultPriority is the JMS default message priority.
const DefaultPriority = 4

// Message is an immutable message as stored and dispatched. The broker
// shares one *Message between every subscription that receives it, so
// nothing may modify it after Send.
type Message struct {
	ID            string // broker-assigned, stable across restarts
	Dest          Destination
	Body          []byte
	Persistent    bool
	Priority      uint8 // 0-9
	Expires       int64 // unix ms; 0 = never
	Timestamp     int64 // unix ms, set by the broker when 0
	CorrelationID string
	ReplyTo       string
	Type          string
	ContentType   string
	GroupID       string
	GroupSeq      int32
	DupID         string   // _AMQ_DUPL_ID: producer-chosen id for duplicate detection
	Headers       []Header // user properties
	BrokerPath    []string // brokers this message passed through (network loop prevention)
	ProducerConn  string   // id of the sending session, for noLocal
	// AMQP is, for a message sent over AMQP 1.0, the sections the AMQP
	// connector passes on unchanged to AMQP receivers (the producer's
	// bare message and annotations), in that connector's own encoding.
	// The broker stores it and never reads it; the fields above still
	// carry the message for every other protocol.
	AMQP []byte

	seq  uint64 // store order, assigned by the broker
	refs int32  // entries holding it; memory is released at zero
	size int64  // bytes charged to the memory limit
}

// Header returns the first user header with the given name.
func (m *Message) Header(name string) (string, bool) {
	for _, h := range m.Headers {
		if h.Name == name {
			return h.Value, true
		}
	}
	return "", false
}

// Expired reports whether the message's expiry has passed at nowMs.
func (m *Message) Expired(nowMs int64) bool { return m.Expires > 0 && nowMs >= m.Expires }

// memSize is what a message costs against the memory limit: its body and
// headers plus a fixed overhead for the structures that hold it.
func (m *Message) memSize() int64 {
	n := int64(len(m.Body)+len(m.AMQP)) + 256 + int64(len(m.ID)+len(m.CorrelationID)+len(m.ReplyTo)+len(m.GroupID)+len(m.DupID))
	for _, h := range m.Headers {
		n += int64(len(h.Name) + len(h.Value) + 32)
	}
	return n
}

// Delivery is one dispatch of a message to a consumer.
type Delivery struct {
	Message          *Message
	Consumer         *Consumer
	Redelivered      bool
	DeliveryCount    int // 1 on the first delivery
	FirstForConsumer bool
}
