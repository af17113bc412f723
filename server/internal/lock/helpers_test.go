package lock

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

// recorder is an slog handler that keeps every record, so tests can wait for
// a message instead of sleeping.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}

// count returns how many records at level have exactly msg.
func (r *recorder) count(level slog.Level, msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.recs {
		if rec.Level == level && rec.Message == msg {
			n++
		}
	}
	return n
}

func slaveLine(dir string) string {
	return "Database " + filepath.Join(dir, FileName) + " is locked by another server. This broker is now in slave mode waiting a lock to be acquired"
}

// newTestLocker returns a locker on dir whose log goes to a recorder, and
// releases it when the test ends.
func newTestLocker(t *testing.T, o Options) (*FileLocker, *recorder) {
	t.Helper()
	rec := &recorder{}
	o.Logger = slog.New(rec)
	l, err := NewFileLocker(o)
	if err != nil {
		t.Fatalf("NewFileLocker: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Release(); err != nil {
			t.Errorf("Release: %v", err)
		}
	})
	return l, rec
}

func mustAcquire(t *testing.T, l *FileLocker, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := l.Acquire(ctx); err != nil {
		t.Fatalf("Acquire: %v", err)
	}
}

// acquireAsync starts Acquire and reports its result and the moment it returned.
type acquireResult struct {
	err error
	at  time.Time
}

func acquireAsync(ctx context.Context, l *FileLocker) <-chan acquireResult {
	ch := make(chan acquireResult, 1)
	go func() {
		err := l.Acquire(ctx)
		ch <- acquireResult{err: err, at: time.Now()}
	}()
	return ch
}

func awaitResult(t *testing.T, ch <-chan acquireResult, within time.Duration) acquireResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(within):
		t.Fatalf("Acquire did not return within %v", within)
		return acquireResult{}
	}
}

// awaitSlave waits until l has logged the slave line and, where the kernel
// shows it, has a flock request blocked on the lock file, so that what the
// test does next happens to a waiting slave.
func awaitSlave(t *testing.T, rec *recorder, dir string, blocking bool) {
	t.Helper()
	testutil.Eventually(t, 2*time.Second, func() bool {
		return rec.count(slog.LevelInfo, slaveLine(dir)) > 0
	}, "slave line not logged")
	if blocking {
		testutil.Eventually(t, 2*time.Second, func() bool {
			return blockedWaiters(t, filepath.Join(dir, FileName)) > 0
		}, "no flock request blocked on the lock file")
	}
}

func readLockFile(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatalf("read lock file: %v", err)
	}
	return string(b)
}

func ownerLine(key, value string) string { return key + "=" + value + "\n" }

func hasLine(body, line string) bool { return strings.Contains(body, line) }

// pendingWaiter returns the parked waiter, if any.
func (l *FileLocker) pendingWaiter() *waiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pending
}

// isWanted reports whether an Acquire is waiting on w.
func (w *waiter) isWanted(l *FileLocker) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return w.wanted
}
