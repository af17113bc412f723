package failover

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/tethermq/tether/failover/session"
)

// Subscription receives the messages of one destination. It survives
// failover: after a reconnect it is created again with the same id and
// options, and messages arrive again.
type Subscription struct {
	c    *Conn
	seq  uint64
	spec session.SubscribeSpec

	// established (guarded by Conn.mu): the broker confirmed it at least
	// once, so every new connection must re-create it.
	established bool

	mu       sync.Mutex
	queue    []*Message // delivered, not yet taken by the application
	wake     chan struct{}
	done     chan struct{}
	closed   bool
	err      error
	unacked  []delivered    // AckClient: delivered, not yet acked, in order
	inflight map[string]int // ids whose ack awaits confirmation
	audit    *audit         // ids whose ack is in doubt
	sendIDs  *sendIDs       // producers' duplicate ids seen, to drop a send stored twice
}

// Subscribe creates a subscription. spec.ID is assigned here. It waits for a
// connection like Send and returns once the broker confirmed the
// subscription.
func (c *Conn) Subscribe(ctx context.Context, spec session.SubscribeSpec) (*Subscription, error) {
	seq := c.ids.Add(1)
	spec.ID = "tether-sub-" + strconv.FormatUint(seq, 10)
	s := &Subscription{
		c:        c,
		seq:      seq,
		spec:     spec,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		inflight: map[string]int{},
		audit:    newAudit(c.cfg.AuditWindow),
		sendIDs:  newSendIDs(c.cfg.AuditWindow),
	}
	c.mu.Lock()
	c.subs[spec.ID] = s
	c.mu.Unlock()

	var g *generation
	for {
		next, err := c.nextLive(ctx, g)
		if err != nil {
			c.forgetSub(s)
			return nil, fmt.Errorf("failover: subscribe to %s: %w", spec.Destination, err)
		}
		g = next
		err = g.subscribe(ctx, s)
		if err == nil && c.establish(g, s) {
			return s, nil
		}
		if err == nil || lost(err) {
			continue // g was retired meanwhile: make sure the next one has it
		}
		c.forgetSub(s)
		return nil, fmt.Errorf("failover: subscribe to %s: %w", spec.Destination, err)
	}
}

// establish marks s as needing restoration on every new connection, and
// reports whether g is still the connection (if not, the caller subscribes
// again on the next one; the memo makes that a no-op if the restore did it).
func (c *Conn) establish(g *generation, s *Subscription) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.established = true
	return !g.retired
}

func (s *Subscription) isEstablished() bool { return s.established } // called with Conn.mu held

func (c *Conn) forgetSub(s *Subscription) {
	c.mu.Lock()
	delete(c.subs, s.spec.ID)
	c.mu.Unlock()
}

func (s *Subscription) key() string { return "sub:" + s.spec.ID }

// subscribe creates s on g once, however many goroutines ask.
func (g *generation) subscribe(ctx context.Context, s *Subscription) error {
	_, err := g.memo.do(s.key(), func() (any, error) {
		return nil, g.sess.Subscribe(ctx, s.spec, s.deliverer(g))
	})
	return err
}

// ID returns the subscription id, stable across reconnects.
func (s *Subscription) ID() string { return s.spec.ID }

// Spec returns the options the subscription was created with.
func (s *Subscription) Spec() session.SubscribeSpec { return s.spec }

// deliverer returns the callback the session on g calls for each message.
// It runs on the adapter's reader goroutine, so it never blocks.
func (s *Subscription) deliverer(g *generation) func(*session.Delivery) {
	return func(d *session.Delivery) {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		if s.audit.contains(d.MessageID) {
			s.dropDuplicate(g, d, "")
			s.mu.Unlock()
			return
		}
		if s.sendIDs.seen(d.DuplicateID, d.MessageID) {
			s.dropDuplicate(g, d, d.DuplicateID)
			s.mu.Unlock()
			return
		}
		if s.spec.Ack == session.AckClient {
			s.unacked = append(s.unacked, delivered{d.MessageID, g})
		}
		s.queue = append(s.queue, &Message{d: d, g: g, s: s})
		s.mu.Unlock()
		s.signal()
	}
}

// dropDuplicate handles the redelivery of a message whose ack was in doubt
// (the application already acked it), or a second stored copy of one send
// (storedTwice is its duplicate id): it is acked and not handed over. Call
// with s.mu held.
func (s *Subscription) dropDuplicate(g *generation, d *session.Delivery, storedTwice string) {
	c := s.c
	switch s.spec.Ack {
	case session.AckIndividual:
		c.background(func(ctx context.Context) {
			ctx, cancel := context.WithTimeout(ctx, c.opts.ConnectTimeout)
			defer cancel()
			if err := g.sess.Ack(ctx, d, ""); err != nil {
				c.log.Debug("failover: re-ack of a duplicate failed; it will come back", "message", d.MessageID, "err", err)
			}
		})
	case session.AckClient:
		// A cumulative ack of this message would also ack earlier ones the
		// application has not acked; the application's next ack covers it.
		s.unacked = append(s.unacked, delivered{d.MessageID, g})
	}
	c.stats.duplicates.Add(1)
	c.log.Debug("failover: dropped redelivery of an acked message", "subscription", s.spec.ID, "message", d.MessageID)
	c.emit(Event{Kind: EventDuplicateDropped, URI: redact(g.uri), SubscriptionID: s.spec.ID, MessageID: d.MessageID, DuplicateID: storedTwice})
}

func (s *Subscription) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next returns the next message, waiting until one arrives, ctx ends or the
// subscription ends (then the error says why: ErrClosed after Unsubscribe or
// Close, ErrReconnectFailed if reconnecting gave up).
func (s *Subscription) Next(ctx context.Context) (*Message, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			m := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			more := len(s.queue) > 0
			s.mu.Unlock()
			if more {
				s.signal() // another consumer of this subscription may be waiting
			}
			s.c.stats.received.Add(1)
			return m, nil
		}
		if s.closed {
			err := s.err
			s.mu.Unlock()
			return nil, err
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Done is closed when the subscription has ended; Err then says why.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns why the subscription ended, or nil while it is active.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Unsubscribe ends the subscription: it is removed from the broker (if
// connected) and not re-created after a reconnect. Messages not yet taken
// are discarded; the broker redelivers unacked ones to other consumers.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	c := s.c
	c.mu.Lock()
	_, active := c.subs[s.spec.ID]
	delete(c.subs, s.spec.ID)
	g := c.live
	c.mu.Unlock()
	if !active {
		return nil
	}
	s.close(ErrClosed)
	if g == nil {
		return nil // the next connection will not have it
	}
	g.memo.forget(s.key())
	err := g.sess.Unsubscribe(ctx, s.spec.ID)
	if err != nil && !lost(err) {
		return fmt.Errorf("failover: unsubscribe from %s: %w", s.spec.Destination, err)
	}
	return nil
}

// close ends the subscription locally with err.
func (s *Subscription) close(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.err = err
	s.queue = nil
	close(s.done)
}

// interrupted is called when g stops being the connection. Acks in flight on
// it become in doubt. Messages from g that the application has not taken
// are dropped unless the subscription auto-acks: the broker redelivers them.
func (s *Subscription) interrupted(g *generation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.inflight {
		s.audit.add(id)
	}
	clear(s.inflight)
	// Keep the lost connection's unacked ids only: a late cumulative ack of
	// one of its messages must still cover the earlier ones.
	s.unacked = slices.DeleteFunc(s.unacked, func(u delivered) bool { return u.g != g })
	if s.spec.Ack == session.AckAuto {
		return
	}
	s.queue = slices.DeleteFunc(s.queue, func(m *Message) bool { return m.g == g })
}

// delivered is a message id and the connection that delivered it.
type delivered struct {
	id string
	g  *generation
}

// sortBySeq orders subscriptions by creation.
func sortBySeq(list []*Subscription) {
	slices.SortFunc(list, func(a, b *Subscription) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
}
