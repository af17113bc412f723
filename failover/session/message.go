package session

import "time"

// AckMode is how a subscription's messages are acknowledged.
type AckMode uint8

const (
	// AckAuto: the broker treats a message as consumed once it is sent.
	AckAuto AckMode = iota
	// AckClient: an ack covers the message and every earlier one on the
	// subscription (STOMP "client", JMS CLIENT_ACKNOWLEDGE).
	AckClient
	// AckIndividual: an ack covers exactly one message (STOMP
	// "client-individual", AMQP per-delivery settlement).
	AckIndividual
)

func (m AckMode) String() string {
	switch m {
	case AckClient:
		return "client"
	case AckIndividual:
		return "individual"
	default:
		return "auto"
	}
}

// Outgoing is one message to send. The failover engine fills DuplicateID
// before the first attempt and re-sends the same value after a reconnect, so
// that a broker with duplicate detection stores it once.
type Outgoing struct {
	Destination Destination
	Body        []byte
	// Headers are application properties. Adapters for protocols without
	// properties refuse a non-empty map with an *UnsupportedError.
	Headers    map[string]string
	Persistent bool
	// Priority is 0-9; a negative value leaves the broker's default (4).
	Priority int
	// Expires is the absolute expiry time; zero means never.
	Expires       time.Time
	GroupID       string
	GroupSeq      int // 0 means not set
	CorrelationID string
	ReplyTo       *Destination
	DuplicateID   string
	// Tx is the transaction the send belongs to, "" for none.
	Tx string
	// Confirm asks the adapter to have the broker confirm the send (a STOMP
	// receipt, an AMQP settled disposition, an MQTT PUBACK).
	Confirm bool
}

// SubscribeSpec describes a subscription. The failover engine keeps it and
// subscribes again with the same ID and options after every reconnect.
type SubscribeSpec struct {
	// ID is chosen by the failover engine, unique within one Conn and stable
	// across reconnects.
	ID          string
	Destination Destination
	Ack         AckMode
	// Prefetch is how many unacknowledged messages the broker may push;
	// 0 leaves the broker's default.
	Prefetch  int
	Selector  string
	Exclusive bool
	// Priority is the consumer priority; a negative value leaves the default.
	Priority int
	// Durable names a durable topic subscription ("" for none); it needs a
	// client id on the connection.
	Durable string
	// Headers are extra protocol headers for the subscription, passed as
	// given (STOMP SUBSCRIBE headers such as activemq.noLocal or
	// activemq.retroactive). An adapter that cannot carry them refuses the
	// subscription with an *UnsupportedError.
	Headers map[string]string
}

// Delivery is one message received on a subscription.
type Delivery struct {
	SubscriptionID string
	// MessageID is the broker's id. tether's broker keeps it stable across
	// redeliveries, restarts and master changes; the duplicate audit keys on it.
	MessageID   string
	Destination Destination
	Body        []byte
	// Headers holds every header or property as received, standard ones
	// included, so that a caller can ask for anything on the wire.
	Headers          Headers
	Redelivered      bool
	DeliveryCount    int
	Persistent       bool
	Priority         int
	Expires          time.Time
	GroupID          string
	GroupSeq         int
	FirstForConsumer bool
	CorrelationID    string
	ReplyTo          *Destination
	DuplicateID      string
	// Token is the adapter's own handle for acknowledging this delivery on
	// the session that delivered it (the STOMP ack header, an AMQP delivery).
	Token any
}

// Headers are name/value pairs in wire order: name0, value0, name1, ...
// A slice, not a map: a delivery's dozen headers are read once or never,
// and building a map for each message costs more than scanning.
type Headers []string

// Get returns the first value of name, as STOMP says repeated headers are
// read.
func (h Headers) Get(name string) (string, bool) {
	for i := 0; i+1 < len(h); i += 2 {
		if h[i] == name {
			return h[i+1], true
		}
	}
	return "", false
}

// Map returns the headers as a map (the first value of each name).
func (h Headers) Map() map[string]string {
	m := make(map[string]string, len(h)/2)
	for i := 0; i+1 < len(h); i += 2 {
		if _, seen := m[h[i]]; !seen {
			m[h[i]] = h[i+1]
		}
	}
	return m
}
