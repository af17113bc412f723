// Package session is the contract between tether's failover engine and its
// protocol adapters (client/stomp today; client/amqp and client/mqtt later).
//
// It owns the protocol-neutral vocabulary both sides speak: a Dialer opens one
// Session to one broker and finishes the protocol handshake; a Session sends
// (with broker confirmation), subscribes, acknowledges and runs transactions
// on that one connection and reports when it dies. It also owns the shared
// value types (Destination, Outgoing, Delivery, SubscribeSpec, AckMode) and
// the typed errors an adapter returns (ErrConnectionLost, *BrokerError,
// *UnsupportedError).
//
// It never reconnects, retries, remembers state across connections or knows a
// wire format: reconnecting is the failover package's job, framing is the
// adapter's. It imports nothing of tether's, so every adapter and the failover
// engine can import it without a cycle.
package session
