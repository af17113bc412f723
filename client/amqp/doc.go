// Package amqp is tether's AMQP 1.0 protocol adapter: it implements
// session.Dialer and session.Session over github.com/Azure/go-amqp, for
// brokers that follow ActiveMQ's AMQP conventions (tether's broker,
// ActiveMQ Classic, Artemis).
//
// It owns one TCP (or TLS) connection per Session and the AMQP state on it:
// the handshake (SASL ANONYMOUS or PLAIN, Open, Begin) within the caller's
// deadline, heart-beats through the idle-time-out, one sender link per
// destination, one receiver link per subscription, and the mapping between
// tether's protocol-neutral values and AMQP messages:
//
//	Destination            address queue://X or topic://X (also properties.to)
//	Persistent, Priority   header.durable, header.priority (4 when unset)
//	Expires                header.ttl and properties.absolute-expiry-time
//	GroupID, GroupSeq      properties.group-id, group-sequence (-1 as 0xFFFFFFFF)
//	CorrelationID, ReplyTo properties.correlation-id, reply-to
//	Headers                application-properties (string values)
//	DuplicateID            application property _AMQ_DUPL_ID
//	Confirm                an unsettled transfer; Accepted confirms, Rejected
//	                       is a *session.BrokerError; otherwise pre-settled
//	Prefetch               receiver link credit (1000 when unset)
//	AckAuto                pre-settled deliveries (the broker acks on send)
//	Ack / Nack             Accepted / Modified{delivery-failed}, with
//	                       receiver-settle-mode second so that Ack returns
//	                       once the broker settled it
//	Selector               the source filter apache.org:selector-filter:string
//	Durable                a receiver link named after the subscription with a
//	                       durable, never-expiring source; the client id is
//	                       the container-id
//
// What AMQP (as these brokers speak it) cannot do is refused with a
// *session.UnsupportedError rather than dropped: transactions (tether's
// broker refuses the transaction coordinator and go-amqp has no client side
// for it), exclusive consumers and consumer priorities (no AMQP mapping).
//
// It never reconnects, retries or remembers anything beyond its one
// connection: that is the failover package's job. A link that dies while
// its connection lives (the broker detached it) fails the whole Session,
// so that the failover engine reconnects and restores everything rather
// than leaving one subscription or one destination silently dead.
package amqp
