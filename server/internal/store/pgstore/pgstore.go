// Package pgstore is store.Store on PostgreSQL, for JDBC-style master/slave:
// every broker of a group points at one database, the one holding the
// database lease (server/internal/lock's LeaseLocker) is master, and the messages,
// acknowledgements, durable subscriptions and duplicate-detection windows
// live in the database.
//
// The broker's keys and values go into one table, tether_kv (k bytea primary
// key, v bytea), whose btree orders keys bytewise as the store interface
// wants. Prefix scans are LIMITed pages on that index (keyset pagination),
// so listing a large backlog never builds one huge result. A Get that
// misses reads the rows after its key in the same query and keeps them for
// the Gets that page the rest of the queue in (readahead.go).
//
// Invariants:
//   - One Batch.Commit is one transaction, sent as one pipeline (BEGIN, the
//     fence, the deletes, the upserts, COMMIT): one round trip for a whole
//     group commit. Commit returns only after PostgreSQL answered COMMIT;
//     with sync the commit record is flushed (synchronous_commit on), and
//     without it synchronous_commit is off for that transaction only. The
//     WAL is flushed in order, so a later synced commit makes earlier
//     unsynced ones durable too, as store.Store requires.
//   - Every write transaction first runs the fence (Options.Fence), which
//     share-locks the lease row and raises FencedSQLState unless this
//     broker's epoch is still the lease's. A takeover must update that row,
//     so it waits for any write in progress, and every write that starts
//     after it is refused: a deposed master (paused, partitioned) cannot
//     write, whatever its own clock says.
//   - Connections carry idle_in_transaction_session_timeout: a master
//     paused in the middle of a transaction loses it (and the share lock)
//     after that long instead of blocking the takeover for the pause.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tethermq/tether/server/internal/pgschema"
	"github.com/tethermq/tether/server/internal/store"
)

// SchemaVersion is the store's table layout version (tether_schema).
const SchemaVersion = 1

var ddl = []string{
	`CREATE TABLE tether_kv (k bytea PRIMARY KEY, v bytea NOT NULL)`,
	// Message bodies rarely compress well enough to pay for the CPU.
	`ALTER TABLE tether_kv ALTER COLUMN v SET STORAGE EXTERNAL`,
}

// ErrFenced wraps a write refused because this broker no longer holds the
// lease. Nothing of the refused batch is stored.
var ErrFenced = errors.New("pgstore: write refused: this broker no longer holds the database lease")

// Fence is a statement run first in every write transaction. It must raise
// an error with SQLSTATE pgschema.FencedSQLState when the writer may no
// longer write, and should lock what a takeover must change.
type Fence struct {
	SQL  string
	Args []any
}

// Options configure a Store.
type Options struct {
	// Fence guards every write; empty means unfenced (single broker, tests).
	Fence Fence
	// IdleInTransactionTimeout is the session's
	// idle_in_transaction_session_timeout; set it to the lease length.
	// Zero: 10 s.
	IdleInTransactionTimeout time.Duration
	// OpTimeout bounds each attempt's database work. Zero: 30 s.
	OpTimeout time.Duration
	// RetryFor is how long a call keeps retrying after the connection
	// failed or the server went away (a restart, a failover of the
	// database), before it returns the error. Zero: 10 s. Set it to the
	// lease: by then the master has stepped down, and its clients have
	// moved on, so a send does not fail while the broker could have ridden
	// through.
	RetryFor time.Duration
	// MaxConns is the pool size. Zero: 8.
	MaxConns int32
	// ReadAheadRows is how many rows a Get that misses reads in one query:
	// the key and those after it in its sequence group (see readahead.go),
	// kept for the Gets that page the rest of a queue in. Zero: 512;
	// negative: off, one row per Get.
	ReadAheadRows int
	// ReadAheadBytes bounds the values one read-ahead returns beyond the
	// row asked for. Zero: 2 MiB.
	ReadAheadBytes int
	Logger         *slog.Logger
	// OnFenced, if set, is called (once) when a write was refused by the
	// fence: proof that another broker took over, so the master should
	// stop serving now rather than at its next renewal.
	OnFenced func(reason error)
}

// Store is store.Store on PostgreSQL.
type Store struct {
	pool   *pgxpool.Pool
	o      Options
	log    *slog.Logger
	closed atomic.Bool
	once   sync.Once
	fenced sync.Once
	giveUp chan struct{} // closed by GiveUp
	gave   sync.Once
	ra     *readAhead

	umu       sync.Mutex
	usage     store.Usage
	usageAt   time.Time
	usageWarn bool
}

var _ store.Store = (*Store)(nil)

// Prepare connects to url and creates the store's tables if the database
// has none, or checks their version: the start-up checks, for a broker that
// will wait as a slave before it opens the store.
func Prepare(ctx context.Context, url string) error {
	pool, err := pgschema.Open(ctx, url, pgschema.PoolOptions{MaxConns: 1})
	if err != nil {
		return err
	}
	defer pool.Close()
	return pgschema.Ensure(ctx, pool, "store", SchemaVersion, ddl)
}

// Open connects to url, creating or checking the schema.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	if o.IdleInTransactionTimeout <= 0 {
		o.IdleInTransactionTimeout = 10 * time.Second
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 30 * time.Second
	}
	if o.RetryFor <= 0 {
		o.RetryFor = 10 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 8
	}
	if o.ReadAheadRows == 0 {
		o.ReadAheadRows = defaultReadAheadRows
	}
	if o.ReadAheadBytes <= 0 {
		o.ReadAheadBytes = defaultReadAheadBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	pool, err := pgschema.Open(ctx, url, pgschema.PoolOptions{MaxConns: o.MaxConns, Params: map[string]string{
		"idle_in_transaction_session_timeout": strconv.FormatInt(max(o.IdleInTransactionTimeout.Milliseconds(), 1), 10),
		"application_name":                    "tether-store",
	}})
	if err != nil {
		return nil, err
	}
	if err := pgschema.Ensure(ctx, pool, "store", SchemaVersion, ddl); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool, o: o, log: o.Logger, giveUp: make(chan struct{}), ra: newReadAhead()}, nil
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.o.OpTimeout)
}

// NewBatch starts an empty write batch.
func (s *Store) NewBatch() store.Batch { return &batch{s: s} }

// Get returns a copy of the value under key, or store.ErrNotFound. With
// read-ahead on (the default) it may come from, or fill, the read-ahead
// cache (readahead.go).
func (s *Store) Get(key []byte) ([]byte, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if s.o.ReadAheadRows < 0 {
		return s.getOne(append([]byte{}, key...))
	}
	return s.get(key)
}

// scanPage is how many rows one page query returns.
const scanPage = 1000

// prefixEnd is the smallest key greater than every key starting with
// prefix, or nil when there is none (prefix is all 0xff or empty).
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// page runs one LIMITed query for keys after from (inclusive the first
// time) below end, returning the rows read.
func (s *Store) page(from []byte, inclusive bool, end []byte, values bool) ([][2][]byte, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	cols := "k, NULL::bytea"
	if values {
		cols = "k, v"
	}
	op := ">"
	if inclusive {
		op = ">="
	}
	q := "SELECT " + cols + " FROM tether_kv WHERE k " + op + " $1"
	args := []any{from}
	if end != nil {
		q += " AND k < $2"
		args = append(args, end)
	}
	q += " ORDER BY k LIMIT " + strconv.Itoa(scanPage)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	out := make([][2][]byte, 0, scanPage)
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, [2][]byte{k, v})
	}
	return out, rows.Err()
}

func (s *Store) scan(prefix []byte, values bool, fn func(k, v []byte) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	end := prefixEnd(prefix)
	from, inclusive := append([]byte{}, prefix...), true // never nil: pgx sends nil as NULL
	for {
		var rows [][2][]byte
		err := s.retry("scan", func(context.Context) (err error) {
			rows, err = s.page(from, inclusive, end, values)
			return err
		})
		if err != nil {
			return fmt.Errorf("pgstore: scan: %w", err)
		}
		for _, r := range rows {
			if err := fn(r[0], r[1]); err != nil {
				return err
			}
		}
		if len(rows) < scanPage {
			return nil
		}
		from, inclusive = rows[len(rows)-1][0], false
	}
}

// Scan calls fn for every key with prefix, in ascending key order.
func (s *Store) Scan(prefix []byte, fn func(key, value []byte) error) error {
	return s.scan(prefix, true, fn)
}

// ScanKeys calls fn for every key with prefix (in ascending order, which
// the index gives for free), without reading values.
func (s *Store) ScanKeys(prefix []byte, fn func(key []byte) error) error {
	return s.scan(prefix, false, func(k, _ []byte) error { return fn(k) })
}

// usageEvery bounds how often Usage asks the database: the broker's space
// gate polls every 100 ms.
const usageEvery = time.Second

// Usage reports the table's size in the database (heap, TOAST and index):
// DiskBytes and LiveBytes are both that size, since PostgreSQL reuses the
// space of deleted rows itself. NoSpace is never set: a full database disk
// fails commits instead, which the broker reports to the sender.
func (s *Store) Usage() store.Usage {
	s.umu.Lock()
	defer s.umu.Unlock()
	if s.closed.Load() || time.Since(s.usageAt) < usageEvery {
		return s.usage
	}
	s.usageAt = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT pg_total_relation_size('tether_kv')").Scan(&n); err != nil {
		if !s.usageWarn {
			s.log.Warn("pgstore: cannot read the table's size; keeping the last figure", "err", err)
			s.usageWarn = true
		}
		return s.usage
	}
	s.usageWarn = false
	s.usage = store.Usage{DiskBytes: n, LiveBytes: n}
	return s.usage
}

// GiveUp ends every retry at once, and makes later calls fail on the
// first error: the broker is stopping (it lost its lease) and has closed
// its connectors, so waiting for the database would only delay that.
func (s *Store) GiveUp() {
	s.gave.Do(func() { close(s.giveUp) })
}

// Close releases the connections (waiting for calls in progress). It is
// safe to call twice.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		s.pool.Close()
	})
	return nil
}

type op struct {
	key, value []byte
	del        bool
}

type batch struct {
	s   *Store
	ops []op
}

func (b *batch) Set(key, value []byte) {
	// Non-nil copies: pgx sends a nil slice as NULL.
	b.ops = append(b.ops, op{key: append([]byte{}, key...), value: append([]byte{}, value...)})
}

func (b *batch) Delete(key []byte) {
	b.ops = append(b.ops, op{key: append([]byte{}, key...), del: true})
}

func (b *batch) Len() int { return len(b.ops) }

// Commit writes the batch in one transaction, in one round trip.
func (b *batch) Commit(sync bool) error {
	s := b.s
	if s.closed.Load() {
		return store.ErrClosed
	}
	if len(b.ops) == 0 {
		return nil
	}
	// The last operation on a key wins; after this each key appears once,
	// as ON CONFLICT DO UPDATE requires.
	last := make(map[string]int, len(b.ops))
	for i, o := range b.ops {
		last[string(o.key)] = i
	}
	var delKeys, setKeys, setVals [][]byte
	for i, o := range b.ops {
		if last[string(o.key)] != i {
			continue
		}
		if o.del {
			delKeys = append(delKeys, o.key)
		} else {
			setKeys = append(setKeys, o.key)
			setVals = append(setVals, o.value)
		}
	}

	// The keys leave the read-ahead cache before the commit is sent, and
	// no read-ahead overlapping it keeps them.
	w := s.ra.beginWrite(append(delKeys[:len(delKeys):len(delKeys)], setKeys...))
	// Every attempt applies the same final state (upserts and deletes of
	// given keys), so retrying after a commit whose outcome was lost with
	// the connection is harmless.
	err := s.retry("commit", func(ctx context.Context) error {
		return s.commitOnce(ctx, sync, delKeys, setKeys, setVals)
	})
	// A commit that failed for want of an answer may still be applied by
	// the server after this (its COMMIT was sent when the connection went):
	// its keys then stay out of every read-ahead for the store's life.
	if err == nil || !transient(err) {
		s.ra.endWrite(w)
	}
	switch {
	case err == nil:
		return nil
	case pgschema.IsFenced(err):
		err = fmt.Errorf("%w (%d operations not stored)", ErrFenced, len(b.ops))
		if s.o.OnFenced != nil {
			s.fenced.Do(func() { s.o.OnFenced(err) })
		}
		return err
	case isDiskFull(err):
		return fmt.Errorf("pgstore: commit of %d operations: %w: %w", len(b.ops), store.ErrNoSpace, err)
	}
	return fmt.Errorf("pgstore: commit of %d operations: %w", len(b.ops), err)
}

func (s *Store) commitOnce(ctx context.Context, sync bool, delKeys, setKeys, setVals [][]byte) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	pb := &pgx.Batch{}
	pb.Queue("BEGIN")
	if !sync {
		pb.Queue("SET LOCAL synchronous_commit TO off")
	}
	fenced := s.o.Fence.SQL != ""
	if fenced {
		pb.Queue(s.o.Fence.SQL, s.o.Fence.Args...)
	}
	if len(delKeys) > 0 {
		pb.Queue("DELETE FROM tether_kv WHERE k = ANY($1::bytea[])", delKeys)
	}
	if len(setKeys) > 0 {
		pb.Queue(`INSERT INTO tether_kv (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[])
			ON CONFLICT (k) DO UPDATE SET v = excluded.v`, setKeys, setVals)
	}
	pb.Queue("COMMIT")
	br := conn.SendBatch(ctx, pb)
	for i := 0; i < pb.Len(); i++ {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		return nil
	}
	// After an error the pipeline's remaining statements were skipped and
	// the transaction is aborted but open: end it, or the connection would
	// go back to the pool inside it. A broken connection is dropped by the
	// pool instead.
	if !conn.Conn().IsClosed() {
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, rerr := conn.Exec(rctx, "ROLLBACK"); rerr != nil {
			_ = conn.Conn().Close(rctx)
		}
		rcancel()
	}
	return err
}

// retry runs fn (each attempt with its own OpTimeout) until it succeeds,
// fails for a reason other than the connection or the server's
// availability, the store is closed, or RetryFor has passed.
func (s *Store) retry(what string, fn func(ctx context.Context) error) error {
	deadline := time.Now().Add(s.o.RetryFor)
	wait := 20 * time.Millisecond
	warned := false
	for {
		ctx, cancel := s.ctx()
		err := fn(ctx)
		cancel()
		left := time.Until(deadline)
		if err == nil || !transient(err) || s.closed.Load() || s.givenUp() || left <= 0 {
			if err == nil && warned {
				s.log.Info("pgstore: database reachable again", "op", what)
			}
			return err
		}
		if !warned {
			s.log.Warn("pgstore: database unavailable; retrying", "op", what, "for", time.Until(deadline).Round(time.Millisecond), "err", err)
			warned = true
		}
		// The last attempt is at the deadline: a master that lost its
		// lease meanwhile has closed its connectors by then (GiveUp), so
		// the error reaches no client, which fails over instead.
		t := time.NewTimer(min(wait, left))
		select {
		case <-t.C:
		case <-s.giveUp:
			t.Stop()
			return err
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

func (s *Store) givenUp() bool {
	select {
	case <-s.giveUp:
		return true
	default:
		return false
	}
}

// transient reports errors worth retrying: the connection failed or broke,
// the server is shutting down or starting (SQLSTATE classes 08 and 57), or
// a serialization failure or deadlock.
func transient(err error) bool {
	if errors.Is(err, pgx.ErrNoRows) || pgschema.IsFenced(err) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57") || pe.Code == "40001" || pe.Code == "40P01"
	}
	// No answer from the server at all: the connection is the problem.
	return true
}

// isDiskFull: the database's disk is full (disk_full, 53100).
func isDiskFull(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "53100"
}
