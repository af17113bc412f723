package amqp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	goamqp "github.com/Azure/go-amqp"
	"github.com/tethermq/tether/failover/session"
)

// The adapter's types implement the session contract.
var (
	_ session.Dialer     = Dialer{}
	_ session.Session    = (*Session)(nil)
	_ session.Advertiser = (*Session)(nil)
)

// Session is one AMQP connection with one AMQP session for its senders and
// non-durable receivers. It implements session.Session.
//
// Goroutines, all counted in wg and all ending once ctx is cancelled (which
// fail does first): the watcher (turns the connection's end into fail),
// one receive loop per subscription, and one waiter per confirmed send
// still unsettled. go-amqp's own goroutines end when conn is closed, which
// fail also does.
type Session struct {
	conn *goamqp.Conn
	nc   net.Conn
	as   *goamqp.Session
	log  *slog.Logger
	// scheme (amqp or amqps) is what advertised brokers speak unless they
	// say otherwise.
	scheme string

	// ctx ends when the session does; every background wait selects on it.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	senders  map[string]*senderEntry
	subs     map[string]*subscription
	closing  bool // Close was called: the end is not an error
	dead     bool // fail ran: start no more goroutines
	confirms sync.WaitGroup

	done     chan struct{}
	err      error // set before done is closed
	failOnce sync.Once
	wg       sync.WaitGroup
}

func start(conn *goamqp.Conn, nc net.Conn, as *goamqp.Session, log *slog.Logger) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		conn:    conn,
		nc:      nc,
		as:      as,
		log:     log,
		ctx:     ctx,
		cancel:  cancel,
		senders: map[string]*senderEntry{},
		subs:    map[string]*subscription{},
		done:    make(chan struct{}),
	}
	s.wg.Add(1)
	go s.watch()
	return s
}

// watch fails the session when the connection ends: the broker closed it,
// the network failed, or the broker's idle-time-out passed in silence.
func (s *Session) watch() {
	defer s.wg.Done()
	select {
	case <-s.conn.Done():
		err := s.conn.Err()
		if err == nil {
			err = errors.New("connection closed")
		}
		s.fail(err)
	case <-s.ctx.Done():
	}
}

// Done is closed when the connection is gone.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err says why the connection is gone (nil after Close).
func (s *Session) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// fail ends the session because of cause. Waiting confirmations resolve
// with ErrConnectionLost as their waiters see ctx end.
func (s *Session) fail(cause error) {
	s.failOnce.Do(func() {
		s.mu.Lock()
		closing := s.closing
		s.dead = true
		s.mu.Unlock()
		if !closing {
			s.err = fmt.Errorf("%w: %w", session.ErrConnectionLost, cause)
			s.log.Debug("amqp: session lost", "err", cause)
		}
		s.cancel()
		// A dead peer may not read: cut the socket first so that go-amqp's
		// close does not wait on a write.
		_ = s.nc.SetDeadline(time.Unix(1, 0))
		_ = s.conn.Close()
		close(s.done)
	})
}

// lostErr is the error of an operation on a dead session.
func (s *Session) lostErr() error {
	if err := s.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%w: session closed", session.ErrConnectionLost)
}

// spawn runs fn in a goroutine counted in wg, unless the session is dead
// (then it reports false): nothing may be added to wg once Close waits on it.
func (s *Session) spawn(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// Close waits until ctx ends for the broker to settle every confirmed send
// still open, then closes the connection (an AMQP close).
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	already := s.closing
	s.closing = true
	s.mu.Unlock()
	if already {
		<-s.done
		return nil
	}
	var err error
	select {
	case <-s.done:
	default:
		err = s.drain(ctx)
		// go-amqp's close writes a close frame without a deadline of ours:
		// cut the socket if ctx ends first.
		stop := context.AfterFunc(ctx, func() { _ = s.nc.SetDeadline(time.Unix(1, 0)) })
		_ = s.conn.Close()
		stop()
	}
	s.fail(errors.New("closed"))
	s.wg.Wait()
	return err
}

// drain waits for the confirmations in flight, or for ctx.
func (s *Session) drain(ctx context.Context) error {
	idle := make(chan struct{})
	if !s.spawn(func() { s.confirms.Wait(); close(idle) }) {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// classify turns a go-amqp error from an operation on a link into the
// session contract's terms: the broker refusing the operation (an AMQP
// error in a detach or an outcome) is a *session.BrokerError; a dead link,
// session or connection fails the Session and is ErrConnectionLost; the
// caller's context ending is its error.
func (s *Session) classify(ctx context.Context, op string, err error) error {
	var (
		ce *goamqp.ConnError
		se *goamqp.SessionError
		le *goamqp.LinkError
		ae *goamqp.Error
	)
	switch {
	case errors.As(err, &ce), errors.As(err, &se), errors.As(err, &le):
		s.fail(fmt.Errorf("%s: %w", op, err))
		return s.lostErr()
	case errors.As(err, &ae):
		return &session.BrokerError{Op: op, Message: string(ae.Condition), Detail: ae.Description}
	case ctx.Err() != nil:
		return fmt.Errorf("amqp: %s: %w", op, ctx.Err())
	case s.ctx.Err() != nil:
		return s.lostErr()
	}
	return fmt.Errorf("amqp: %s: %w", op, err)
}

// unsupported is the error for what AMQP, as these brokers speak it,
// cannot do.
func unsupported(feature string) error {
	return &session.UnsupportedError{Protocol: "amqp", Feature: feature}
}
