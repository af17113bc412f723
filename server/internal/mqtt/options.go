package mqtt

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/tethermq/tether/server/internal/broker"
)

// Options configure the connector. The zero value is usable.
type Options struct {
	// Authenticate checks CONNECT's user name and password; nil allows
	// anyone. A non-nil error refuses the connection with CONNACK 4 (bad
	// user name or password), or 5 (not authorized) when CONNECT carried no
	// user name, as MQTT 3.1.1 defines them (ActiveMQ answers 5 to both).
	Authenticate func(user, pass string) error
	// Access, when set, authorizes subscriptions (SUBACK 0x80 when refused)
	// and publishes (dropped and logged, yet acknowledged, as MQTT 3.1.1
	// allows and ActiveMQ does).
	Access *broker.AccessControl
	// MaxConnections refuses connections beyond this many (0 = unlimited),
	// answering their CONNECT with CONNACK 3 (server unavailable); URI
	// option maximumConnections.
	MaxConnections int
	// MaxFrameSize bounds one packet's remaining length (default 268435456,
	// the MQTT maximum and ActiveMQ's default); URI option
	// wireFormat.maxFrameSize.
	MaxFrameSize int
	// ConnectTimeout bounds the wait for CONNECT after the TCP accept
	// (default 30 s); URI option transport.connectAttemptTimeout (ms).
	ConnectTimeout time.Duration
	// DefaultKeepAlive is applied to a client that sends keep-alive 0
	// (default 0: no MQTT keep-alive for such clients); URI option
	// transport.defaultKeepAlive (ms).
	DefaultKeepAlive time.Duration
	// SubscriptionPrefetch bounds the unacknowledged messages of one
	// subscription (default: ActiveMQ's 100 for durable subscriptions and
	// 32767 for the others); URI option transport.activeMQSubscriptionPrefetch.
	SubscriptionPrefetch int
	// WriteTimeout bounds one socket write to a client that stopped reading
	// (default 30 s); URI option transport.soWriteTimeout (ms).
	WriteTimeout time.Duration
	Logger       *slog.Logger
}

// DefaultMaxFrameSize is MQTT's largest remaining length, ActiveMQ's default
// wireFormat.maxFrameSize.
const DefaultMaxFrameSize = 268435456

// ParseOptions reads connector options from a transport connector URI's
// query (mqtt://0.0.0.0:1883?transport.defaultKeepAlive=60000). Unknown
// options are an error, as in ActiveMQ.
func ParseOptions(q url.Values) (Options, error) {
	var o Options
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "maximumConnections":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return o, fmt.Errorf("%s=%q: want a non-negative integer", k, v)
			}
			o.MaxConnections = n
		case "wireFormat.maxFrameSize":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return o, fmt.Errorf("%s=%q: want a positive integer", k, v)
			}
			o.MaxFrameSize = n
		case "transport.activeMQSubscriptionPrefetch":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return o, fmt.Errorf("%s=%q: want a positive integer", k, v)
			}
			o.SubscriptionPrefetch = n
		case "transport.defaultKeepAlive", "transport.connectAttemptTimeout", "transport.soWriteTimeout":
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ms < 0 {
				return o, fmt.Errorf("%s=%q: want milliseconds >= 0", k, v)
			}
			d := time.Duration(ms) * time.Millisecond
			switch k {
			case "transport.defaultKeepAlive":
				o.DefaultKeepAlive = d
			case "transport.connectAttemptTimeout":
				o.ConnectTimeout = d
			default:
				o.WriteTimeout = d
			}
		default:
			return o, fmt.Errorf("unknown MQTT connector option %q", k)
		}
	}
	return o, nil
}

// withDefaults fills the zero fields.
func (o Options) withDefaults() Options {
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = DefaultMaxFrameSize
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
