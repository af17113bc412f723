package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/tethermq/tether/server/internal/broker"
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
	ctx    context.Context
	cancel context.CancelFunc

	maxInflight int // packet ids per connection; lowered by tests

	mu     sync.Mutex
	sh     *shared // acquired by the first Serve, released by Close
	lns    map[net.Listener]struct{}
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// New creates a connector for b. Nothing is loaded or opened until Serve.
func New(b *broker.Broker, o Options) *Server {
	o = o.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		b: b, opts: o, log: o.Logger.With("connector", "mqtt"), ctx: ctx, cancel: cancel,
		maxInflight: maxPacketID, lns: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{},
	}
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
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Transient (EMFILE and the like): back off, bounded.
				delay = min(max(delay*2, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
				case <-s.ctx.Done():
				}
				continue
			}
			return fmt.Errorf("mqtt: accept: %w", err)
		}
		delay = 0
		s.startConn(nc)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) startConn(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlivePeriod(30 * time.Second)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if s.opts.MaxConnections > 0 && len(s.conns) >= s.opts.MaxConnections {
		s.mu.Unlock()
		s.log.Warn("connection refused: maximum connections reached",
			"remote", nc.RemoteAddr().String(), "max", s.opts.MaxConnections)
		nc.Close()
		return
	}
	c := newConn(s, s.sh, nc)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// Close stops accepting, closes every connection (their broker sessions
// close, so in-flight messages are redelivered; wills are not published,
// since the broker is what is going away) and waits for their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel()
	for ln := range s.lns {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown(errServerClosed)
	}
	s.wg.Wait()
	s.mu.Lock()
	sh := s.sh
	s.sh = nil
	s.mu.Unlock()
	if sh != nil {
		releaseShared(s.b, sh)
	}
	return nil
}

// Connections is the number of open client connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
