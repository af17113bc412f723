// Package stomp is the broker's STOMP 1.0/1.1/1.2 connector: it reads client
// frames, maps them to broker Session calls and writes MESSAGE, RECEIPT,
// CONNECTED and ERROR frames back. It owns the wire and the per-connection
// state (subscriptions, ack ids, heart-beats) and never touches storage.
//
// Frame types come from go-stomp's frame package; the codec (internal/wire)
// is ours because a broker must bound frame sizes and header counts before
// allocating, and must apply 1.2 escaping per connection version. Accepting,
// the connection limit and Close are the shared server/internal/listener's;
// over maximumConnections a client's CONNECT is answered with an ERROR.
package stomp
