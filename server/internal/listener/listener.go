// Package listener is the connection side every broker connector (STOMP,
// AMQP, MQTT) shares: the accept loop, the set of open connections, the
// maximumConnections limit and Close. Each protocol brings only what is
// its own: how a connection is served, how it is asked to end, and how a
// connection over the limit is told so on the wire.
//
// Invariants:
//   - Every accepted connection is either served (counted by Len until its
//     Serve returns) or refused (never counted); none is dropped silently
//     unless more than MaxRefusing refusals are already under way.
//   - Every goroutine the Set starts (a connection's, a refusal's) ends
//     before the first Close returns; Close leaves no listener open.
//   - Close is idempotent: the first call does the work and waits; any
//     later call returns nil at once.
package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Conn is one served connection, as its protocol connector implements it.
type Conn interface {
	// Serve runs the connection to its end on the Set's goroutine, and
	// releases what the connection holds before returning.
	Serve()
	// Shutdown asks the connection to end, from any goroutine: Serve
	// must then return promptly. It may be called more than once, and
	// after Serve has returned.
	Shutdown()
}

// Options configure a Set.
type Options[C Conn] struct {
	// Protocol names the connector in errors and logs ("stomp").
	Protocol string
	// New makes the connection for an accepted socket within the limit.
	// It runs holding the Set's lock, so that Close cannot miss the
	// connection: it must be quick and must not call the Set.
	New func(nc net.Conn) C
	// MaxConnections bounds the connections served at once; 0 = no limit.
	MaxConnections int
	// Refuse tells a connection over MaxConnections that it is refused, in
	// the protocol's own terms (it may read the peer's first frame to
	// answer it). Its reads have RefuseTimeout, and its writes twice that,
	// so that a silent peer is still answered once the read gives up. The
	// Set closes the socket once Refuse returns, or at Close. Nil closes
	// at once.
	Refuse func(nc net.Conn)
	// RefuseTimeout bounds a refusal's wait for the peer (default 5 s).
	RefuseTimeout time.Duration
	// MaxRefusing bounds the refusals under way at once (default 64):
	// the limit exists to bound what connections cost, so a flood beyond
	// it is closed without an answer rather than given a goroutine each.
	MaxRefusing int
	Logger      *slog.Logger
}

// Set serves connections accepted from any number of listeners.
type Set[C Conn] struct {
	o      Options[C]
	log    *slog.Logger
	ctx    context.Context // ends when Close starts
	cancel context.CancelFunc

	mu       sync.Mutex
	lns      map[net.Listener]struct{}
	conns    map[*entry[C]]struct{}
	refusing map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup // connection and refusal goroutines
}

// entry keeps a connection in the set by identity, whatever C is.
type entry[C Conn] struct{ c C }

// New returns a Set; nothing is accepted until Serve.
func New[C Conn](o Options[C]) *Set[C] {
	if o.RefuseTimeout <= 0 {
		o.RefuseTimeout = 5 * time.Second
	}
	if o.MaxRefusing <= 0 {
		o.MaxRefusing = 64
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Protocol == "" {
		o.Protocol = "listener"
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Set[C]{
		o: o, log: o.Logger, ctx: ctx, cancel: cancel,
		lns: map[net.Listener]struct{}{}, conns: map[*entry[C]]struct{}{}, refusing: map[net.Conn]struct{}{},
	}
}

// Context ends when Close starts: connections and the waits they make on
// the server's behalf (flow control, handshakes) watch it.
func (s *Set[C]) Context() context.Context { return s.ctx }

// Closed reports whether Close has been called.
func (s *Set[C]) Closed() bool { return s.ctx.Err() != nil }

// Serve accepts connections on ln until Close, then returns nil; after
// Close it closes ln and returns nil at once. Temporary accept errors (out
// of file descriptors, for one) are retried with a bounded backoff, as
// net/http does; another error is returned, wrapped.
func (s *Set[C]) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.Closed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "protocol", s.o.Protocol, "err", err, "delay", delay)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-s.ctx.Done():
					t.Stop()
					return nil
				}
				continue
			}
			return fmt.Errorf("%s: accept: %w", s.o.Protocol, err)
		}
		delay = 0
		s.start(nc)
	}
}

// start serves or refuses one accepted socket.
func (s *Set[C]) start(nc net.Conn) {
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
	if s.o.MaxConnections > 0 && len(s.conns) >= s.o.MaxConnections {
		s.refuse(nc) // unlocks
		return
	}
	e := &entry[C]{c: s.o.New(nc)}
	s.conns[e] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		e.c.Serve()
		s.mu.Lock()
		delete(s.conns, e)
		s.mu.Unlock()
	}()
}

// refuse runs the protocol's refusal on its own goroutine; call with mu
// held, which it releases.
func (s *Set[C]) refuse(nc net.Conn) {
	remote := nc.RemoteAddr().String()
	if s.o.Refuse == nil || len(s.refusing) >= s.o.MaxRefusing {
		s.mu.Unlock()
		s.log.Warn("connection refused: maximum connections reached", "protocol", s.o.Protocol,
			"remote", remote, "max", s.o.MaxConnections, "answered", false)
		nc.Close()
		return
	}
	s.refusing[nc] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.log.Warn("connection refused: maximum connections reached", "protocol", s.o.Protocol,
		"remote", remote, "max", s.o.MaxConnections, "answered", true)
	go func() {
		defer s.wg.Done()
		now := time.Now()
		_ = nc.SetReadDeadline(now.Add(s.o.RefuseTimeout))
		_ = nc.SetWriteDeadline(now.Add(2 * s.o.RefuseTimeout))
		s.o.Refuse(nc)
		nc.Close()
		s.mu.Lock()
		delete(s.refusing, nc)
		s.mu.Unlock()
	}()
}

// Close stops accepting (closing every listener given to Serve), asks
// every connection to end, ends the refusals under way and waits for all
// their goroutines. Only the first call does this; a later one returns nil
// at once (even while the first is still waiting). The error joins the
// listeners' own close errors.
func (s *Set[C]) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel() // before the listeners close, so Serve sees a shutdown
	var errs []error
	for ln := range s.lns {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("%s: close listener %s: %w", s.o.Protocol, ln.Addr(), err))
		}
	}
	conns := make([]C, 0, len(s.conns))
	for e := range s.conns {
		conns = append(conns, e.c)
	}
	for nc := range s.refusing {
		nc.Close()
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Shutdown()
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// Len is the number of connections being served (refusals not counted).
func (s *Set[C]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Each calls fn for every connection being served, holding the Set's lock:
// fn must not call back into the Set.
func (s *Set[C]) Each(fn func(C)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := range s.conns {
		fn(e.c)
	}
}
