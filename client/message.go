package client

import (
	"context"
	"time"

	"github.com/tethermq/tether/failover"
)

// Message is one received message.
type Message struct {
	m *failover.Message
}

// ID returns the broker's message id (stable across redeliveries on
// tether's broker).
func (m *Message) ID() string { return m.m.Delivery().MessageID }

// Destination returns where the message was sent, as queue://X or topic://X.
func (m *Message) Destination() string { return m.m.Delivery().Destination.String() }

// Body returns the payload. It is not copied: do not modify it.
func (m *Message) Body() []byte { return m.m.Delivery().Body }

// Header returns the named header as received, "" if absent.
func (m *Message) Header(name string) string {
	v, _ := m.m.Delivery().Headers.Get(name)
	return v
}

// Headers returns a copy of every header as received, standard ones included.
func (m *Message) Headers() map[string]string { return m.m.Delivery().Headers.Map() }

// Redelivered reports whether the broker delivered the message before.
func (m *Message) Redelivered() bool { return m.m.Delivery().Redelivered }

// DeliveryCount is the broker's delivery count, if it reports one.
func (m *Message) DeliveryCount() int { return m.m.Delivery().DeliveryCount }

// Persistent reports whether the message was sent persistent.
func (m *Message) Persistent() bool { return m.m.Delivery().Persistent }

// Priority returns the message priority, -1 if the broker did not say.
func (m *Message) Priority() int { return m.m.Delivery().Priority }

// Expires returns when the message expires; zero if never.
func (m *Message) Expires() time.Time { return m.m.Delivery().Expires }

// GroupID returns the message group (JMSXGroupID), "" if none.
func (m *Message) GroupID() string { return m.m.Delivery().GroupID }

// GroupSeq returns the sequence number in the group (JMSXGroupSeq).
func (m *Message) GroupSeq() int { return m.m.Delivery().GroupSeq }

// FirstForConsumer reports whether this is the first message of its group
// given to this consumer (JMSXGroupFirstForConsumer): group ownership moved
// here, for example after a failover.
func (m *Message) FirstForConsumer() bool { return m.m.Delivery().FirstForConsumer }

// CorrelationID returns the correlation id.
func (m *Message) CorrelationID() string { return m.m.Delivery().CorrelationID }

// ReplyTo returns the reply destination as queue://X or topic://X, "" if none.
func (m *Message) ReplyTo() string {
	if rt := m.m.Delivery().ReplyTo; rt != nil {
		return rt.String()
	}
	return ""
}

// DuplicateID returns the sender's duplicate-detection id (_AMQ_DUPL_ID).
func (m *Message) DuplicateID() string { return m.m.Delivery().DuplicateID }

// Ack acknowledges the message (in AckClient mode, with every earlier one)
// and returns once the broker confirmed it. If the connection drops before
// the confirmation, the ack is in doubt: Ack returns nil and, should the
// broker redeliver the message, it is acked again and not handed to the
// application (EventDuplicateDropped). In AckAuto mode Ack does nothing.
func (m *Message) Ack(ctx context.Context) error { return m.m.Ack(ctx) }

// Nack returns the message to the broker for redelivery.
func (m *Message) Nack(ctx context.Context) error { return m.m.Nack(ctx) }
