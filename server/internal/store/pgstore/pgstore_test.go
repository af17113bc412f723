//go:build interop

package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tethermq/tether/internal/pgtest"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/internal/lock"
	"github.com/tethermq/tether/server/internal/pgschema"
	"github.com/tethermq/tether/server/internal/store"
	"github.com/tethermq/tether/server/internal/store/pgstore"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	c, err := pgtest.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster = c
	code := m.Run()
	c.Close()
	os.Exit(code)
}

func open(t testing.TB, url string, o pgstore.Options) *pgstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := pgstore.Open(ctx, url, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBatchesGetScan(t *testing.T) {
	s := open(t, cluster.CreateDB(t), pgstore.Options{})
	b := s.NewBatch()
	for i := range 2500 { // more than one scan page
		b.Set(fmt.Appendf(nil, "m/%05d", i), fmt.Appendf(nil, "v%d", i))
	}
	b.Set([]byte("n"), []byte("other prefix"))
	b.Set([]byte("m/gone"), []byte("x"))
	b.Delete([]byte("m/gone")) // the last operation on a key wins
	b.Delete([]byte("m/back"))
	b.Set([]byte("m/back"), []byte("back"))
	if b.Len() != 2505 {
		t.Fatalf("Len %d", b.Len())
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("m/01234")); err != nil || string(v) != "v1234" {
		t.Fatalf("Get: %q %v", v, err)
	}
	if _, err := s.Get([]byte("m/gone")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	if v, _ := s.Get([]byte("m/back")); string(v) != "back" {
		t.Fatalf("re-set key: %q", v)
	}
	var keys []string
	err := s.Scan([]byte("m/"), func(k, v []byte) error {
		keys = append(keys, string(k))
		if string(k) != "m/back" && !bytes.Equal(v, append([]byte("v"), bytes.TrimLeft(k[2:], "0")...)) && string(k) != "m/00000" {
			return fmt.Errorf("key %s value %s", k, v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2501 || !slices.IsSorted(keys) {
		t.Fatalf("Scan: %d keys, sorted %v", len(keys), slices.IsSorted(keys))
	}
	n := 0
	if err := s.ScanKeys([]byte("m/"), func(k []byte) error { n++; return nil }); err != nil || n != 2501 {
		t.Fatalf("ScanKeys: %d %v", n, err)
	}
	// An unsynced commit followed by a synced one: both visible.
	b = s.NewBatch()
	b.Delete([]byte("m/00000"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b = s.NewBatch()
	b.Set([]byte("\xff\xff"), []byte("top")) // no prefix successor exists
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get([]byte("m/00000")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unsynced delete: %v", err)
	}
	var top []string
	if err := s.Scan([]byte("\xff"), func(k, v []byte) error { top = append(top, string(v)); return nil }); err != nil || len(top) != 1 {
		t.Fatalf("scan of 0xff prefix: %v %v", top, err)
	}
	if u := s.Usage(); u.DiskBytes <= 0 || u.NoSpace {
		t.Fatalf("Usage: %+v", u)
	}
	// An error from the callback stops the scan and comes back.
	stop := errors.New("stop")
	if err := s.Scan(nil, func(k, v []byte) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("scan error: %v", err)
	}
	s.Close()
	if _, err := s.Get([]byte("n")); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := s.NewBatch().Commit(true); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("commit after Close: %v", err)
	}
}

// TestReopenKeepsData: what is committed is there for the next master.
func TestReopenKeepsData(t *testing.T) {
	url := cluster.CreateDB(t)
	s := open(t, url, pgstore.Options{})
	b := s.NewBatch()
	b.Set([]byte("k"), []byte("v"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := open(t, url, pgstore.Options{})
	if v, err := s2.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("after reopen: %q %v", v, err)
	}
}

func newLease(t *testing.T, url, name string) *lock.LeaseLocker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := lock.NewLeaseLocker(ctx, lock.LeaseOptions{URL: url, Name: name,
		KeepAlivePeriod: 100 * time.Millisecond, AcquireSleepInterval: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Release() })
	return l
}

func fenced(l *lock.LeaseLocker) pgstore.Options {
	sql, args := l.Fence()
	return pgstore.Options{Fence: pgstore.Fence{SQL: sql, Args: args}, IdleInTransactionTimeout: l.Lease(), OnFenced: l.Fenced}
}

// TestStaleWriterIsFenced: once another broker took the lease over
// (bumped the epoch), a write by the old master is refused whole, whether
// or not the old master noticed. (The process test
// TestJDBCPausedMasterCannotWrite does this with a real SIGSTOP.)
func TestStaleWriterIsFenced(t *testing.T) {
	url := cluster.CreateDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := newLease(t, url, "old")
	if err := old.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	s1 := open(t, url, fenced(old))
	b := s1.NewBatch()
	b.Set([]byte("before"), []byte("1"))
	if err := b.Commit(true); err != nil {
		t.Fatalf("holder's write: %v", err)
	}
	// A takeover, as a slave makes it once the lease has expired.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var epoch int64
	if err := conn.QueryRow(ctx, "UPDATE tether_lease SET owner = 'next', epoch = epoch + 1 RETURNING epoch").Scan(&epoch); err != nil {
		t.Fatal(err)
	}
	if epoch != old.Epoch()+1 {
		t.Fatalf("epochs %d then %d", old.Epoch(), epoch)
	}
	for _, sync := range []bool{true, false} {
		b = s1.NewBatch()
		b.Set([]byte("stale"), []byte("x"))
		b.Delete([]byte("before"))
		if err := b.Commit(sync); !errors.Is(err, pgstore.ErrFenced) {
			t.Fatalf("stale write (sync %v): %v, want ErrFenced", sync, err)
		}
	}
	s2 := open(t, url, pgstore.Options{Fence: pgstore.Fence{SQL: "SELECT tether_lease_fence($1)", Args: []any{epoch}}})
	if _, err := s2.Get([]byte("stale")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stale write visible: %v", err)
	}
	if v, _ := s2.Get([]byte("before")); string(v) != "1" {
		t.Fatal("stale delete applied")
	}
	b = s2.NewBatch()
	b.Set([]byte("after"), []byte("2"))
	if err := b.Commit(true); err != nil {
		t.Fatalf("new master's write: %v", err)
	}
	// The old master's store still works for reads, and its pool is not
	// left inside an aborted transaction.
	if v, err := s1.Get([]byte("after")); err != nil || string(v) != "2" {
		t.Fatalf("read after fenced write: %q %v", v, err)
	}
	// The refused write told the locker at once.
	if old.Held() {
		t.Fatal("the old holder still holds its lease after a fenced write")
	}
}

// TestTakeoverWaitsForWriteInProgress: a write transaction that holds the
// fence's lock makes a takeover wait, and it commits before the new epoch,
// never after. (The holder cannot renew behind it either, so its lease
// runs out: the holder here is stuck in that transaction.)
func TestTakeoverWaitsForWriteInProgress(t *testing.T) {
	url := cluster.CreateDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := newLease(t, url, "old")
	if err := old.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	open(t, url, fenced(old)) // creates the store's table
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sql, args := old.Fence()
	if _, err := tx.Exec(ctx, sql, args...); err != nil {
		t.Fatal(err)
	}
	next := newLease(t, url, "next")
	got := make(chan error, 1)
	go func() { got <- next.Acquire(ctx) }()
	// Well past the lease: the takeover is still blocked by the open write.
	select {
	case err := <-got:
		t.Fatalf("took over during a write in progress: %v", err)
	case <-time.After(2 * old.Lease()):
	}
	if _, err := tx.Exec(ctx, "INSERT INTO tether_kv VALUES ('w', 'x')"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, sql, args...); !pgschema.IsFenced(err) {
		t.Fatalf("fence after takeover: %v", err)
	}
}

func TestStartupErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	good := cluster.CreateDB(t)
	cases := []struct{ name, url, want string }{
		{"not a URL", "postgres://%zz", "not a PostgreSQL URL"},
		{"unreachable", fmt.Sprintf("postgres://tether:x@127.0.0.1:%d/db?sslmode=disable&connect_timeout=2", freeClosedPort(t)), "server unreachable"},
		{"wrong password", strings.Replace(good, pgtest.Password, "wrong", 1), "login refused"},
		{"missing database", cluster.URL("nosuchdb"), "does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := pgstore.Open(ctx, c.url, pgstore.Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), pgtest.Password) || strings.Contains(err.Error(), ":wrong@") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
	t.Run("schema from the future", func(t *testing.T) {
		url := cluster.CreateDB(t)
		open(t, url, pgstore.Options{}).Close()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "UPDATE tether_schema SET version = 99 WHERE component = 'store'"); err != nil {
			t.Fatal(err)
		}
		_, err = pgstore.Open(ctx, url, pgstore.Options{})
		if !errors.Is(err, pgschema.ErrFutureSchema) || !strings.Contains(err.Error(), "version 99") {
			t.Fatalf("got %v", err)
		}
		if err := pgstore.Prepare(ctx, url); !errors.Is(err, pgschema.ErrFutureSchema) {
			t.Fatalf("Prepare: %v", err)
		}
	})
}

// TestCommitRidesThroughRestart: commits and reads issued while the
// database restarts wait for it and succeed, each stored once.
func TestCommitRidesThroughRestart(t *testing.T) {
	url := cluster.CreateDB(t)
	s := open(t, url, pgstore.Options{RetryFor: 30 * time.Second})
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		cluster.Restart(t)
	}()
	i := 0
	for done := false; !done; i++ {
		select {
		case <-restarted:
			done = true
		default:
		}
		b := s.NewBatch()
		b.Set(fmt.Appendf(nil, "r/%06d", i), []byte("v"))
		if i > 0 {
			b.Delete(fmt.Appendf(nil, "r/%06d", i-1))
		}
		if err := b.Commit(i%2 == 0); err != nil {
			t.Fatalf("commit %d during the restart: %v", i, err)
		}
		if _, err := s.Get(fmt.Appendf(nil, "r/%06d", i)); err != nil {
			t.Fatalf("get %d during the restart: %v", i, err)
		}
	}
	n := 0
	if err := s.ScanKeys([]byte("r/"), func(k []byte) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("after %d commits through a restart: %d keys, %v", i, n, err)
	}
}

// freeClosedPort is a loopback port nothing listens on.
func freeClosedPort(t *testing.T) int { return testutil.FreePort(t) }
