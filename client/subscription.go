package client

import (
	"context"
	"sync"

	"github.com/tethermq/tether/failover"
	"github.com/tethermq/tether/failover/session"
)

// SubOption configures Subscribe.
type SubOption interface{ applySub(*subConfig) }

type subConfig struct {
	spec session.SubscribeSpec
	err  error
}

type subFunc func(*subConfig)

func (f subFunc) applySub(c *subConfig) { f(c) }

// AckMode says how a subscription's messages are acknowledged; each mode is
// itself a SubOption: Subscribe(ctx, "orders", client.AckIndividual).
type AckMode session.AckMode

const (
	// AckAuto (the default): the broker treats a message as consumed once
	// it has sent it; Message.Ack does nothing. The broker does not wait for
	// the application, so messages it sends faster than they are taken
	// queue up in memory: use AckClient or AckIndividual with Prefetch for
	// flow control.
	AckAuto = AckMode(session.AckAuto)
	// AckClient: Message.Ack acknowledges the message and every earlier
	// one of the subscription.
	AckClient = AckMode(session.AckClient)
	// AckIndividual: Message.Ack acknowledges exactly that message.
	AckIndividual = AckMode(session.AckIndividual)
)

func (m AckMode) applySub(c *subConfig) { c.spec.Ack = session.AckMode(m) }

func (m AckMode) String() string { return session.AckMode(m).String() }

// Prefetch limits how many unacknowledged messages the broker pushes to
// this subscription (activemq.prefetchSize); 0 keeps the broker's default.
func Prefetch(n int) SubOption {
	return subFunc(func(c *subConfig) { c.spec.Prefetch = n })
}

// Selector filters messages with a JMS selector, e.g. "region = 'eu'".
func Selector(expr string) SubOption {
	return subFunc(func(c *subConfig) { c.spec.Selector = expr })
}

// Exclusive asks to be the queue's only active consumer; others take over
// if it goes away.
func Exclusive() SubOption {
	return subFunc(func(c *subConfig) { c.spec.Exclusive = true })
}

// Durable makes a topic subscription durable under name: messages sent
// while it is disconnected are kept. It needs WithClientID.
func Durable(name string) SubOption {
	return subFunc(func(c *subConfig) { c.spec.Durable = name })
}

// Subscription delivers the messages of one subscription, through C() or
// Next; use one or the other.
type Subscription struct {
	fs   *failover.Subscription
	once sync.Once
	ch   chan *Message
}

func newSubscription(fs *failover.Subscription) *Subscription {
	return &Subscription{fs: fs}
}

// ID returns the subscription's id, stable across reconnects.
func (s *Subscription) ID() string { return s.fs.ID() }

// Next returns the next message, waiting until one arrives, ctx ends, or the
// subscription ends (ErrClosed after Unsubscribe or Close,
// ErrReconnectFailed if the connection gave up).
func (s *Subscription) Next(ctx context.Context) (*Message, error) {
	m, err := s.fs.Next(ctx)
	if err != nil {
		return nil, err
	}
	return &Message{m: m}, nil
}

// C returns a channel carrying the messages; it is closed when the
// subscription ends (Err then says why). The first call starts the
// goroutine feeding it, which stops when the subscription ends.
func (s *Subscription) C() <-chan *Message {
	s.once.Do(func() {
		s.ch = make(chan *Message)
		go s.pump()
	})
	return s.ch
}

// pump feeds C until the subscription ends (Next then fails).
func (s *Subscription) pump() {
	defer close(s.ch)
	for {
		m, err := s.fs.Next(context.Background())
		if err != nil {
			return
		}
		select {
		case s.ch <- &Message{m: m}:
		case <-s.fs.Done():
			return
		}
	}
}

// Err returns why the subscription ended, or nil while it is active.
func (s *Subscription) Err() error { return s.fs.Err() }

// Unsubscribe ends the subscription; it is not re-created after a reconnect.
func (s *Subscription) Unsubscribe(ctx context.Context) error { return s.fs.Unsubscribe(ctx) }
