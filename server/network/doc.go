/*
Package network runs a broker's network connectors: bridges that move
messages to other brokers where they have consumers, as ActiveMQ's
<networkConnector> does.

It owns finding remote brokers (static:(...), masterslave:(...), multicast
discovery on 239.255.2.3:6155, and announcing this broker there), keeping one
bridge per remote alive, demand forwarding, loop prevention, the duplex
direction, and never storing a message twice. It never touches the store
directly and never speaks a wire protocol: the local side goes through the
broker core (broker.Session), the remote side through the client SDK
(client.Dial over STOMP), exactly as any application would.

# Pieces

  - Connector (connector.go) is one configured connector; its URI
    (static:, masterslave:, multicast://) is read here (uri.go,
    multicast.go), not by the SDK. A link (link.go) holds one SDK connection
    to one remote for its whole life (a masterslave: link's over the list,
    master first): the SDK reconnects with the connector's reconnect
    options, given as typed client options (static:'s maxReconnectAttempts
    0, "forever", is the SDK's -1), and re-sends what was unconfirmed.
  - A bridge (bridge.go) is one connection's worth of bridging, from the
    connection being established to its interruption (the SDK's events). It
    first learns the remote's name (hello.go), then starts:
  - the forwarder (forward.go): sends the bridge's outbox queue to the remote
    with the SDK's pipelined send (client.Conn.SendAsync);
  - the mover (demand.go): follows the remote's consumer advisories, keeps a
    local network consumer per remote demand (priority -5, prefetchSize,
    a filter for loops and hops) and stages what they receive in the outbox;
  - for duplex, the puller (pull.go) and the local watch (watch.go): this
    broker's own advisories drive subscriptions on the remote, whose
    messages are stored here.

# Invariants

  - A message moves in one local transaction: acknowledged on its
    destination and added to the outbox in the same store batch. It is never
    in both, never in neither. (Under memory pressure the mover forwards
    directly instead, acknowledging after the remote's receipt.)
  - An outbox message is acknowledged only after the remote's receipt, and
    every send of it carries the same duplicate id (forwardDupID, derived
    from its id and the store's identity), so a re-send after any failure, on
    either side, is dropped by the remote's duplicate detection.
  - A pulled message is acknowledged on the remote only after it is stored
    here under a duplicate id derived from the remote's message id.
  - Only the mover creates, acknowledges for and closes demand consumers,
    and a consumer is closed only when nothing it received is on its way.
  - Every message carries its broker path; a broker never forwards a message
    to a broker on its path (except replayWhenNoConsumers), nor one whose
    path is messageTTL long, and ignores demand that passed through itself
    or travelled consumerTTL hops.
  - Every goroutine belongs to a bridge (stopped at its end), a link or the
    connector (stopped by Close). Remote reads are bounded by the client's
    heart-beats; multicast reads by a deadline of one keep-alive interval.
*/
package network
