package broker

import (
	"fmt"
	"strconv"
	"strings"
)

// Temporary queues (JMS TemporaryQueue, AMQP dynamic nodes): queues the
// broker names for a client, which a connector deletes, with whatever they
// still hold, when the link or connection that asked for one ends. Their
// names start with TempQueuePrefix; any protocol can send to them (a reply
// to a request's reply-to) for as long as they exist.
//
// The broker keeps no owner for them: the connector that created one
// deletes it. A broker that stops first finds persistent messages sent to
// one as an ordinary queue's at the next start.

// TempQueuePrefix starts the name of every temporary queue.
const TempQueuePrefix = "TempQueue."

// IsTemp reports whether d names a temporary queue.
func (d Destination) IsTemp() bool {
	return d.Kind == Queue && strings.HasPrefix(d.Name, TempQueuePrefix)
}

// CreateTempQueue creates a temporary queue with a name unique to this
// broker, across restarts too.
func (s *Session) CreateTempQueue() (Destination, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return Destination{}, ErrSessionClosed
	}
	d := Destination{Kind: Queue, Name: TempQueuePrefix + s.id + "." + strconv.FormatUint(s.b.nextSeq(), 36)}
	s.b.queueFor(d)
	return d, nil
}

// DeleteTempQueue deletes a temporary queue and its messages; done (which
// may be nil) is called once their deletion is stored. Messages sent to it
// afterwards go to a new, ordinary queue of the same name, so a connector
// deletes one only after its own sends to it.
func (s *Session) DeleteTempQueue(d Destination, done func(error)) {
	if !d.IsTemp() {
		call(done, fmt.Errorf("delete %s: not a temporary queue", d))
		return
	}
	b := s.b
	b.mu.Lock()
	q := b.queues[d.Name]
	delete(b.queues, d.Name)
	b.mu.Unlock()
	if q == nil {
		call(done, nil)
		return
	}
	q.mu.Lock()
	q.closed = true
	keys := q.purgeLocked()
	q.mu.Unlock()
	if len(keys) == 0 {
		call(done, nil)
		return
	}
	s.submit(&commitOp{deletes: keys, done: done})
}
