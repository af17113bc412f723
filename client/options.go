package client

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/tethermq/tether/failover/session"
)

// DefaultHeartBeat is the heart-beat offered each way: a silent broker is
// detected within two intervals.
const DefaultHeartBeat = 10 * time.Second

// Option configures Dial.
type Option func(*config)

type config struct {
	session        session.Config
	logger         *slog.Logger
	onEvent        func(Event)
	auditWindow    int
	confirmAll     bool
	dialers        map[string]session.Dialer
	closeTimeout   time.Duration
	closeTimeoutOK bool
	sendWindow     int
	failover       []failoverSetting // in the order given; the URI wins
	err            error             // the first bad option
}

// fail records the first invalid option; Dial returns it.
func (c *config) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

func defaultConfig() config {
	return config{
		session: session.Config{
			HeartBeatSend:    DefaultHeartBeat,
			HeartBeatReceive: DefaultHeartBeat,
		},
		confirmAll: true,
	}
}

// WithCredentials sets the login and passcode sent at connect.
func WithCredentials(login, passcode string) Option {
	return func(c *config) { c.session.Login, c.session.Passcode = login, passcode }
}

// WithClientID names the connection; durable subscriptions need it. Over
// MQTT it also makes the session persistent (the broker keeps the
// subscriptions and their QoS 1 messages while the client is away).
func WithClientID(id string) Option {
	return func(c *config) { c.session.ClientID = id }
}

// WithTLS sets the TLS configuration for ssl://, stomp+ssl://, amqps:// and
// mqtt+ssl:// brokers.
func WithTLS(cfg *tls.Config) Option {
	return func(c *config) { c.session.TLS = cfg }
}

// WithLogger sets where the SDK logs; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithHeartBeat sets the heart-beat intervals offered to the broker (default
// 10 s each way); 0 disables a direction. A broker silent for two receive
// intervals is treated as dead and the connection fails over.
func WithHeartBeat(send, receive time.Duration) Option {
	return func(c *config) { c.session.HeartBeatSend, c.session.HeartBeatReceive = send, receive }
}

// WithEventHandler receives Connected, Interrupted, Resumed,
// ReconnectFailed, Resent, DuplicateDropped and Failed events, in order,
// from one goroutine; a slow handler delays only later events.
func WithEventHandler(fn func(Event)) Option {
	return func(c *config) { c.onEvent = fn }
}

// WithAuditWindow sets how many message ids with an ack in doubt each
// subscription remembers (default 2048).
func WithAuditWindow(n int) Option {
	return func(c *config) { c.auditWindow = n }
}

// WithConfirmNonPersistent chooses whether a non-persistent Send waits for
// the broker's confirmation (default true). With false, non-persistent sends
// return once written, a round trip sooner, and are lost if the connection
// drops before the broker reads them (unless the trackMessages option
// re-sends them). Persistent sends are always confirmed.
func WithConfirmNonPersistent(confirm bool) Option {
	return func(c *config) { c.confirmAll = confirm }
}

// WithCloseTimeout bounds how long Close waits for the broker to confirm the
// disconnect (default: the connectTimeout option).
func WithCloseTimeout(d time.Duration) Option {
	return func(c *config) { c.closeTimeout, c.closeTimeoutOK = d, true }
}

// WithDialer serves a URI scheme with the given adapter instead of the
// built-in one: for a protocol tether does not ship, or to wrap an adapter.
func WithDialer(scheme string, d session.Dialer) Option {
	return func(c *config) {
		if c.dialers == nil {
			c.dialers = map[string]session.Dialer{}
		}
		c.dialers[scheme] = d
	}
}

// WithSendWindow sets how many SendAsync sends may await their
// confirmation at once (default DefaultSendWindow); SendAsync waits while
// the window is full. n must be at least 1.
func WithSendWindow(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.fail(fmt.Errorf("tether: WithSendWindow(%d): want at least 1", n))
			return
		}
		c.sendWindow = n
	}
}
