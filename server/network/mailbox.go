package network

import "sync"

// mailbox hands work from callbacks that must not block (broker deliveries
// run under a destination lock; store completions run on the committer) to
// the goroutine that does it. push never blocks; what bounds a mailbox is
// whoever feeds it: a consumer's prefetch, or the outbox slots.
type mailbox[T any] struct {
	mu    sync.Mutex
	items []T
	sig   chan struct{}
}

func newMailbox[T any]() *mailbox[T] { return &mailbox[T]{sig: make(chan struct{}, 1)} }

func (m *mailbox[T]) push(v T) {
	m.mu.Lock()
	m.items = append(m.items, v)
	m.mu.Unlock()
	select {
	case m.sig <- struct{}{}:
	default:
	}
}

// take returns everything queued, oldest first.
func (m *mailbox[T]) take() []T {
	m.mu.Lock()
	items := m.items
	m.items = nil
	m.mu.Unlock()
	return items
}

// ready is signalled after a push.
func (m *mailbox[T]) ready() <-chan struct{} { return m.sig }
