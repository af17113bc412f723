package failover

import (
	"net/url"
	"sync"

	"github.com/tethermq/tether/failover/session"
)

// generation is one session's life as the Conn's connection. Each reconnect
// starts a new generation; a message remembers the generation it came on so
// that an ack can tell whether its session is still the one to ack on.
//
// Invariants (both guarded by Conn.mu):
//   - retired is set when the generation stops being the connection (lost or
//     replaced) and never cleared;
//   - a generation is published as Conn.live only after the state tracker
//     restored every subscription and unconfirmed send on it.
type generation struct {
	id      uint64
	sess    session.Session
	uri     *url.URL
	retired bool
	memo    memo
	// horizon is the last id handed out when the restore looked at the
	// pending sends: only sends up to it can race with the restore, so only
	// they go through the memo.
	horizon uint64
	// confirms waits for the confirmations of SendAsync sends written on
	// this generation.
	confirms confirmQueue
}

// memo runs an operation at most once per key per generation and lets every
// caller share the result, so that the restorer and an application goroutine
// racing to subscribe (or re-send) the same thing on a new connection do it
// once. A failed call is forgotten so that it can be tried again.
type memo struct {
	mu    sync.Mutex
	calls map[string]*memoCall
}

type memoCall struct {
	done chan struct{}
	val  any
	err  error
}

func (m *memo) do(key string, fn func() (any, error)) (any, error) {
	m.mu.Lock()
	if m.calls == nil {
		m.calls = map[string]*memoCall{}
	}
	if c, ok := m.calls[key]; ok {
		m.mu.Unlock()
		<-c.done
		return c.val, c.err
	}
	c := &memoCall{done: make(chan struct{})}
	m.calls[key] = c
	m.mu.Unlock()

	c.val, c.err = fn()
	if c.err != nil {
		m.forget(key)
	}
	close(c.done)
	return c.val, c.err
}

func (m *memo) forget(key string) {
	m.mu.Lock()
	delete(m.calls, key)
	m.mu.Unlock()
}
