package mqtt

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/listener"
	"github.com/tethermq/tether/server/internal/mqtt/internal/wire"
)

// maxPacketID is how many outbound QoS 1 and 2 messages a connection may
// have unacknowledged: every packet id.
const maxPacketID = 65535

// Server serves MQTT on listeners for one broker.
type Server struct {
	b    *broker.Broker
	opts Options
	log  *slog.Logger

	// ctx ends at Close; it bounds producer flow control waits and tells
	// connections that the server, not the client, is going away.
	ctx context.Context
	set *listener.Set[*conn]

	maxInflight int // packet ids per connection; lowered by tests

	mu     sync.Mutex
	sh     *shared // acquired by the first Serve, released by Close
	closed bool
}

// New creates a connector for b. Nothing is loaded or opened until Serve.
func New(b *broker.Broker, o Options) *Server {
	o = o.withDefaults()
	s := &Server{b: b, opts: o, log: o.Logger.With("connector", "mqtt"), maxInflight: maxPacketID}
	s.set = listener.New(listener.Options[*conn]{
		Protocol: "mqtt", MaxConnections: o.MaxConnections, Logger: s.log,
		New: func(nc net.Conn) *conn {
			s.mu.Lock()
			sh := s.sh
			s.mu.Unlock()
			return newConn(s, sh, nc)
		},
		Refuse:        s.refuse,
		RefuseTimeout: min(o.ConnectTimeout, 5*time.Second),
	})
	s.ctx = s.set.Context()
	return s
}

// Serve accepts connections on ln until Close, and returns nil after Close.
// The first Serve loads the broker's retained messages and persistent
// session records; an error doing so is returned.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	if s.sh == nil {
		sh, err := acquireShared(s.b, s.log)
		if err != nil {
			s.mu.Unlock()
			ln.Close()
			return err
		}
		s.sh = sh
	}
	s.mu.Unlock()
	return s.set.Serve(ln)
}

// refuse answers a connection over maximumConnections: it reads the
// client's CONNECT and answers CONNACK 3, "server unavailable" (MQTT 3.1
// and 3.1.1 section 3.2.2.3: the network connection was made but the
// service is unavailable), after which the listener closes the connection
// as a refusing CONNACK requires [MQTT-3.2.2-5]. A first packet that is
// not a CONNECT gets no answer, as on any connection.
func (s *Server) refuse(nc net.Conn) {
	p, err := wire.Read(bufio.NewReaderSize(nc, 4<<10), min(connectMax, s.opts.MaxFrameSize))
	if _, ok := p.(*packets.ConnectPacket); err != nil || !ok {
		return
	}
	ack := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
	ack.ReturnCode = packets.ErrRefusedServerUnavailable
	_ = ack.Write(nc)
}

// Close stops accepting, closes every connection (their broker sessions
// close, so in-flight messages are redelivered; wills are not published,
// since the broker is what is going away) and waits for their goroutines.
// A second Close returns nil at once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.set.Close()
	s.mu.Lock()
	sh := s.sh
	s.sh = nil
	s.mu.Unlock()
	if sh != nil {
		releaseShared(s.b, sh)
	}
	return err
}

// Connections is the number of open client connections.
func (s *Server) Connections() int { return s.set.Len() }
