package lock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
)

// FileLocker holds, or waits for, the exclusive lock on Dir/lock. Holding it
// means "I am master". Its methods are safe for concurrent use; Acquire calls
// are serialised.
type FileLocker struct {
	path      string
	keepAlive time.Duration
	pollEvery time.Duration // 0: blocking wait
	startedAt time.Time
	log       *slog.Logger

	// acquiring has room for one token: the Acquire that holds it is the only
	// one running, and waiting for it honours the caller's context.
	acquiring chan struct{}

	mu      sync.Mutex
	held    *holding // set by a successful Acquire, cleared by Release
	pending *waiter  // the goroutine blocked in flock, if any
}

// holding is one successful acquisition.
type holding struct {
	fl       *flock.Flock
	info     os.FileInfo   // identity (device, inode) of the locked file
	released chan struct{} // closed by Release, before the file is closed
	lost     bool          // guarded by FileLocker.mu: Watch reported a loss
	passed   atomic.Int64  // fencing checks passed, for diagnostics and tests
}

// NewFileLocker checks o and returns a locker that holds nothing yet.
func NewFileLocker(o Options) (*FileLocker, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return &FileLocker{
		path:      filepath.Join(o.Dir, FileName),
		keepAlive: o.KeepAlivePeriod,
		pollEvery: o.AcquireSleepInterval,
		startedAt: o.StartedAt,
		log:       o.Logger,
		acquiring: make(chan struct{}, 1),
	}, nil
}

// Path is the lock file, Dir/lock.
func (l *FileLocker) Path() string { return l.path }

// Held reports whether this locker is master: Acquire succeeded, Release has
// not been called, and Watch has not reported a loss.
func (l *FileLocker) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held != nil && !l.held.lost
}

// Acquire blocks until this locker holds the lock or ctx is done, in which
// case it returns ctx.Err() promptly and holds nothing. If the lock is busy it
// logs once, at INFO, ActiveMQ's "Database <dir>/lock is locked by another
// server. This broker is now in slave mode waiting a lock to be acquired",
// then waits; with the default blocking wait it takes over as soon as the
// kernel releases the holder's lock (on Release or on process death).
// Acquire on a locker that is already master returns nil at once.
func (l *FileLocker) Acquire(ctx context.Context) error {
	select {
	case l.acquiring <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.acquiring }()

	l.mu.Lock()
	h := l.held
	l.mu.Unlock()
	if h != nil {
		if h.lost {
			return fmt.Errorf("lock %s: acquire: release the lost lock first: %w", l.path, ErrLost)
		}
		return nil
	}

	began := time.Now()
	var busy os.FileInfo // the file last seen held by another, until seen free
	warned := false
	for {
		fl, ok, err := l.tryLock()
		if err != nil {
			return err
		}
		if !ok {
			if fi, err := os.Stat(l.path); err == nil {
				busy = fi
			}
			if !warned {
				warned = true
				l.log.Info("Database " + l.path + " is locked by another server. This broker is now in slave mode waiting a lock to be acquired")
			}
			if fl, err = l.wait(ctx, &busy); err != nil {
				return err
			}
		}
		info, err := fl.Stat()
		if err != nil {
			_ = fl.Close()
			return fmt.Errorf("lock %s: stat locked file: %w", l.path, err)
		}
		if busy != nil && os.SameFile(busy, info) {
			busy = nil // whoever held it has let go
		}
		if retry, err := l.verify(fl, info); err != nil || retry {
			if err != nil {
				return err
			}
			continue
		}
		if busy != nil {
			if retry, err := l.settle(ctx, fl, info); err != nil || retry {
				if err != nil {
					return err
				}
				continue
			}
		}
		l.install(fl, info, time.Since(began))
		return nil
	}
}

// verify drops fl and asks for another attempt when the file it locked is no
// longer the one at Dir/lock.
func (l *FileLocker) verify(fl *flock.Flock, info os.FileInfo) (retry bool, err error) {
	err = l.checkPath(info)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, ErrLockFileRemoved), errors.Is(err, ErrLockFileReplaced):
		l.log.Debug("locked a lock file that is no longer current; trying again", "path", l.path, "reason", err)
		_ = fl.Close()
		return true, nil
	default:
		_ = fl.Close()
		return false, err
	}
}

// settle holds a freshly won lock for 2*KeepAlivePeriod before this locker
// calls itself master, because a holder of the file that was replaced may not
// have noticed yet: its Watch needs up to one period to see it and some time
// to stop serving.
func (l *FileLocker) settle(ctx context.Context, fl *flock.Flock, info os.FileInfo) (retry bool, err error) {
	d := 2 * l.keepAlive
	l.log.Info("lock file was replaced while this broker waited; holding the new one before becoming master so the previous master can stop first",
		"path", l.path, "hold", d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		_ = fl.Close()
		return false, ctx.Err()
	case <-t.C:
	}
	return l.verify(fl, info)
}

func (l *FileLocker) install(fl *flock.Flock, info os.FileInfo, waited time.Duration) {
	if err := l.writeOwner(info); err != nil {
		// The contents are for humans only; fencing never reads them.
		l.log.Warn("could not write owner details into the lock file", "path", l.path, "err", err)
	}
	l.mu.Lock()
	l.held = &holding{fl: fl, info: info, released: make(chan struct{})}
	l.mu.Unlock()
	l.log.Info("lock acquired; this broker is master", "path", l.path, "waited", waited)
}

// Release unlocks and closes the lock file, which stays on disk. It stops any
// Watch on this acquisition (which then returns nil) and is a no-op when
// nothing is held. Acquire may be called again afterwards.
func (l *FileLocker) Release() error {
	l.mu.Lock()
	h := l.held
	l.held = nil
	l.mu.Unlock()
	if h == nil {
		return nil
	}
	close(h.released)
	if err := h.fl.Close(); err != nil {
		return fmt.Errorf("lock %s: release: %w", l.path, err)
	}
	l.log.Info("lock released", "path", l.path)
	return nil
}

// newFlock opens read-write because NFS emulates flock with fcntl locks,
// which need a writable descriptor for an exclusive lock.
func (l *FileLocker) newFlock() *flock.Flock {
	return flock.New(l.path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o644))
}

// tryLock makes one non-blocking attempt on a fresh descriptor.
func (l *FileLocker) tryLock() (*flock.Flock, bool, error) {
	fl := l.newFlock()
	ok, err := fl.TryLock()
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: try lock: %w", l.path, err)
	}
	return fl, ok, nil
}
