package broker

import (
	"context"
	"sync"
	"sync/atomic"
)

// memoryLimiter is producer flow control: messages held in memory are
// charged against a limit, and a send that finds the limit reached waits
// (its receipt is delayed) until consumers drain enough, instead of
// anything being dropped.
type memoryLimiter struct {
	limit int64

	// blocked counts sends waiting for room now, blockedTotal every send
	// that had to wait (metrics).
	blocked      atomic.Int64
	blockedTotal atomic.Uint64

	mu   sync.Mutex
	used int64
	free chan struct{} // closed and replaced whenever usage drops below the limit
}

func newMemoryLimiter(limit int64) *memoryLimiter {
	return &memoryLimiter{limit: limit, free: make(chan struct{})}
}

// acquire charges n bytes, first waiting while usage is at or over the
// limit. A single message larger than the limit is admitted when nothing
// else is held, so it cannot wait forever.
func (l *memoryLimiter) acquire(ctx context.Context, n int64) error {
	for waited := false; ; {
		l.mu.Lock()
		if l.limit <= 0 || l.used < l.limit {
			l.used += n
			l.mu.Unlock()
			return nil
		}
		wait := l.free
		l.mu.Unlock()
		if !waited {
			waited = true
			l.blockedTotal.Add(1)
			l.blocked.Add(1)
			defer l.blocked.Add(-1)
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// charge adds n bytes without waiting (recovery, redelivery copies).
func (l *memoryLimiter) charge(n int64) {
	l.mu.Lock()
	l.used += n
	l.mu.Unlock()
}

func (l *memoryLimiter) release(n int64) {
	l.mu.Lock()
	before := l.used
	l.used -= n
	if before >= l.limit && l.used < l.limit {
		close(l.free)
		l.free = make(chan struct{})
	}
	l.mu.Unlock()
}

func (l *memoryLimiter) usage() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.used
}
