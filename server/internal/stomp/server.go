package stomp

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/listener"
	"github.com/tethermq/tether/server/internal/stomp/internal/wire"
)

// Options configure the connector.
type Options struct {
	// Authenticate checks CONNECT's login and passcode; nil allows anyone.
	Authenticate func(user, pass string) error
	// Access, when set, authorizes every SEND and SUBSCRIBE; a refusal is
	// an ERROR naming the destination, and the connection stays open.
	Access *broker.AccessControl
	// MaxConnections refuses connections beyond this many (0 = unlimited),
	// answering their CONNECT with an ERROR; URI option maximumConnections.
	MaxConnections int
	// MaxFrameSize bounds a frame's command, headers and body (default
	// 100 MiB, ActiveMQ's); URI option wireFormat.maxFrameSize.
	MaxFrameSize int
	// ConnectTimeout bounds the wait for the CONNECT frame (default 10 s).
	ConnectTimeout time.Duration
	// HeartBeatGrace multiplies the client's promised heart-beat interval
	// before a silent client is dropped (default 1.5; URI option
	// transport.hbGracePeriodMultiplier).
	HeartBeatGrace float64
	// WriteTimeout bounds one write to a client that stopped reading
	// (default 30 s).
	WriteTimeout time.Duration
	Logger       *slog.Logger
}

// ParseOptions reads connector options from a transport connector URI's
// query. Unknown options are an error, as in ActiveMQ.
func ParseOptions(q url.Values) (Options, error) {
	var o Options
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "maximumConnections":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return o, fmt.Errorf("maximumConnections=%q: want a non-negative integer", v)
			}
			o.MaxConnections = n
		case "wireFormat.maxFrameSize", "wireFormat.maxDataLength":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return o, fmt.Errorf("%s=%q: want a positive integer", k, v)
			}
			o.MaxFrameSize = n
		case "transport.hbGracePeriodMultiplier":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 1 {
				return o, fmt.Errorf("%s=%q: want a number >= 1", k, v)
			}
			o.HeartBeatGrace = f
		default:
			return o, fmt.Errorf("unknown STOMP connector option %q", k)
		}
	}
	return o, nil
}

// Server serves STOMP on listeners for one broker.
type Server struct {
	b    *broker.Broker
	opts Options
	log  *slog.Logger
	set  *listener.Set[*conn]
}

// New creates a connector for b.
func New(b *broker.Broker, o Options) *Server {
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = 100 << 20
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.HeartBeatGrace < 1 {
		o.HeartBeatGrace = 1.5
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{b: b, opts: o, log: o.Logger}
	s.set = listener.New(listener.Options[*conn]{
		Protocol: "stomp", MaxConnections: o.MaxConnections, Logger: o.Logger,
		New:           func(nc net.Conn) *conn { return newConn(s, nc) },
		Refuse:        s.refuse,
		RefuseTimeout: min(o.ConnectTimeout, 5*time.Second),
	})
	return s
}

// Serve accepts connections on ln until Close. It returns nil after Close.
func (s *Server) Serve(ln net.Listener) error { return s.set.Serve(ln) }

// refuseFrameMax bounds the frame read from a client that is refused: a
// CONNECT, whose headers are all it can carry of use.
const refuseFrameMax = 64 << 10

// refuse answers a connection over maximumConnections: it reads the
// client's CONNECT (so that closing does not reset a connection with
// unread data, which could discard the answer before the client reads it)
// and answers with an ERROR frame naming the limit, as the STOMP
// specification has a server refuse a connection. A client that sends
// nothing before the listener's refusal deadline still gets the ERROR.
func (s *Server) refuse(nc net.Conn) {
	fr := wire.NewReader(nc, refuseFrameMax)
	for range 8 { // heart-beat EOLs before the CONNECT
		if f, err := fr.Read(); err != nil || f != nil {
			break
		}
	}
	f := frame.New(frame.ERROR,
		frame.Message, fmt.Sprintf("maximum connections (%d) reached", s.opts.MaxConnections),
		frame.ContentType, "text/plain")
	f.Body = []byte("The broker serves at most " + strconv.Itoa(s.opts.MaxConnections) + " STOMP connections on this connector; try again later.\n")
	_, _ = nc.Write(wire.AppendFrame(nil, f, false))
}

// Close stops accepting, closes every connection (their sessions close, so
// in-flight messages are redelivered) and waits for their goroutines. A
// second Close returns nil at once.
func (s *Server) Close() error { return s.set.Close() }

// Connections is the number of open client connections.
func (s *Server) Connections() int { return s.set.Len() }
