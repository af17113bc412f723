package failover

import (
	"sync"
	"time"
)

// EventKind names a state change of a Conn.
type EventKind uint8

const (
	// EventConnected: the first connection is up (URI says where).
	EventConnected EventKind = iota + 1
	// EventInterrupted: the connection was lost (URI: which broker, Err: why)
	// or given up to move back to a priority broker.
	EventInterrupted
	// EventResumed: a new connection is up and every subscription and
	// unconfirmed send has been restored on it (URI says where).
	EventResumed
	// EventReconnectFailed: one pass over the broker list failed (Attempt:
	// the pass number since the loss, Err: the last broker's error).
	EventReconnectFailed
	// EventResent: Count unconfirmed sends were re-sent after a reconnect.
	EventResent
	// EventDuplicateDropped: a redelivery of a message whose ack was in
	// doubt was acknowledged again and not handed to the application.
	EventDuplicateDropped
	// EventFailed: reconnecting gave up (Err wraps ErrReconnectFailed); the
	// Conn is dead.
	EventFailed
)

var eventNames = map[EventKind]string{
	EventConnected:        "connected",
	EventInterrupted:      "interrupted",
	EventResumed:          "resumed",
	EventReconnectFailed:  "reconnect-failed",
	EventResent:           "resent",
	EventDuplicateDropped: "duplicate-dropped",
	EventFailed:           "failed",
}

func (k EventKind) String() string { return eventNames[k] }

// Event is one state change, handed to the OnEvent callback.
type Event struct {
	Kind           EventKind
	Time           time.Time
	URI            string
	Attempt        int
	Count          int
	Err            error
	SubscriptionID string
	MessageID      string
	// DuplicateID is set on EventDuplicateDropped when the dropped message
	// was a second stored copy of one send (the broker has no duplicate
	// detection); it is empty when it was the redelivery of a message whose
	// ack was in doubt.
	DuplicateID string
}

// eventQueue hands events to the callback in order from one goroutine, so a
// slow callback never holds up reconnecting or the adapter's reader.
type eventQueue struct {
	fn     func(Event)
	mu     sync.Mutex
	queue  []Event
	wake   chan struct{}
	closed bool
	done   chan struct{}
}

func newEventQueue(fn func(Event)) *eventQueue {
	q := &eventQueue{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if fn == nil {
		close(q.done)
		return q
	}
	go q.run()
	return q
}

func (q *eventQueue) emit(e Event) {
	if q.fn == nil {
		return
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.queue = append(q.queue, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		batch, closed := q.queue, q.closed
		q.queue = nil
		q.mu.Unlock()
		for _, e := range batch {
			q.fn(e)
		}
		if closed && len(batch) == 0 {
			return
		}
		if len(batch) == 0 {
			<-q.wake
		}
	}
}

// close delivers what is queued, then stops the goroutine.
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	<-q.done
}
