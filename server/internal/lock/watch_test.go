package lock

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

// watchResult is one Watch run: the reasons passed to onLost and what Watch returned.
type watchResult struct {
	lost   chan lostCall
	calls  atomic.Int32
	result chan error
}

type lostCall struct {
	reason error
	at     time.Time
}

func startWatch(ctx context.Context, l *FileLocker) *watchResult {
	w := &watchResult{lost: make(chan lostCall, 1), result: make(chan error, 1)}
	go func() {
		w.result <- l.Watch(ctx, func(reason error) {
			w.calls.Add(1)
			w.lost <- lostCall{reason: reason, at: time.Now()}
		})
	}()
	return w
}

// awaitCheck waits until one more fencing check passes on the current
// acquisition, so that a running Watch is past its immediate first check and
// what the test does next is seen by a periodic one.
func awaitCheck(t *testing.T, l *FileLocker) {
	t.Helper()
	l.mu.Lock()
	h := l.held
	l.mu.Unlock()
	base := h.passed.Load()
	testutil.Eventually(t, 5*time.Second, func() bool { return h.passed.Load() > base }, "Watch passed no check")
}

func (w *watchResult) awaitReturn(t *testing.T) error {
	t.Helper()
	select {
	case err := <-w.result:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return")
		return nil
	}
}

// TestWatchDetectsLoss changes the lock file under a master and checks that
// onLost is called once, within 2*KeepAlivePeriod, with the right reason.
func TestWatchDetectsLoss(t *testing.T) {
	const period = 200 * time.Millisecond
	for _, tc := range []struct {
		name   string
		mutate func(t *testing.T, l *FileLocker)
		want   error
	}{
		{"deleted", func(t *testing.T, l *FileLocker) {
			if err := os.Remove(l.Path()); err != nil {
				t.Fatal(err)
			}
		}, ErrLockFileRemoved},
		{"deleted and recreated", func(t *testing.T, l *FileLocker) {
			if err := os.Remove(l.Path()); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(l.Path(), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, ErrLockFileReplaced},
		{"replaced by rename", func(t *testing.T, l *FileLocker) {
			replaceLockFile(t, filepath.Dir(l.Path()))
		}, ErrLockFileReplaced},
		{"lock dropped underneath", func(t *testing.T, l *FileLocker) {
			l.mu.Lock()
			fl := l.held.fl
			l.mu.Unlock()
			if err := fl.Unlock(); err != nil {
				t.Fatal(err)
			}
		}, ErrNotHeld},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, rec := newTestLocker(t, Options{Dir: dir, KeepAlivePeriod: period})
			mustAcquire(t, l, time.Second)
			w := startWatch(context.Background(), l)
			awaitCheck(t, l)

			changed := time.Now()
			tc.mutate(t, l)
			var call lostCall
			select {
			case call = <-w.lost:
			case <-time.After(5 * time.Second):
				t.Fatal("onLost not called")
			}
			d := call.at.Sub(changed)
			t.Logf("loss (%s) noticed after %v", tc.name, d)
			if d > 2*period {
				t.Errorf("onLost called %v after the change, want within 2*KeepAlivePeriod = %v", d, 2*period)
			}
			if !errors.Is(call.reason, tc.want) || !errors.Is(call.reason, ErrLost) {
				t.Errorf("reason = %v, want %v", call.reason, tc.want)
			}
			if err := w.awaitReturn(t); !errors.Is(err, tc.want) {
				t.Errorf("Watch returned %v, want %v", err, tc.want)
			}
			if n := w.calls.Load(); n != 1 {
				t.Errorf("onLost called %d times", n)
			}
			if l.Held() {
				t.Error("Held after a loss")
			}
			msg := l.Path() + ", no longer able to keep the exclusive lock so giving up being a master"
			if rec.count(slog.LevelError, msg) != 1 {
				t.Errorf("loss not logged at ERROR as %q", msg)
			}
			if err := l.Acquire(context.Background()); !errors.Is(err, ErrLost) {
				t.Errorf("Acquire on a lost lock = %v, want ErrLost until Release", err)
			}
		})
	}
}

func TestWatchStopsQuietly(t *testing.T) {
	dir := t.TempDir()
	l, _ := newTestLocker(t, Options{Dir: dir, KeepAlivePeriod: 20 * time.Millisecond})

	if err := l.Watch(context.Background(), func(error) { t.Error("onLost called without a lock") }); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("Watch before Acquire = %v, want ErrNotHeld", err)
	}
	mustAcquire(t, l, time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	w := startWatch(ctx, l)
	cancel()
	if err := w.awaitReturn(t); err != nil {
		t.Fatalf("Watch after cancel = %v, want nil", err)
	}

	w = startWatch(context.Background(), l)
	awaitCheck(t, l)
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := w.awaitReturn(t); err != nil {
		t.Fatalf("Watch after Release = %v, want nil", err)
	}
	if n := w.calls.Load(); n != 0 {
		t.Fatalf("onLost called %d times for a deliberate Release", n)
	}
}

// TestWatchKeepsHealthyLock: a lock nobody touches survives many checks,
// even when someone rewrites the file's contents.
func TestWatchKeepsHealthyLock(t *testing.T) {
	dir := t.TempDir()
	l, _ := newTestLocker(t, Options{Dir: dir, KeepAlivePeriod: 5 * time.Millisecond})
	mustAcquire(t, l, time.Second)
	if err := os.WriteFile(l.Path(), []byte("scribbled by an operator\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := l.Watch(ctx, func(reason error) { t.Errorf("onLost: %v", reason) }); err != nil {
		t.Fatalf("Watch = %v", err)
	}
	if !l.Held() {
		t.Fatal("healthy lock not Held")
	}
}
