package broker

import (
	"fmt"

	"github.com/tethermq/tether/server/selector"
)

// Browse returns the messages waiting in queue d that match the selector
// (empty: all), highest priority first and in store order within a
// priority, without consuming them: a JMS QueueBrowser's view, ActiveMQ's
// activemq.mode=browse. Messages in flight to a consumer and expired ones
// are not listed. The messages are shared and immutable; the caller must
// not modify them. A queue that does not exist browses empty (and is not
// created).
func (s *Session) Browse(d Destination, sel string) ([]*Message, error) {
	if d.Kind != Queue || d.IsWildcard() {
		return nil, fmt.Errorf("browse %s: only queues can be browsed", d)
	}
	matcher, err := selector.Parse(sel)
	if err != nil {
		return nil, fmt.Errorf("browse %s: selector: %w", d, err)
	}
	s.b.mu.RLock()
	q := s.b.queues[d.Name]
	s.b.mu.RUnlock()
	if q == nil {
		return nil, nil
	}
	now := nowMs()
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*Message
	for _, e := range q.allPendingLocked() {
		m := e.msg
		if m.Expired(now) || (matcher != nil && !matcher.Matches(messageProperty(m))) {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}
