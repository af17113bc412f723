package mqtt

import (
	"log/slog"
	"sync"

	"github.com/tethermq/tether/server/internal/broker"
)

// Internal queues holding the connector's persistent state.
const (
	retainedQueue = "ActiveMQ.MQTT.Retained"
	sessionsQueue = "ActiveMQ.MQTT.Sessions"
)

// shared is the MQTT state of one broker, common to every Server on it (a
// broker may listen on mqtt:// and mqtt+ssl:// at once): two consumers of
// the same internal queue would split its messages between them, and a
// client reconnecting through another listener must find its session.
type shared struct {
	refs     int // guarded by registry.mu
	retained *table
	sessions *table

	mu      sync.Mutex
	clients map[string]*clientState // persistent sessions' in-memory state
}

var registry = struct {
	mu sync.Mutex
	m  map[*broker.Broker]*shared
}{m: map[*broker.Broker]*shared{}}

// acquireShared returns b's MQTT state, loading it on first use.
func acquireShared(b *broker.Broker, log *slog.Logger) (*shared, error) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if sh := registry.m[b]; sh != nil {
		sh.refs++
		return sh, nil
	}
	ret, err := openTable(b, retainedQueue, log)
	if err != nil {
		return nil, err
	}
	ses, err := openTable(b, sessionsQueue, log)
	if err != nil {
		ret.close()
		return nil, err
	}
	sh := &shared{refs: 1, retained: ret, sessions: ses, clients: map[string]*clientState{}}
	registry.m[b] = sh
	return sh, nil
}

// releaseShared drops one reference; the last one closes the tables.
func releaseShared(b *broker.Broker, sh *shared) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if sh.refs--; sh.refs > 0 {
		return
	}
	delete(registry.m, b)
	sh.retained.close()
	sh.sessions.close()
}

// clientState is what a session keeps in memory between connections: the
// QoS 2 packet ids received but not yet released by PUBREL, and the
// outbound messages the client has not completed. It is shared by the
// connections of one client id (a reconnect or a take-over).
type clientState struct {
	mu       sync.Mutex
	owner    *conn
	awaiting map[uint16]*qos2Entry
	flights  *inflight // outbound; has its own lock
}

// qos2Entry is one inbound QoS 2 message between PUBLISH and PUBREL. A
// retransmission waits for the original's outcome instead of being routed
// again.
type qos2Entry struct {
	mu       sync.Mutex
	finished bool
	err      error
	waiters  []func(error)
}

// finish records the original's outcome and tells the waiting duplicates.
func (e *qos2Entry) finish(err error) {
	e.mu.Lock()
	e.finished, e.err = true, err
	ws := e.waiters
	e.waiters = nil
	e.mu.Unlock()
	for _, w := range ws {
		w(err)
	}
}

// then calls fn with the original's outcome, now or when it is known.
func (e *qos2Entry) then(fn func(error)) {
	e.mu.Lock()
	if !e.finished {
		e.waiters = append(e.waiters, fn)
		e.mu.Unlock()
		return
	}
	err := e.err
	e.mu.Unlock()
	fn(err)
}

// begin registers packet id as received; dup reports a retransmission of
// a message still awaiting PUBREL.
func (s *clientState) begin(id uint16) (e *qos2Entry, dup bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e = s.awaiting[id]; e != nil {
		return e, true
	}
	e = &qos2Entry{}
	s.awaiting[id] = e
	return e, false
}

// forget drops id if it still maps to e (PUBREL, or a failed store).
func (s *clientState) forget(id uint16, e *qos2Entry) {
	s.mu.Lock()
	if e == nil || s.awaiting[id] == e {
		delete(s.awaiting, id)
	}
	s.mu.Unlock()
}

// attach returns the state for a connection of clientID: a fresh one for a
// clean session (discarding any old one), the kept one otherwise.
func (sh *shared) attach(c *conn, clientID string, clean bool) *clientState {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.clients[clientID]
	if clean || clientID == "" || st == nil {
		st = &clientState{awaiting: map[uint16]*qos2Entry{}, flights: newInflight(c.srv.maxInflight)}
		if clean || clientID == "" {
			delete(sh.clients, clientID)
		} else {
			sh.clients[clientID] = st
		}
	}
	st.mu.Lock()
	st.owner = c
	st.mu.Unlock()
	return st
}

// detach forgets a persistent session's state once its last connection is
// gone and nothing awaits a PUBREL or a PUBACK/PUBREC/PUBCOMP, so idle
// clients cost no memory.
func (sh *shared) detach(c *conn, clientID string, st *clientState) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.owner != c {
		return
	}
	st.owner = nil
	if len(st.awaiting) == 0 && st.flights.size() == 0 && sh.clients[clientID] == st {
		delete(sh.clients, clientID)
	}
}
