package lock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

func TestNewFileLockerRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]Options{
		"empty dir":          {},
		"missing dir":        {Dir: filepath.Join(dir, "absent")},
		"dir is a file":      {Dir: file},
		"negative keepalive": {Dir: dir, KeepAlivePeriod: -time.Second},
		"negative interval":  {Dir: dir, AcquireSleepInterval: -time.Second},
	} {
		if _, err := NewFileLocker(o); err == nil {
			t.Errorf("%s: NewFileLocker accepted %+v", name, o)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewFileLocker created the missing data directory: %v", err)
	}
}

func TestAcquireFreeLockWritesOwnerAndReleaseKeepsFile(t *testing.T) {
	dir := t.TempDir()
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l, rec := newTestLocker(t, Options{Dir: dir, StartedAt: started})

	if l.Held() {
		t.Fatal("Held before Acquire")
	}
	mustAcquire(t, l, time.Second)
	if !l.Held() {
		t.Fatal("not Held after Acquire")
	}
	if rec.count(slog.LevelInfo, slaveLine(dir)) != 0 {
		t.Error("slave line logged for a free lock")
	}
	body := readLockFile(t, dir)
	for _, want := range []string{ownerLine("pid", fmt.Sprint(os.Getpid())), ownerLine("started", started.Format(time.RFC3339Nano))} {
		if !hasLine(body, want) {
			t.Errorf("lock file %q lacks %q", body, want)
		}
	}
	mustAcquire(t, l, time.Second) // already master: returns at once

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if l.Held() {
		t.Fatal("Held after Release")
	}
	if _, err := os.Stat(l.Path()); err != nil {
		t.Fatalf("Release removed the lock file: %v", err)
	}
	mustAcquire(t, l, time.Second) // a released locker can become master again
}

// TestTakeoverOnRelease measures how long a waiting slave takes to become
// master after the master releases, in both waiting modes.
func TestTakeoverOnRelease(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
	}{
		{"blocking", 0},
		{"polling-20ms", 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			master, _ := newTestLocker(t, Options{Dir: dir, StartedAt: time.Unix(1, 0)})
			slave, rec := newTestLocker(t, Options{Dir: dir, AcquireSleepInterval: tc.interval, StartedAt: time.Unix(2, 0)})
			mustAcquire(t, master, time.Second)

			res := acquireAsync(context.Background(), slave)
			awaitSlave(t, rec, dir, tc.interval == 0)
			if n := rec.count(slog.LevelInfo, slaveLine(dir)); n != 1 {
				t.Fatalf("slave line logged %d times, want 1", n)
			}
			if slave.Held() {
				t.Fatal("slave Held while master holds the lock")
			}
			if !hasLine(readLockFile(t, dir), ownerLine("started", time.Unix(1, 0).Format(time.RFC3339Nano))) {
				t.Fatal("waiting slave changed the master's lock file")
			}

			released := time.Now()
			if err := master.Release(); err != nil {
				t.Fatal(err)
			}
			r := awaitResult(t, res, 5*time.Second)
			if r.err != nil {
				t.Fatalf("slave Acquire: %v", r.err)
			}
			latency := r.at.Sub(released)
			t.Logf("takeover latency after Release (%s): %v", tc.name, latency)
			if latency > time.Second {
				t.Errorf("takeover took %v, want well under 1s", latency)
			}
			if !slave.Held() {
				t.Fatal("slave not Held after takeover")
			}
			if !hasLine(readLockFile(t, dir), ownerLine("started", time.Unix(2, 0).Format(time.RFC3339Nano))) {
				t.Error("new master did not write its owner details")
			}
		})
	}
}

func TestAcquireCancelReturnsPromptly(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
	}{
		{"blocking", 0},
		{"polling-20ms", 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			master, _ := newTestLocker(t, Options{Dir: dir})
			slave, rec := newTestLocker(t, Options{Dir: dir, AcquireSleepInterval: tc.interval})
			mustAcquire(t, master, time.Second)

			ctx, cancel := context.WithCancel(context.Background())
			res := acquireAsync(ctx, slave)
			awaitSlave(t, rec, dir, tc.interval == 0)
			cancelled := time.Now()
			cancel()
			r := awaitResult(t, res, 2*time.Second)
			if !errors.Is(r.err, context.Canceled) {
				t.Fatalf("Acquire after cancel = %v, want context.Canceled", r.err)
			}
			t.Logf("Acquire returned %v after cancel (%s)", r.at.Sub(cancelled), tc.name)
			if d := r.at.Sub(cancelled); d > 200*time.Millisecond {
				t.Errorf("Acquire took %v to honour cancel", d)
			}
			if slave.Held() {
				t.Fatal("cancelled slave is Held")
			}
		})
	}
}

// TestAbandonedWaiterGivesLockBack: after a cancelled blocking wait, the
// parked waiter must hand the lock straight back when it gets it, and exit.
func TestAbandonedWaiterGivesLockBack(t *testing.T) {
	dir := t.TempDir()
	master, _ := newTestLocker(t, Options{Dir: dir})
	slave, rec := newTestLocker(t, Options{Dir: dir})
	third, _ := newTestLocker(t, Options{Dir: dir, AcquireSleepInterval: 10 * time.Millisecond})
	mustAcquire(t, master, time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	res := acquireAsync(ctx, slave)
	awaitSlave(t, rec, dir, true)
	cancel()
	if r := awaitResult(t, res, 2*time.Second); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Acquire = %v, want context.Canceled", r.err)
	}
	w := slave.pendingWaiter()
	if w == nil {
		t.Fatal("no parked waiter after a cancelled blocking wait")
	}

	if err := master.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(2 * time.Second):
		t.Fatal("parked waiter did not exit after the lock was released")
	}
	if slave.pendingWaiter() != nil || slave.Held() {
		t.Fatal("abandoned waiter left state behind")
	}
	mustAcquire(t, third, time.Second)
}

// TestAcquireAdoptsParkedWaiter: a second Acquire after a cancelled one must
// reuse the parked goroutine (one blocked flock, not two) and still take over
// at once.
func TestAcquireAdoptsParkedWaiter(t *testing.T) {
	dir := t.TempDir()
	master, _ := newTestLocker(t, Options{Dir: dir})
	slave, rec := newTestLocker(t, Options{Dir: dir})
	mustAcquire(t, master, time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	res := acquireAsync(ctx, slave)
	awaitSlave(t, rec, dir, true)
	cancel()
	awaitResult(t, res, 2*time.Second)

	res = acquireAsync(context.Background(), slave)
	testutil.Eventually(t, 2*time.Second, func() bool { return rec.count(slog.LevelInfo, slaveLine(dir)) == 2 }, "second Acquire did not log the slave line")
	testutil.Eventually(t, 2*time.Second, func() bool {
		w := slave.pendingWaiter()
		return w != nil && w.isWanted(slave)
	}, "second Acquire did not adopt the parked waiter")
	if n := blockedWaiters(t, slave.Path()); n != 1 {
		t.Fatalf("%d blocked flock requests, want the one parked waiter", n)
	}

	released := time.Now()
	if err := master.Release(); err != nil {
		t.Fatal(err)
	}
	r := awaitResult(t, res, 5*time.Second)
	if r.err != nil {
		t.Fatalf("Acquire: %v", r.err)
	}
	t.Logf("takeover latency through an adopted waiter: %v", r.at.Sub(released))
	if !slave.Held() {
		t.Fatal("slave not Held")
	}
}

// TestBlockedSlaveFollowsReplacedFile: a slave blocked on a file that is then
// replaced must not become master on the orphaned inode; once the old master
// lets go, it locks the file that is at Dir/lock.
func TestBlockedSlaveFollowsReplacedFile(t *testing.T) {
	dir := t.TempDir()
	master, _ := newTestLocker(t, Options{Dir: dir, KeepAlivePeriod: 50 * time.Millisecond})
	slave, rec := newTestLocker(t, Options{Dir: dir, KeepAlivePeriod: 50 * time.Millisecond})
	mustAcquire(t, master, time.Second)
	res := acquireAsync(context.Background(), slave)
	awaitSlave(t, rec, dir, true)

	replaceLockFile(t, dir)
	lost := make(chan error, 1)
	go func() { lost <- master.Watch(context.Background(), nil) }()
	select {
	case err := <-lost:
		if !errors.Is(err, ErrLockFileReplaced) {
			t.Fatalf("master Watch = %v, want ErrLockFileReplaced", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("master did not notice the replacement")
	}
	select {
	case r := <-res:
		t.Fatalf("slave became master (%v) while the old master still held the old file", r.err)
	default:
	}

	if err := master.Release(); err != nil {
		t.Fatal(err)
	}
	if r := awaitResult(t, res, 2*time.Second); r.err != nil {
		t.Fatalf("slave Acquire: %v", r.err)
	}
	slave.mu.Lock()
	h := slave.held
	slave.mu.Unlock()
	if err := slave.check(h); err != nil {
		t.Fatalf("slave holds a lock that is not on the current file: %v", err)
	}
}

// TestPollingSlaveWaitsOutReplacedFile: a polling slave that wins a file
// which replaced the one the master holds must not call itself master until
// the old master has had time to notice and stop (the AMQ-4705 guard).
func TestPollingSlaveWaitsOutReplacedFile(t *testing.T) {
	const period = 150 * time.Millisecond
	dir := t.TempDir()
	master, _ := newTestLocker(t, Options{Dir: dir, KeepAlivePeriod: period})
	slave, rec := newTestLocker(t, Options{Dir: dir, KeepAlivePeriod: period, AcquireSleepInterval: 10 * time.Millisecond})
	mustAcquire(t, master, time.Second)

	lostAt := make(chan time.Time, 1)
	go func() { _ = master.Watch(context.Background(), func(error) { lostAt <- time.Now() }) }()
	res := acquireAsync(context.Background(), slave)
	awaitSlave(t, rec, dir, false)

	replaced := time.Now()
	replaceLockFile(t, dir)
	r := awaitResult(t, res, 5*time.Second)
	if r.err != nil {
		t.Fatalf("slave Acquire: %v", r.err)
	}
	if held := r.at.Sub(replaced); held < 2*period {
		t.Errorf("slave became master %v after the replacement, want at least 2*KeepAlivePeriod = %v", held, 2*period)
	}
	select {
	case at := <-lostAt:
		if !at.Before(r.at) {
			t.Errorf("old master noticed the loss %v after the slave became master", at.Sub(r.at))
		}
	case <-time.After(2 * time.Second):
		t.Fatal("old master never noticed the replacement")
	}
}

// replaceLockFile renames a new file over Dir/lock, as a careless operator or
// a restore job might.
func replaceLockFile(t *testing.T, dir string) {
	t.Helper()
	tmp := filepath.Join(dir, "lock.new")
	if err := os.WriteFile(tmp, []byte("replaced\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
}
