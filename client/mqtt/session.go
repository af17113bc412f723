package mqtt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/tethermq/tether/failover/session"
)

// The adapter's types implement the session contract.
var (
	_ session.Dialer  = Dialer{}
	_ session.Session = (*Session)(nil)
)

// Session is one MQTT connection. It implements session.Session.
//
// Goroutines: paho's (reader, writer, keep-alive, router), which end when
// the client disconnects or loses its connection; and ours, counted in wg
// and ending once ctx is cancelled (fail does that first): one waiter per
// confirmed publish still without PUBACK.
//
// Invariant: paho's router goroutine calls onMessage for every PUBLISH, in
// arrival order; onMessage and the routing changes of Subscribe and
// Unsubscribe all hold mu, so a subscription sees its messages in arrival
// order whether they came before or after it was registered.
type Session struct {
	c     paho.Client
	clean bool
	log   *slog.Logger

	// ctx ends when the session does; every background wait selects on it.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	subs     map[string]*subscription // by id
	parked   []paho.Message           // arrived before a subscription matching them
	gone     []string                 // filters unsubscribed on this connection
	closing  bool                     // Close was called: the end is not an error
	dead     bool                     // fail ran: start no more goroutines
	confirms sync.WaitGroup

	idPrefix string
	nextID   atomic.Uint64

	done     chan struct{}
	err      error // set before done is closed
	failOnce sync.Once
	wg       sync.WaitGroup
}

func newSession(log *slog.Logger, clean bool) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Session{
		clean:    clean,
		log:      log,
		ctx:      ctx,
		cancel:   cancel,
		subs:     map[string]*subscription{},
		idPrefix: "mqtt-" + hex.EncodeToString(b[:]) + "-",
		done:     make(chan struct{}),
	}
}

// start attaches the connected client. Messages that arrive before it
// (paho may route one as soon as CONNACK is read) wait in parked like any
// message without a subscription.
func (s *Session) start(c paho.Client) {
	s.mu.Lock()
	s.c = c
	s.mu.Unlock()
}

// client returns the paho client (nil before start).
func (s *Session) client() paho.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

// deliveryID returns a fresh delivery id: MQTT 3.1.1 has no message id
// (packet ids are reused), so each delivery gets one that no other delivery
// will ever have.
func (s *Session) deliveryID() string {
	return s.idPrefix + strconv.FormatUint(s.nextID.Add(1), 10)
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
		c := s.c
		s.parked = nil // unacked: the broker redelivers them
		s.mu.Unlock()
		if !closing {
			s.err = fmt.Errorf("%w: %w", session.ErrConnectionLost, cause)
			s.log.Debug("mqtt: session lost", "err", cause)
		}
		s.cancel()
		if c != nil && c.IsConnectionOpen() {
			c.Disconnect(0) // no-op if paho already saw the connection go
		}
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

// wait waits for a paho token, the caller's context or the session's end.
// paho tokens complete with an error when the connection drops, but an
// operation on a session that failed for our own reasons may never
// complete: the session's end is what bounds it.
func (s *Session) wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
	case <-s.done:
		return s.lostErr()
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := tok.Error(); err != nil {
		// An MQTT operation fails only with its connection.
		s.fail(err)
		return s.lostErr()
	}
	return nil
}

// Close waits until ctx ends for every confirmed publish still open to get
// its PUBACK and for the broker to have read every PUBACK sent, then sends
// DISCONNECT. With a persistent session the broker
// keeps its subscriptions until the client id comes back.
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
		if err == nil {
			err = s.barrier(ctx)
		}
		quiesce := uint(100)
		if dl, ok := ctx.Deadline(); ok {
			quiesce = uint(max(0, min(time.Until(dl), time.Second).Milliseconds()))
		}
		if c := s.client(); c != nil {
			c.Disconnect(quiesce)
		}
	}
	s.fail(errors.New("closed"))
	s.wg.Wait()
	return err
}

// barrierTopic is a filter no one subscribes to. Unsubscribing from it
// costs a round trip that every MQTT broker answers (UNSUBACK is owed even
// when nothing matched) and changes nothing.
const barrierTopic = "$tether/close-barrier"

// barrier makes sure the broker has read every PUBACK written so far: it
// reads its connection in order, so an UNSUBACK means it has seen them. A
// PUBACK still unread when a new connection of the same client id takes
// the old one over is lost, and its message is delivered again; with the
// barrier, Close settles acks as a STOMP DISCONNECT receipt does.
func (s *Session) barrier(ctx context.Context) error {
	c := s.client()
	if c == nil {
		return nil
	}
	if err := s.wait(ctx, c.Unsubscribe(barrierTopic)); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
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

// beginConfirm counts a confirmation about to be awaited, unless the
// session is closing: Close waits for the count to reach zero, and nothing
// may be added to a WaitGroup that is being waited on from zero.
func (s *Session) beginConfirm() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.dead {
		return false
	}
	s.confirms.Add(1)
	return true
}

// unsupported is the error for what MQTT 3.1.1 cannot express.
func unsupported(feature string) error {
	return &session.UnsupportedError{Protocol: "mqtt", Feature: feature}
}
