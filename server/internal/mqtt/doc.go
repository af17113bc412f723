// Package mqtt is the reference broker's MQTT 3.1.1 (and 3.1) connector: it
// accepts MQTT clients and maps their packets onto broker.Session calls,
// following ActiveMQ's MQTT conventions so that MQTT, STOMP and AMQP clients
// see each other's messages.
//
// It owns the MQTT side of a connection: the wire (paho's packets codec,
// read through internal/wire with size limits and strict decoding; the
// accept loop, the connection limit and Close are server/internal/listener's,
// and over maximumConnections CONNECT is answered with CONNACK 3), CONNECT with
// authentication, clean and persistent sessions, wills, keep-alive, packet
// identifiers and the QoS 1 and 2 handshakes in both directions, and retained
// messages. It never touches the store directly: everything it persists goes
// through the broker (messages, durable subscriptions, and two internal
// queues, see below), so it survives a restart or a master change exactly as
// the broker's own state does.
//
// # Mapping
//
//   - Topic a/b/c is broker topic a.b.c; '+' is '*', '#' is '>'. As in
//     ActiveMQ each pair swaps, so a '.', '*' or '>' inside an MQTT level
//     becomes '/', '+' or '#', which the broker takes literally, and the
//     mapping is a bijection.
//   - A PUBLISH becomes a topic message with priority 4; QoS 1 and 2 are
//     persistent, QoS 0 is not. Its QoS travels in the ActiveMQ.MQTT.QoS
//     header.
//   - Outbound QoS is min(publish QoS, subscription QoS). A message from
//     another protocol (no ActiveMQ.MQTT.QoS header) goes out at the
//     subscription QoS capped at 1 when persistent and at 0 when not: a
//     STOMP or AMQP sender never asked for exactly-once, and a non-persistent
//     message has no durable copy to redeliver. (ActiveMQ's code does the
//     opposite, which looks like a bug; we do not copy it.)
//   - cleanSession=false: a subscription at QoS 1 or 2 is a durable topic
//     subscription of the client id, named "mqtt:" + the topic filter. The
//     QoS is deliberately not part of the name (ActiveMQ uses "<QoS>:<filter>"):
//     re-subscribing at another QoS then resumes the same durable instead of
//     dropping its backlog. QoS 0 subscriptions are not durable, as in
//     ActiveMQ, but they are part of the session and restored on reconnect.
//
// # Persistence through the broker
//
// Two internal queues hold the connector's own state as ordinary persistent
// messages, read back by one exclusive consumer that keeps every message in
// flight (see table.go):
//
//   - ActiveMQ.MQTT.Retained: the retained message of each topic;
//   - ActiveMQ.MQTT.Sessions: the subscriptions of each persistent session,
//     which is how they are restored after a reconnect or a broker restart.
//
// # Invariants
//
//   - A PUBACK or PUBREC is written only after the broker reported the message
//     stored (or routed, for topics without durable subscribers); if the
//     store failed the connection is closed instead, so the client re-sends.
//   - Acknowledgements of inbound packets (PUBACK, PUBREC, PUBCOMP) leave in
//     the order their packets arrived (MQTT 3.1.1 section 4.6).
//   - A QoS 2 PUBLISH retransmitted before its PUBREL is routed once: packet
//     ids awaiting PUBREL are remembered per client id, across reconnects of
//     a persistent session (not across a broker restart).
//   - Outbound in-flight state (packet ids of unacknowledged PUBLISHes and
//     of PUBRELs owed) belongs to the session, not the connection: a
//     persistent session that reconnects gets its PUBRELs and unacknowledged
//     PUBLISHes again under their original packet ids, DUP set
//     [MQTT-4.4.0-1]. The PUBRELs owed are also in the session record
//     (written before the broker forgets the message at PUBREC), so they
//     survive a broker restart.
//   - A retained PUBLISH updates the retained table's in-memory view before
//     its live copy is routed, so a SUBSCRIBE that follows the live copy
//     always finds the retained one.
//   - Ill-formed UTF-8 or U+0000 in a client id, user name, topic or filter
//     closes the connection [MQTT-1.5.3-1, MQTT-1.5.3-2]; so does an
//     acknowledgement of the wrong kind for an in-flight packet id (PUBACK
//     for QoS 2, PUBREC or PUBCOMP for QoS 1, PUBCOMP before PUBREC). One
//     for an id not in flight is ignored: it may be late.
//   - MQTT 3.1 (protocol level 3): an empty client id is refused with
//     CONNACK 2 and the session-present bit is never set.
//   - A message is acknowledged to the broker only once the client has it:
//     after the socket write for QoS 0, at PUBACK for QoS 1, at PUBREC for
//     QoS 2. Anything unacknowledged when the connection ends is redelivered.
//   - Each connection has exactly two goroutines, a reader (which also runs
//     the handshake and the teardown) and a writer; broker callbacks only
//     append to the writer's queue, never block and never call the broker.
//   - Every read has a deadline: the CONNECT timeout, then 1.5 x the
//     keep-alive. A client that asks for keep-alive 0 gets
//     Options.DefaultKeepAlive, and with that also 0 only the TCP keep-alive
//     (30 s probes) detects a dead peer.
//
// # Behaviour worth knowing
//
//   - The will is published whenever a connection ends without DISCONNECT:
//     network error, malformed input, keep-alive expiry, and take-over by a
//     new connection with the same client id. Not on Server.Close: the
//     broker is the one going away.
//   - Messages redelivered after a reconnect carry DUP and their original
//     packet id (ActiveMQ gives them a new one). After a broker restart the
//     id mapping is gone: they come back with DUP under new ids; only the
//     PUBRELs owed keep theirs.
//   - In a persistent session each first PUBREC of an outbound QoS 2
//     message waits for one session-record write, and each PUBCOMP queues
//     one: outbound QoS 2 to persistent sessions costs two store writes
//     more per message than QoS 1.
//   - Packet ids awaiting PUBREL live in memory: a QoS 2 PUBLISH re-sent
//     after a broker restart (or master change) and before its PUBREL is
//     stored a second time.
//   - Retained messages and session records are held in memory by the
//     tables, as ActiveMQ holds retained messages, and count against the
//     broker's memory limit. Only MQTT publishes are retained.
package mqtt
