package failover

import (
	"context"
	"fmt"
	"slices"

	"github.com/tethermq/tether/failover/session"
)

// Message is one delivery handed to the application.
type Message struct {
	d *session.Delivery
	g *generation
	s *Subscription
}

// Delivery returns the message as the adapter decoded it. Treat it as
// read-only.
func (m *Message) Delivery() *session.Delivery { return m.d }

// Connection numbers the connection that delivered the message; it grows
// with every reconnect. A change between two messages of a subscription
// means the broker sees a new consumer, so message-group ownership may
// have moved.
func (m *Message) Connection() uint64 { return m.g.id }

// Subscription returns the subscription that received the message.
func (m *Message) Subscription() *Subscription { return m.s }

// Ack acknowledges the message (in AckClient mode, with every earlier one of
// its subscription) and returns once the broker confirmed it.
//
// If the connection dies before the confirmation arrives, the ack is in
// doubt: the message id is remembered, and if the broker redelivers the
// message it is acked again and dropped (EventDuplicateDropped) rather than
// handed to the application a second time. Ack then returns nil: the
// application's part is done. The same happens for a message delivered on a
// connection that has since been lost. In AckAuto mode Ack does nothing.
func (m *Message) Ack(ctx context.Context) error {
	s, c := m.s, m.s.c
	if s.spec.Ack == session.AckAuto {
		return nil
	}
	ids := s.takeCovered(m)
	if c.isRetired(m.g) {
		s.markInDoubt(ids)
		return nil
	}
	s.markInflight(ids)
	err := m.g.sess.Ack(ctx, m.d, "")
	switch {
	case err == nil:
		s.settle(ids)
		c.stats.acked.Add(1)
		return nil
	case lost(err):
		s.moveToDoubt(ids)
		return nil
	case ctx.Err() != nil:
		// The ack may still reach the broker; if it does not, the
		// redelivery is dropped like any in-doubt ack.
		s.moveToDoubt(ids)
		return fmt.Errorf("failover: ack %s: %w", m.d.MessageID, err)
	default:
		s.settle(ids)
		return fmt.Errorf("failover: ack %s: %w", m.d.MessageID, err)
	}
}

// Nack hands the message back to the broker for redelivery and returns once
// the broker confirmed it. If the connection is gone, the broker redelivers
// the message anyway, so Nack returns nil.
func (m *Message) Nack(ctx context.Context) error {
	s, c := m.s, m.s.c
	if s.spec.Ack == session.AckAuto {
		return fmt.Errorf("failover: nack %s: an auto-ack subscription cannot nack", m.d.MessageID)
	}
	s.takeCovered(m)
	if c.isRetired(m.g) {
		return nil
	}
	err := m.g.sess.Nack(ctx, m.d, "")
	if err != nil && !lost(err) {
		return fmt.Errorf("failover: nack %s: %w", m.d.MessageID, err)
	}
	return nil
}

// takeCovered returns the ids an ack of m settles and forgets them as
// unacked: m alone, or in AckClient mode every id delivered up to m.
func (s *Subscription) takeCovered(m *Message) []string {
	if s.spec.Ack != session.AckClient {
		return []string{m.d.MessageID}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.unacked, func(u delivered) bool { return u.id == m.d.MessageID && u.g == m.g })
	if i < 0 {
		return []string{m.d.MessageID}
	}
	var ids []string
	kept := s.unacked[:0]
	for j, u := range s.unacked {
		if j <= i && u.g == m.g {
			ids = append(ids, u.id)
			continue
		}
		kept = append(kept, u)
	}
	clear(s.unacked[len(kept):])
	s.unacked = kept
	return ids
}

func (s *Subscription) markInflight(ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.inflight[id]++
	}
}

// settle forgets ids whose ack got an answer.
func (s *Subscription) settle(ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if s.inflight[id] <= 1 {
			delete(s.inflight, id)
		} else {
			s.inflight[id]--
		}
	}
}

// moveToDoubt turns in-flight acks into in-doubt ones.
func (s *Subscription) moveToDoubt(ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.inflight, id)
	}
	s.addDoubt(ids)
}

func (s *Subscription) markInDoubt(ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addDoubt(ids)
}

// addDoubt remembers ids in the audit. A redelivery that arrived before the
// application's ack was known to be in doubt may already wait in the queue:
// it is dropped too, as the audit would have dropped it. Call with s.mu held.
func (s *Subscription) addDoubt(ids []string) {
	for _, id := range ids {
		s.audit.add(id)
	}
	s.queue = slices.DeleteFunc(s.queue, func(q *Message) bool {
		if !s.audit.contains(q.d.MessageID) {
			return false
		}
		s.dropDuplicate(q.g, q.d, "")
		return true
	})
}
