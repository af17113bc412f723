package lock

import (
	"context"
	"fmt"
	"time"
)

// Watch is the master's fencing loop. It checks at once and then every
// KeepAlivePeriod that this locker still holds the lock on the file at
// Dir/lock. The lock is lost when that path no longer exists, names a
// different file (deleted and recreated, or replaced by rename), cannot be
// examined, or when this locker no longer holds its descriptor's lock.
//
// On loss Watch logs at ERROR, marks the locker as no longer master (Held
// returns false), calls onLost once with the reason (which wraps ErrLost) and
// returns that reason. onLost must stop all writes to the store; only then
// should the caller Release, because the released lock is what lets a waiting
// slave in. Watch returns nil when ctx is done or Release is called, and
// ErrNotHeld at once if nothing is held.
func (l *FileLocker) Watch(ctx context.Context, onLost func(reason error)) error {
	l.mu.Lock()
	h := l.held
	l.mu.Unlock()
	if h == nil {
		return fmt.Errorf("lock %s: watch: %w", l.path, ErrNotHeld)
	}

	t := time.NewTicker(l.keepAlive)
	defer t.Stop()
	for {
		if reason := l.check(h); reason != nil {
			select {
			case <-h.released: // Release closed the file under the check
				return nil
			default:
			}
			l.mu.Lock()
			h.lost = true
			l.mu.Unlock()
			l.log.Error(l.path+", no longer able to keep the exclusive lock so giving up being a master", "reason", reason)
			if onLost != nil {
				onLost(reason)
			}
			return reason
		}
		h.passed.Add(1)
		select {
		case <-ctx.Done():
			return nil
		case <-h.released:
			return nil
		case <-t.C:
		}
	}
}
