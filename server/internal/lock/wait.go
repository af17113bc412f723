package lock

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gofrs/flock"
)

// waiter is the one goroutine per FileLocker that blocks in flock(LOCK_EX).
// It cannot be interrupted, so it outlives a cancelled Acquire: the next
// Acquire adopts it, and if no Acquire wants its result it gives the lock
// straight back.
type waiter struct {
	done   chan struct{} // closed once flock has returned and fl, err are set
	wanted bool          // guarded by FileLocker.mu: an Acquire is waiting for the result
	fl     *flock.Flock
	err    error
}

// wait returns a locked flock, by blocking or by polling as configured. The
// polling wait records in busy the file it last found held.
func (l *FileLocker) wait(ctx context.Context, busy *os.FileInfo) (*flock.Flock, error) {
	if l.pollEvery > 0 {
		return l.waitPolling(ctx, busy)
	}
	return l.waitBlocking(ctx)
}

func (l *FileLocker) waitBlocking(ctx context.Context) (*flock.Flock, error) {
	l.mu.Lock()
	w := l.pending
	if w == nil {
		w = &waiter{done: make(chan struct{})}
		l.pending = w
		go l.runWaiter(w)
	}
	w.wanted = true
	l.mu.Unlock()

	select {
	case <-w.done:
		if w.err != nil {
			return nil, fmt.Errorf("lock %s: wait: %w", l.path, w.err)
		}
		return w.fl, nil
	case <-ctx.Done():
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-w.done: // won at the same moment: the caller asked to stop, so give it back
		if w.err == nil {
			_ = w.fl.Close()
		}
	default:
		w.wanted = false
	}
	return nil, ctx.Err()
}

func (l *FileLocker) runWaiter(w *waiter) {
	fl := l.newFlock()
	err := fl.Lock()

	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = nil
	if !w.wanted {
		if err == nil {
			_ = fl.Close()
		}
		l.log.Debug("abandoned lock wait ended; lock given back", "path", l.path, "err", err)
		close(w.done)
		return
	}
	w.fl, w.err = fl, err
	close(w.done)
}

func (l *FileLocker) waitPolling(ctx context.Context, busy *os.FileInfo) (*flock.Flock, error) {
	fl := l.newFlock() // gofrs reopens the path on every failed TryLock
	t := time.NewTicker(l.pollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		ok, err := fl.TryLock()
		if err != nil {
			return nil, fmt.Errorf("lock %s: try lock: %w", l.path, err)
		}
		if ok {
			return fl, nil
		}
		if fi, err := os.Stat(l.path); err == nil {
			*busy = fi
		}
	}
}
