//go:build interop

package lock

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tethermq/tether/internal/pgtest"
)

func newTestLease(t *testing.T, url, name string, keepAlive, retry time.Duration) *LeaseLocker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := NewLeaseLocker(ctx, LeaseOptions{URL: url, Name: name, KeepAlivePeriod: keepAlive, AcquireSleepInterval: retry})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Release() })
	return l
}

// watch runs l.Watch and returns a channel with the reason it was lost.
func watch(t *testing.T, l *LeaseLocker) (<-chan error, context.CancelFunc) {
	lost := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.Watch(ctx, func(reason error) { lost <- reason })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return lost, cancel
}

func TestLease(t *testing.T) {
	c := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("renewed lease is kept, released lease is taken at once", func(t *testing.T) {
		url := c.CreateDB(t)
		a := newTestLease(t, url, "a", 100*time.Millisecond, 300*time.Millisecond)
		if err := a.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		lost, _ := watch(t, a)
		b := newTestLease(t, url, "b", 100*time.Millisecond, 300*time.Millisecond)
		bctx, bcancel := context.WithTimeout(ctx, 4*a.Lease())
		err := b.Acquire(bctx)
		bcancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("b acquired a renewed lease: %v", err)
		}
		select {
		case r := <-lost:
			t.Fatalf("holder lost its lease while renewing: %v", r)
		default:
		}
		if err := a.Release(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := b.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > b.retry+200*time.Millisecond {
			t.Fatalf("takeover of a released lease took %v", took)
		}
		if b.Epoch() != a.Epoch()+1 {
			t.Fatalf("epochs %d, %d", a.Epoch(), b.Epoch())
		}
	})

	t.Run("holder learns of a takeover at its next renewal", func(t *testing.T) {
		url := c.CreateDB(t)
		// Renewals every 100 ms within a 1 s lease: a loaded machine that
		// starves the renewal loop for a quarter of a second (seen under
		// a parallel -race run) must not make the holder step down on its
		// own before it could learn of the takeover.
		a := newTestLease(t, url, "a", 100*time.Millisecond, time.Second)
		if err := a.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		lost, _ := watch(t, a)
		// Somebody expires the lease behind the holder's back.
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		b := newTestLease(t, url, "b", 100*time.Millisecond, time.Second)
		if _, err := conn.Exec(ctx, "UPDATE tether_lease SET expires = '-infinity'"); err != nil {
			t.Fatal(err)
		}
		if err := b.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-lost:
			if !errors.Is(r, ErrLeaseTaken) || !errors.Is(r, ErrLost) {
				t.Fatalf("reason %v", r)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("holder did not notice the takeover")
		}
		if a.Held() {
			t.Fatal("a still says it is master")
		}
		// The deposed holder's Release leaves the new holder's lease alone.
		if err := a.Release(); err != nil {
			t.Fatal(err)
		}
		var owner string
		var left float64
		if err := conn.QueryRow(ctx, "SELECT owner, extract(epoch FROM expires - clock_timestamp())::float8 FROM tether_lease").Scan(&owner, &left); err != nil {
			t.Fatal(err)
		}
		if owner != b.Owner() || left <= 0 {
			t.Fatalf("after the old holder's Release: owner %q, %v s left", owner, left)
		}
	})

	t.Run("lease is at least two keep-alive periods; a future schema is refused", func(t *testing.T) {
		url := c.CreateDB(t)
		l := newTestLease(t, url, "a", time.Second, time.Second)
		if l.Lease() != 2*time.Second {
			t.Fatalf("lease %v with keep-alive 1s and acquire interval 1s", l.Lease())
		}
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "UPDATE tether_schema SET version = 2 WHERE component = 'lease'"); err != nil {
			t.Fatal(err)
		}
		_, err = NewLeaseLocker(ctx, LeaseOptions{URL: url, Name: "b"})
		if err == nil || !strings.Contains(err.Error(), "newer than this broker") {
			t.Fatalf("future lease schema: %v", err)
		}
	})

	t.Run("holder steps down before its lease expires when the database is gone", func(t *testing.T) {
		c2 := pgtest.Start(t)
		a := newTestLease(t, c2.CreateDB(t), "a", 100*time.Millisecond, 400*time.Millisecond)
		if err := a.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		lost, _ := watch(t, a)
		time.Sleep(150 * time.Millisecond) // let a renewal or two pass (not synchronisation: timing is the subject)
		c2.Close()
		stopped := time.Now() // no renewal can succeed after this
		select {
		case r := <-lost:
			// The last successful renewal began before the server was
			// gone, so the database's expiry is at least a lease after it.
			if took := time.Since(stopped); took >= a.Lease() {
				t.Fatalf("stepped down %v after the database went, lease %v", took, a.Lease())
			}
			if !errors.Is(r, ErrLeaseExpired) {
				t.Fatalf("reason %v", r)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("holder did not step down")
		}
	})
}
