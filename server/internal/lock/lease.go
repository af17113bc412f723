package lock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tethermq/tether/server/internal/pgschema"
)

// The database lease (JDBC master/slave on PostgreSQL): ActiveMQ's
// lease-database-locker, with every time taken from the database's clock and
// an epoch that fences the store.
//
// One row, tether_lease (id = 1), holds the owner, the epoch and the expiry.
// A broker takes it over only once it has expired by the database's clock,
// bumping the epoch; the holder renews it every KeepAlivePeriod from the
// moment Acquire returns (while the broker recovers, too). The holder
// trusts its lease, by its own monotonic clock, only until the start of its
// last successful renewal plus the lease length minus a margin (a quarter
// of the lease): a renewal takes effect after it was sent, so a master that
// cannot renew stops before any slave can see the lease expire. The store
// runs LeaseLocker.Fence first in every write transaction, so a master that
// was paused past all that (SIGSTOP, a stalled VM) still cannot write once
// another broker bumped the epoch.

// LeaseSchemaVersion is the lease table's layout version (tether_schema).
const LeaseSchemaVersion = 1

var leaseDDL = []string{
	`CREATE TABLE tether_lease (
		id       integer PRIMARY KEY CHECK (id = 1),
		owner    text NOT NULL DEFAULT '',
		epoch    bigint NOT NULL DEFAULT 0,
		expires  timestamptz NOT NULL DEFAULT '-infinity',
		acquired timestamptz)`,
	`INSERT INTO tether_lease (id) VALUES (1)`,
	// The fence share-locks the row, so a takeover (an UPDATE of it) waits
	// for the write transaction in progress and every later one sees the
	// new epoch.
	`CREATE FUNCTION tether_lease_fence(mine bigint) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM 1 FROM tether_lease WHERE id = 1 AND epoch = mine FOR SHARE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'tether lease epoch % is no longer current: another broker took over', mine
				USING ERRCODE = '` + pgschema.FencedSQLState + `';
		END IF;
	END $$`,
}

// ErrLeaseTaken: the lease row names another epoch (another broker took
// over). It wraps ErrLost.
var ErrLeaseTaken = fmt.Errorf("%w: database lease taken over by another broker", ErrLost)

// ErrLeaseExpired: the master could not renew its lease within the lease
// (database unreachable or too slow). It wraps ErrLost.
var ErrLeaseExpired = fmt.Errorf("%w: database lease could not be renewed in time", ErrLost)

// LeaseOptions configure a LeaseLocker; the names are jdbcPersistenceAdapter's.
type LeaseOptions struct {
	// URL is the PostgreSQL URL (persistenceAdapter.jdbc.url).
	URL string
	// Name identifies the broker in the lease row (brokerName); the host
	// and process id are added, so two brokers with one name never share
	// a lease.
	Name string
	// KeepAlivePeriod is lockKeepAlivePeriod: how often the master renews.
	// Zero: 1 s.
	KeepAlivePeriod time.Duration
	// AcquireSleepInterval is lockAcquireSleepInterval: how often a slave
	// retries, and the lease length (as in ActiveMQ's lease locker), raised
	// to twice KeepAlivePeriod if shorter, so that one late renewal is not
	// fatal. Zero: 3 s.
	AcquireSleepInterval time.Duration
	Logger               *slog.Logger
}

// LeaseLocker holds, or waits for, the database lease.
type LeaseLocker struct {
	pool      *pgxpool.Pool
	owner     string
	keepAlive time.Duration
	retry     time.Duration
	lease     time.Duration
	log       *slog.Logger

	mu     sync.Mutex
	epoch  int64
	h      *leaseHold // the current acquisition, nil when none
	closed bool
}

// leaseHold is one acquisition: its renewal goroutine (started by Acquire,
// so the lease is renewed while the broker recovers its store, before
// Watch) and how it ended.
type leaseHold struct {
	epoch   int64
	stop    chan struct{} // closed by Release
	done    chan struct{} // closed when the renewal goroutine has exited
	lostCh  chan struct{} // closed when the lease is lost
	lostWhy error         // set before lostCh is closed
	lose    sync.Once
}

// NewLeaseLocker connects and creates (or checks) the lease table. A bad
// URL, an unreachable server, a refused login, a missing database or a
// schema newer than this code is an error here.
func NewLeaseLocker(ctx context.Context, o LeaseOptions) (*LeaseLocker, error) {
	if o.KeepAlivePeriod < 0 || o.AcquireSleepInterval < 0 {
		return nil, errors.New("lock: lease periods must not be negative")
	}
	if o.KeepAlivePeriod == 0 {
		o.KeepAlivePeriod = DefaultKeepAlivePeriod
	}
	if o.AcquireSleepInterval == 0 {
		o.AcquireSleepInterval = 3 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	lease := max(o.AcquireSleepInterval, 2*o.KeepAlivePeriod)
	host, _ := os.Hostname()
	l := &LeaseLocker{
		owner:     fmt.Sprintf("%s@%s:%d", o.Name, host, os.Getpid()),
		keepAlive: o.KeepAlivePeriod, retry: o.AcquireSleepInterval, lease: lease, log: o.Logger,
	}
	if lease > o.AcquireSleepInterval {
		l.log.Warn("lockAcquireSleepInterval is shorter than twice lockKeepAlivePeriod; the lease lasts twice lockKeepAlivePeriod",
			"lease", lease)
	}
	// A takeover must not hang behind a paused master's share lock (the
	// store's idle-in-transaction timeout ends that), nor a renewal behind
	// anything for longer than the lease.
	pool, err := pgschema.Open(ctx, o.URL, pgschema.PoolOptions{MaxConns: 2, Params: map[string]string{
		"lock_timeout":      strconv.FormatInt(max(lease.Milliseconds()/2, 1), 10),
		"statement_timeout": strconv.FormatInt(max(lease.Milliseconds(), 1), 10),
		"application_name":  "tether-lease",
	}})
	if err != nil {
		return nil, err
	}
	if err := pgschema.Ensure(ctx, pool, "lease", LeaseSchemaVersion, leaseDDL); err != nil {
		pool.Close()
		return nil, err
	}
	l.pool = pool
	return l, nil
}

// Lease is the lease length.
func (l *LeaseLocker) Lease() time.Duration { return l.lease }

// Owner is how this broker appears in the lease row.
func (l *LeaseLocker) Owner() string { return l.owner }

// Epoch is the lease epoch this locker won (0 before Acquire).
func (l *LeaseLocker) Epoch() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// Held reports whether this locker is master: Acquire succeeded, and
// the lease was neither released nor lost.
func (l *LeaseLocker) Held() bool {
	l.mu.Lock()
	h := l.h
	l.mu.Unlock()
	if h == nil {
		return false
	}
	select {
	case <-h.lostCh:
		return false
	default:
		return true
	}
}

// Fence is the statement (and its arguments) that the store runs first in
// each write transaction: it raises pgschema.FencedSQLState unless this
// locker's epoch is still the lease's.
func (l *LeaseLocker) Fence() (string, []any) {
	return "SELECT tether_lease_fence($1)", []any{l.Epoch()}
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// tryTake makes one takeover attempt: it wins only an expired lease.
func (l *LeaseLocker) tryTake(ctx context.Context) (epoch int64, holder string, left time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, l.lease)
	defer cancel()
	err = l.pool.QueryRow(ctx, `UPDATE tether_lease
		SET owner = $1, epoch = epoch + 1, expires = clock_timestamp() + make_interval(secs => $2), acquired = clock_timestamp()
		WHERE id = 1 AND expires < clock_timestamp() RETURNING epoch`, l.owner, seconds(l.lease)).Scan(&epoch)
	if err == nil {
		return epoch, "", 0, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, "", 0, err
	}
	var secs float64
	err = l.pool.QueryRow(ctx, `SELECT owner, extract(epoch FROM expires - clock_timestamp())::float8 FROM tether_lease WHERE id = 1`).Scan(&holder, &secs)
	if err != nil {
		return 0, "", 0, err
	}
	if math.IsInf(secs, 0) || math.IsNaN(secs) || secs < 0 {
		secs = 0
	}
	return 0, holder, time.Duration(secs * float64(time.Second)), nil
}

// Acquire blocks until this locker holds the lease or ctx is done. A slave
// retries every AcquireSleepInterval, or sooner when the holder's lease runs
// out before then; database errors while waiting are logged and retried.
func (l *LeaseLocker) Acquire(ctx context.Context) error {
	l.mu.Lock()
	closed, h := l.closed, l.h
	l.mu.Unlock()
	if closed {
		return errors.New("lock: lease locker released")
	}
	if h != nil {
		select {
		case <-h.lostCh:
			return fmt.Errorf("lock: acquire: %w", ErrLost)
		default:
			return nil
		}
	}
	began := time.Now()
	var lastHolder, lastErr string
	for {
		attempt := time.Now()
		epoch, holder, left, err := l.tryTake(ctx)
		// A takeover that committed counts even if ctx ended meanwhile:
		// dropping it would leave the lease held, unrenewed, for a lease.
		if ctx.Err() != nil && (err != nil || holder != "") {
			return ctx.Err()
		}
		wait := l.retry
		switch {
		case err != nil:
			if err.Error() != lastErr {
				l.log.Warn("cannot reach the lease in the database; retrying", "every", l.retry, "err", err)
				lastErr = err.Error()
			}
		case holder == "":
			h := &leaseHold{epoch: epoch, stop: make(chan struct{}), done: make(chan struct{}), lostCh: make(chan struct{})}
			l.mu.Lock()
			l.epoch, l.h = epoch, h
			l.mu.Unlock()
			// The takeover's UPDATE set the expiry after attempt: trusting
			// the lease from attempt on is on the safe side.
			go l.renewLoop(h, attempt)
			l.log.Info("database lease acquired; this broker is master", "owner", l.owner, "epoch", epoch,
				"lease", l.lease, "waited", time.Since(began).Round(time.Millisecond))
			return nil
		default:
			lastErr = ""
			if holder != lastHolder {
				l.log.Info("Database lease is locked by another server. This broker is now in slave mode waiting a lock to be acquired",
					"holder", holder, "retryEvery", l.retry)
				lastHolder = holder
			}
			// Come back just after the holder's lease runs out, if that is
			// sooner than the next regular attempt.
			wait = min(wait, left+20*time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// renew extends the lease; taken reports that the row has another epoch.
func (l *LeaseLocker) renew(ctx context.Context, epoch int64) (taken bool, err error) {
	tag, err := l.pool.Exec(ctx, `UPDATE tether_lease SET expires = clock_timestamp() + make_interval(secs => $3)
		WHERE id = 1 AND epoch = $1 AND owner = $2`, epoch, l.owner, seconds(l.lease))
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 0, nil
}

// Watch reports the loss of the lease. Acquire starts the renewals: at
// once and then every KeepAlivePeriod (retrying sooner after a failure).
// When the lease is taken over, or cannot be renewed before this broker's
// trust in it ends, the locker is marked lost and Watch calls onLost with
// the reason (wrapping ErrLost) and returns it; onLost must stop every
// write. Watch returns nil when ctx is done or Release is called, and
// ErrNotHeld at once if nothing is held.
func (l *LeaseLocker) Watch(ctx context.Context, onLost func(reason error)) error {
	l.mu.Lock()
	h := l.h
	l.mu.Unlock()
	if h == nil {
		return fmt.Errorf("lock: watch lease: %w", ErrNotHeld)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-h.stop:
		return nil
	case <-h.lostCh:
		if onLost != nil {
			onLost(h.lostWhy)
		}
		return h.lostWhy
	}
}

// renewLoop renews h's lease until Release or loss. Its trust in the
// lease ends three quarters of a lease after the start of the last
// successful renewal (or of the takeover).
func (l *LeaseLocker) renewLoop(h *leaseHold, acquired time.Time) {
	defer close(h.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-h.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	margin := l.lease / 4
	trustUntil := acquired.Add(l.lease - margin)
	next := acquired.Add(l.keepAlive)
	var lastErr error
	for {
		t := time.NewTimer(time.Until(next))
		select {
		case <-h.stop:
			t.Stop()
			return
		case <-h.lostCh: // Fenced
			t.Stop()
			return
		case <-t.C:
		}
		attempt := time.Now()
		if !attempt.Before(trustUntil) {
			why := fmt.Sprintf("last renewal attempt failed: %v", lastErr)
			if lastErr == nil {
				// Renewals never ran: this process was paused or starved.
				why = fmt.Sprintf("no renewal attempted for %v", attempt.Sub(trustUntil)+l.lease-margin)
			}
			l.loseLease(h, fmt.Errorf("%w: %s", ErrLeaseExpired, why))
			return
		}
		rctx, rcancel := context.WithDeadline(ctx, trustUntil)
		taken, err := l.renew(rctx, h.epoch)
		rcancel()
		select {
		case <-h.stop:
			return
		default:
		}
		switch {
		case taken:
			l.loseLease(h, ErrLeaseTaken)
			return
		case err == nil:
			trustUntil = attempt.Add(l.lease - margin)
			lastErr = nil
			next = attempt.Add(l.keepAlive)
		default:
			if lastErr == nil {
				l.log.Warn("database lease renewal failed; retrying until the lease runs out",
					"err", err, "stepDownIn", time.Until(trustUntil).Round(time.Millisecond))
			}
			lastErr = err
			next = time.Now().Add(min(l.keepAlive, 100*time.Millisecond))
			if next.After(trustUntil) {
				next = trustUntil
			}
		}
	}
}

func (l *LeaseLocker) loseLease(h *leaseHold, reason error) {
	h.lose.Do(func() {
		l.log.Error("database lease lost, giving up being a master", "owner", l.owner, "epoch", h.epoch, "reason", reason)
		h.lostWhy = reason
		close(h.lostCh)
	})
}

// Fenced tells the locker that the store's fence refused a write: another
// broker has taken the lease over. The lease is lost at once (Watch
// reports ErrLeaseTaken), without waiting for the next renewal.
func (l *LeaseLocker) Fenced(err error) {
	l.mu.Lock()
	h := l.h
	l.mu.Unlock()
	if h != nil {
		l.loseLease(h, fmt.Errorf("%w (a store write was refused: %v)", ErrLeaseTaken, err))
	}
}

// Release gives the lease up (expiring it at once, so a slave takes over
// on its next attempt, if this locker still holds it), stops Watch and
// closes the connections. The locker cannot be used afterwards. Call it
// only once the store is closed.
func (l *LeaseLocker) Release() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	h := l.h
	l.h = nil
	l.mu.Unlock()
	defer l.pool.Close()
	if h == nil {
		return nil
	}
	close(h.stop)
	<-h.done
	select {
	case <-h.lostCh:
		return nil // not ours any more
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tag, err := l.pool.Exec(ctx, `UPDATE tether_lease SET expires = '-infinity' WHERE id = 1 AND epoch = $1 AND owner = $2`,
		h.epoch, l.owner)
	if err != nil {
		return fmt.Errorf("lock: release lease: %w", err)
	}
	if tag.RowsAffected() == 1 {
		l.log.Info("database lease released", "epoch", h.epoch)
	}
	return nil
}
