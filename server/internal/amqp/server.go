package amqp

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tethermq/tether/server/internal/broker"
)

// Server accepts AMQP 1.0 connections and maps them onto a broker.
type Server struct {
	b    *broker.Broker
	opts Options

	ctx    context.Context // cancelled by Close: every connection ends
	cancel context.CancelFunc
	nextID atomic.Uint64

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closed    bool
	wg        sync.WaitGroup // connection goroutines
}

// New returns a connector serving b. Call Serve with a listener.
func New(b *broker.Broker, o Options) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		b: b, opts: o.withDefaults(), ctx: ctx, cancel: cancel,
		listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{},
	}
}

// Serve accepts connections on ln until Close, then returns nil. It
// returns the listener's error if accepting fails for another reason.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off, as
				// net/http does, rather than spin.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.opts.Logger.Warn("amqp accept failed; retrying", "err", err, "delay", delay)
				select {
				case <-time.After(delay):
				case <-s.ctx.Done():
					return nil
				}
				continue
			}
			return err
		}
		delay = 0
		s.start(nc)
	}
}

// start registers and runs a connection, unless the server is closed or
// full.
func (s *Server) start(nc net.Conn) {
	s.mu.Lock()
	if s.closed || (s.opts.MaxConnections > 0 && len(s.conns) >= s.opts.MaxConnections) {
		full := !s.closed
		s.mu.Unlock()
		if full {
			s.opts.Logger.Warn("amqp connection refused: maximumConnections reached",
				"remote", nc.RemoteAddr().String(), "max", s.opts.MaxConnections)
		}
		nc.Close()
		return
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.run()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// Close stops accepting, closes every connection (telling each peer with
// amqp:connection:forced; their sessions close, so unacknowledged messages
// are redelivered) and waits for the connections' goroutines to end.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	s.cancel() // first, so that Serve sees its listener's error as a shutdown
	var errs []error
	for ln := range s.listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return errors.Join(errs...)
}
