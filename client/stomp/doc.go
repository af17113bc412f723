// Package stomp is tether's STOMP 1.2 protocol adapter: it implements
// session.Dialer and session.Session over go-stomp v3's frame codec
// (github.com/go-stomp/stomp/v3/frame).
//
// It owns one TCP (or TLS) connection per Session: the CONNECT handshake
// within the caller's deadline, heart-beat negotiation and enforcement (a
// broker silent for two receive intervals is dead), receipts for every
// frame that needs a confirmation (SEND, SUBSCRIBE, ACK, NACK, BEGIN,
// COMMIT, ABORT, DISCONNECT) with many in flight at once, and the mapping
// between tether's protocol-neutral values and ActiveMQ's STOMP headers.
//
// It never reconnects, retries or remembers anything beyond its one
// connection: that is the failover package's job.
//
// Why not go-stomp's stomp.Conn: its receipted Send holds the connection
// mutex until the receipt arrives (one confirmed send in flight per
// connection), ACK and NACK cannot carry a receipt (so an ack can never be
// known to be confirmed), and it offers no signal that the connection died
// unless a subscription is open. The frame codec has none of these limits.
package stomp
