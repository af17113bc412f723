// Package client is tether's application-facing SDK: Dial a broker with an
// ActiveMQ-style URI (failover:(tcp://a:61616,tcp://b:61616)?randomize=false,
// or a single tcp:// or stomp:// URI), then Send, Subscribe, acknowledge and
// run transactions through broker restarts and master changes.
//
// It owns the ergonomic surface: destinations written queue://X, topic://X
// or X, functional options for connections, sends and subscriptions, the
// Message accessors, and the choice of protocol adapter by URI scheme. The
// failover behaviour itself (waiting, reconnecting, restoring, re-sending,
// de-duplicating) is the failover package's; the wire is the adapters'
// (client/stomp, client/amqp, client/mqtt). client never reads a socket and never decides when to
// reconnect.
//
// The promise, in short: Send returns nil only once the broker confirmed the
// message; a message is re-sent with its original duplicate id until it is
// confirmed, so a broker with duplicate detection stores it once; a
// subscription comes back after every reconnect; a message whose ack was
// sent but not confirmed is not handed to the application again. See
// docs/failover.md for the whole contract.
package client
