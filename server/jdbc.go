package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tethermq/tether/server/internal/lock"
	"github.com/tethermq/tether/server/internal/pgschema"
	"github.com/tethermq/tether/server/internal/store"
	"github.com/tethermq/tether/server/internal/store/pgstore"
)

// PersistenceAdapter chooses where persistent messages live
// (activemq.xml's <persistenceAdapter>). Without it the file store in
// dataDirectory is used.
type PersistenceAdapter struct {
	// JDBC keeps the messages in a PostgreSQL database shared by every
	// broker of a master/slave group (<jdbcPersistenceAdapter> with a
	// lease-database-locker); see docs/master-slave.md.
	JDBC *JDBCAdapter `yaml:"jdbc"`
}

// JDBCAdapter is the PostgreSQL store and its master lease.
type JDBCAdapter struct {
	// URL is postgres://user:password@host:port/database?sslmode=...
	URL string `yaml:"url"`
	// LockKeepAlivePeriod is how often the master renews its lease
	// (default 1s).
	LockKeepAlivePeriod Duration `yaml:"lockKeepAlivePeriod"`
	// LockAcquireSleepInterval is how often a slave retries, and the
	// lease's length, at least twice LockKeepAlivePeriod (default 3s).
	LockAcquireSleepInterval Duration `yaml:"lockAcquireSleepInterval"`
}

// jdbc is the JDBC adapter's settings, or nil for the file store.
func (c *Config) jdbc() *JDBCAdapter {
	if c.PersistenceAdapter == nil {
		return nil
	}
	return c.PersistenceAdapter.JDBC
}

const jdbcURLSetting = "persistenceAdapter.jdbc.url"

func (c *Config) validatePersistence() error {
	if c.PersistenceAdapter == nil {
		return nil
	}
	j := c.PersistenceAdapter.JDBC
	if j == nil {
		return errors.New("config: persistenceAdapter: set jdbc (or leave persistenceAdapter out for the file store in dataDirectory)")
	}
	if j.URL == "" {
		return fmt.Errorf("config: %s: must not be empty (postgres://user:password@host:port/database)", jdbcURLSetting)
	}
	if _, err := pgxpool.ParseConfig(j.URL); err != nil {
		return fmt.Errorf("config: %s: not a PostgreSQL URL (want postgres://user:password@host:port/database): %s",
			jdbcURLSetting, pgschema.Redact(j.URL))
	}
	if j.LockKeepAlivePeriod < 0 || j.LockAcquireSleepInterval < 0 {
		return errors.New("config: persistenceAdapter.jdbc: lock periods must not be negative")
	}
	return nil
}

// masterLock is what decides which broker of a group is master: the data
// directory's lock file, or the database lease.
type masterLock interface {
	Acquire(ctx context.Context) error
	Watch(ctx context.Context, onLost func(reason error)) error
	Release() error
}

// newLocker makes the file locker, or with persistenceAdapter.jdbc the
// database lease, after checking that the database is reachable, accepts
// the login and has no schema newer than this broker: mistakes there are
// start-up errors, not a slave waiting forever.
func (s *Server) newLocker(ctx context.Context) (masterLock, error) {
	cfg := s.cfg
	j := cfg.jdbc()
	if j == nil {
		return lock.NewFileLocker(lock.Options{
			Dir: cfg.DataDirectory, KeepAlivePeriod: time.Duration(cfg.LockKeepAlivePeriod),
			AcquireSleepInterval: time.Duration(cfg.LockAcquireSleepInterval), Logger: s.log,
		})
	}
	l, err := lock.NewLeaseLocker(ctx, lock.LeaseOptions{
		URL: j.URL, Name: cfg.BrokerName, KeepAlivePeriod: time.Duration(j.LockKeepAlivePeriod),
		AcquireSleepInterval: time.Duration(j.LockAcquireSleepInterval), Logger: s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", jdbcURLSetting, err)
	}
	if err := pgstore.Prepare(ctx, j.URL); err != nil {
		_ = l.Release()
		return nil, fmt.Errorf("%s: %w", jdbcURLSetting, err)
	}
	s.log.Info("JDBC persistence adapter: messages in PostgreSQL", "url", pgschema.Redact(j.URL),
		"lease", l.Lease(), "lockKeepAlivePeriod", time.Duration(j.LockKeepAlivePeriod), "owner", l.Owner())
	return l, nil
}

// openStore opens the file store, or the PostgreSQL store fenced by the
// lease this broker holds.
func (s *Server) openStore() (store.Store, error) {
	cfg := s.cfg
	j := cfg.jdbc()
	if j == nil {
		return store.OpenJournal(cfg.DataDirectory+"/journal", store.JournalOptions{
			Logger: s.log, SegmentSize: int64(cfg.JournalMaxFileLength)})
	}
	l := s.locker.(*lock.LeaseLocker)
	sql, args := l.Fence()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := pgstore.Open(ctx, j.URL, pgstore.Options{
		Fence: pgstore.Fence{SQL: sql, Args: args}, IdleInTransactionTimeout: l.Lease(), RetryFor: l.Lease(), Logger: s.log,
		OnFenced: l.Fenced})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", jdbcURLSetting, err)
	}
	return st, nil
}

// giveUpStore tells a PostgreSQL store to stop retrying: the connectors are
// closed, so a broker that is stopping need not wait for the database.
func giveUpStore(st store.Store) {
	if ps, ok := st.(*pgstore.Store); ok {
		ps.GiveUp()
	}
}
