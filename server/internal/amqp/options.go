package amqp

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
	"github.com/tethermq/tether/server/internal/broker"
)

// Options configure the AMQP connector. Zero values take the defaults
// noted on each field (ActiveMQ's, where ActiveMQ has one).
type Options struct {
	// Authenticate checks SASL PLAIN credentials. Nil accepts every
	// connection: ANONYMOUS is offered and PLAIN accepts any credentials
	// (the user name is still recorded).
	Authenticate func(user, pass string) error
	// Access, when set, authorizes links and transfers: a refused attach is
	// detached, a refused transfer rejected, with amqp:unauthorized-access.
	Access *broker.AccessControl
	// AllowAnonymous also offers SASL ANONYMOUS when Authenticate is set
	// (ActiveMQ's anonymousAccessAllowed).
	AllowAnonymous bool
	// MaxConnections bounds open connections; 0 = unlimited. One more is
	// answered with an open and a close with amqp:resource-limit-exceeded.
	// URI option maximumConnections.
	MaxConnections int
	// MaxFrameSize is the max-frame-size this side advertises and the
	// largest frame it sends (1 MiB; at least 512). URI option
	// wireFormat.maxFrameSize.
	MaxFrameSize int
	// MaxMessageSize bounds one message, however many frames it spans
	// (100 MiB, ActiveMQ's maxDataLength). URI option
	// wireFormat.maxDataLength.
	MaxMessageSize int
	// IdleTimeout is the idle-time-out advertised in open: a peer that
	// sends nothing for this long is disconnected (30 s). URI option
	// transport.wireFormat.idleTimeout (milliseconds).
	IdleTimeout time.Duration
	// HandshakeTimeout bounds the protocol header, SASL and open exchange
	// (30 s). URI option transport.connectAttemptTimeout (milliseconds).
	HandshakeTimeout time.Duration
	// WriteTimeout bounds each socket write, so a peer that stops reading
	// is disconnected (30 s).
	WriteTimeout time.Duration
	// ProducerCredit is the link credit granted to each sending link and
	// so the bound on its unconfirmed transfers (1000). URI option
	// transport.producerCredit.
	ProducerCredit int
	// Prefetch fixes every consumer's prefetch; 0 takes it from the first
	// link credit the consumer grants. URI option transport.prefetch.
	Prefetch int
	// ContainerID is sent in open ("tether").
	ContainerID string
	Logger      *slog.Logger
}

// Defaults.
const (
	DefaultMaxFrameSize     = 1 << 20
	DefaultMaxMessageSize   = 100 << 20
	DefaultIdleTimeout      = 30 * time.Second
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultWriteTimeout     = 30 * time.Second
	DefaultProducerCredit   = 1000
)

// maxPrefetch caps a consumer prefetch taken from link credit: a receiver
// granting millions of credits must not make the broker dispatch millions
// of messages to one connection.
const maxPrefetch = 32767

func (o Options) withDefaults() Options {
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = DefaultMaxFrameSize
	}
	o.MaxFrameSize = max(o.MaxFrameSize, wire.MinMaxFrameSize)
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.ProducerCredit <= 0 {
		o.ProducerCredit = DefaultProducerCredit
	}
	if o.ContainerID == "" {
		o.ContainerID = "tether"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// ParseOptions reads the connector's options from a transport connector
// URI's query (amqp://0.0.0.0:5672?maximumConnections=1000&...), using
// ActiveMQ's option names. An unknown option is an error.
func ParseOptions(q url.Values) (Options, error) {
	var o Options
	for key, vals := range q {
		if len(vals) != 1 {
			return o, fmt.Errorf("amqp option %s: given %d times", key, len(vals))
		}
		n, err := strconv.Atoi(vals[0])
		if err != nil || n < 0 {
			return o, fmt.Errorf("amqp option %s=%q: not a non-negative integer", key, vals[0])
		}
		ms := time.Duration(n) * time.Millisecond
		switch key {
		case "maximumConnections":
			o.MaxConnections = n
		case "wireFormat.maxFrameSize", "transport.maxFrameSize":
			o.MaxFrameSize = n
		case "wireFormat.maxDataLength", "transport.maxDataLength":
			o.MaxMessageSize = n
		case "wireFormat.idleTimeout", "transport.wireFormat.idleTimeout":
			o.IdleTimeout = ms
		case "transport.connectAttemptTimeout":
			o.HandshakeTimeout = ms
		case "transport.producerCredit":
			o.ProducerCredit = n
		case "transport.prefetch":
			o.Prefetch = n
		default:
			return o, fmt.Errorf("amqp option %s: unknown", key)
		}
	}
	return o, nil
}
