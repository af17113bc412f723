package amqp

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/listener"
)

// Server accepts AMQP 1.0 connections and maps them onto a broker.
type Server struct {
	b    *broker.Broker
	opts Options

	ctx    context.Context // the listener's: ends at Close, and with it every connection
	set    *listener.Set[*conn]
	nextID atomic.Uint64
}

// New returns a connector serving b. Call Serve with a listener.
func New(b *broker.Broker, o Options) *Server {
	s := &Server{b: b, opts: o.withDefaults()}
	s.set = listener.New(listener.Options[*conn]{
		Protocol: "amqp", MaxConnections: s.opts.MaxConnections, Logger: s.opts.Logger,
		New:           func(nc net.Conn) *conn { return newConn(s, nc) },
		Refuse:        s.refuse,
		RefuseTimeout: min(s.opts.HandshakeTimeout, 5*time.Second),
	})
	s.ctx = s.set.Context()
	return s
}

// Serve accepts connections on ln until Close, then returns nil. It
// returns the listener's error if accepting fails for another reason.
func (s *Server) Serve(ln net.Listener) error { return s.set.Serve(ln) }

// refuse answers a connection over maximumConnections the way AMQP 1.0
// refuses one (section 2.4.1 of the specification): the protocol header
// and SASL exchanges run as usual, then the peer's open is answered with an
// open immediately followed by a close carrying amqp:resource-limit-exceeded.
// The open carries the amqp:connection-establishment-failed property that
// Qpid JMS and Artemis use to say "do not use this open, a close follows".
func (s *Server) refuse(nc net.Conn) {
	c := newConn(s, nc)
	c.refusal = errConn(wire.CondResourceLimit, "maximum connections (%d) reached", s.opts.MaxConnections)
	err := c.guard(c.handshake)
	c.log.Debug("amqp connection refused", "err", err)
}

// Close stops accepting, closes every connection (telling each peer with
// amqp:connection:forced; their sessions close, so unacknowledged messages
// are redelivered) and waits for the connections' goroutines to end. A
// second Close returns nil at once.
func (s *Server) Close() error { return s.set.Close() }

// Connections is the number of open connections.
func (s *Server) Connections() int { return s.set.Len() }
