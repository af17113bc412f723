package broker

import (
	"fmt"

	"github.com/tethermq/tether/server/internal/selector"
)

// QueueBrowser walks the messages that were waiting in a queue when it was
// made, without consuming them: a JMS QueueBrowser's view, ActiveMQ's
// activemq.mode=browse. Messages in flight to a consumer when it was made
// are not part of it; messages consumed or expired since are skipped when
// they were on disk, and still shown when they were in memory (as a
// snapshot does). It is not safe for concurrent use.
type QueueBrowser struct {
	b   *Broker
	qid string
	sel *selector.Selector
	mem []*Message // the waiting messages in memory, highest priority first
	// seqs are the waiting messages on disk only (paged out), by store
	// order, read one by one as the browser gets to them, so that
	// browsing a backlog larger than memory holds only what was asked for.
	seqs []uint64
}

// Browse snapshots queue d's waiting messages that match the selector
// (empty: all). A queue that does not exist browses empty (and is not
// created).
func (s *Session) Browse(d Destination, sel string) (*QueueBrowser, error) {
	if d.Kind != Queue || d.IsWildcard() {
		return nil, fmt.Errorf("browse %s: only queues can be browsed", d)
	}
	matcher, err := selector.Parse(sel)
	if err != nil {
		return nil, fmt.Errorf("browse %s: selector: %w", d, err)
	}
	br := &QueueBrowser{b: s.b, sel: matcher}
	s.b.mu.RLock()
	q := s.b.queues[d.Name]
	s.b.mu.RUnlock()
	if q == nil {
		return br, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	br.qid = q.qid
	for _, e := range q.allPendingLocked() {
		br.mem = append(br.mem, e.msg)
	}
	br.seqs = q.spool.peek(q.spool.len())
	return br, nil
}

// Next returns up to n more messages, fewer only when the browser has
// none left. Messages on disk are read from the store here, so a caller
// asks for what its client can take.
func (br *QueueBrowser) Next(n int) []*Message {
	var out []*Message
	now := nowMs()
	for len(out) < n && (len(br.mem) > 0 || len(br.seqs) > 0) {
		var m *Message
		if len(br.mem) > 0 {
			m, br.mem[0] = br.mem[0], nil
			br.mem = br.mem[1:]
		} else {
			seq := br.seqs[0]
			br.seqs = br.seqs[1:]
			var err error
			if m, err = br.b.loadMessage(br.qid, seq); err != nil {
				continue // consumed since the snapshot (or unreadable: paging logs those)
			}
		}
		if m.Expired(now) || (br.sel != nil && !br.sel.Matches(messageProperty(m))) {
			continue
		}
		out = append(out, m)
	}
	return out
}
