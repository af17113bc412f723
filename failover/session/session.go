package session

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/url"
	"time"
)

// Dialer is a protocol adapter's entry point.
type Dialer interface {
	// Check validates a component URI (scheme, host, port and the adapter's
	// own query options) without touching the network, so that a bad URI is
	// reported before the first connection attempt.
	Check(u *url.URL) error
	// Dial connects to the one broker named by target.URI and returns only
	// after the protocol handshake succeeded (STOMP CONNECTED, AMQP
	// Open+Begin, MQTT CONNACK). ctx carries the handshake deadline: a peer
	// that accepts TCP and never answers must fail when ctx ends. A broker
	// that answers the handshake with a refusal yields a *BrokerError with
	// Op "connect".
	Dial(ctx context.Context, target Target) (Session, error)
}

// Target is what one connection attempt needs.
type Target struct {
	URI    *url.URL // one component URI, nested.* options already applied
	Config Config
}

// Config holds the connection settings shared by every URI of a Conn.
type Config struct {
	Login    string
	Passcode string
	// ClientID identifies the connection to the broker; durable
	// subscriptions need it.
	ClientID string
	// TLS is used for the secure schemes (ssl://, stomp+ssl://, ...); nil
	// means the system roots and the URI's host name.
	TLS *tls.Config
	// HeartBeatSend and HeartBeatReceive are the intervals offered to the
	// broker (what we promise to send, what we want to receive). Zero
	// disables that direction.
	HeartBeatSend    time.Duration
	HeartBeatReceive time.Duration
	Logger           *slog.Logger
}

// Confirmation resolves exactly once: nil when the broker confirmed, an
// error wrapping ErrConnectionLost when the session died first, or a
// *BrokerError when the broker refused. It is buffered, so nobody has to
// read it.
type Confirmation <-chan error

// Session is one live protocol connection to one broker.
//
// Every method is safe for concurrent use. Methods that wait for the broker
// return an error wrapping ErrConnectionLost if the session dies first, and
// ctx.Err() (wrapped) if ctx ends first. After Done is closed every method
// fails with ErrConnectionLost.
type Session interface {
	// Send writes m and returns once it is handed to the connection. The
	// Confirmation resolves when the broker confirmed it if m.Confirm is
	// set, and at once otherwise. Writes are ordered: two Sends from one
	// goroutine reach the broker in call order.
	Send(ctx context.Context, m *Outgoing) (Confirmation, error)
	// Subscribe creates spec on this connection and returns once the broker
	// confirmed it. deliver is called for each message, one at a time, from
	// the session's reader goroutine; it must not block.
	Subscribe(ctx context.Context, spec SubscribeSpec, deliver func(*Delivery)) error
	// Unsubscribe removes the subscription with this ID from the connection.
	Unsubscribe(ctx context.Context, id string) error
	// Ack acknowledges d (and, in AckClient mode, every earlier delivery of
	// its subscription) and returns once the broker confirmed it. tx is the
	// transaction it belongs to, "" for none.
	Ack(ctx context.Context, d *Delivery, tx string) error
	// Nack hands d back to the broker for redelivery, confirmed like Ack.
	Nack(ctx context.Context, d *Delivery, tx string) error
	// Begin, Commit and Abort run a transaction named tx on this connection,
	// each returning once the broker confirmed it.
	Begin(ctx context.Context, tx string) error
	Commit(ctx context.Context, tx string) error
	Abort(ctx context.Context, tx string) error
	// Done is closed when the connection is gone, for whatever reason:
	// network error, missed heart-beats, broker ERROR, or Close.
	Done() <-chan struct{}
	// Err says why Done was closed (nil before that, and after a Close).
	Err() error
	// Close ends the session gracefully (STOMP DISCONNECT with a receipt),
	// waiting at most until ctx ends, then drops the connection. Once Close
	// returns, every confirmation asked for before it has resolved.
	Close(ctx context.Context) error
}

// Advertiser is implemented by sessions whose broker advertises other
// brokers of its cluster at connect time (for example the AMQP
// failover-server-list). The failover engine adds them to its list when the
// updateURIsSupported option is on.
type Advertiser interface {
	AdvertisedURIs() []*url.URL
}
