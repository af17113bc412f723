// Package pgschema is what the PostgreSQL store and the database lease
// share: opening a connection pool with clear errors, and versioned schema
// creation.
//
// Each component (the store, the lease) records its schema version in the
// table tether_schema. Creation runs under a transaction-scoped advisory
// lock, so brokers starting together on an empty database do not race on
// CREATE TABLE, and a version newer than the code knows is refused: an
// older broker must not write into tables a later release reshaped.
package pgschema

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// advisoryKey serialises schema changes between brokers ("tether" in ASCII).
const advisoryKey = 0x746574686572

// ErrFutureSchema is wrapped when the database holds a schema version newer
// than this build knows.
var ErrFutureSchema = errors.New("database schema is newer than this broker")

// Redact returns rawURL with its password masked, for logs and errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// PoolOptions tune a pool for its user.
type PoolOptions struct {
	MaxConns int32
	// Params are session settings (statement_timeout, lock_timeout, ...).
	Params map[string]string
	// ConnectTimeout bounds each connection attempt; default 5 s.
	ConnectTimeout time.Duration
}

// Open parses rawURL, connects and pings, so that a wrong URL, an
// unreachable server, a refused login or a missing database is reported
// here, at start-up, with the cause spelt out.
func Open(ctx context.Context, rawURL string, o PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		// pgx's parse errors may quote the URL, password included.
		return nil, fmt.Errorf("not a PostgreSQL URL (want postgres://user:password@host:port/database): %s", Redact(rawURL))
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > o.ConnectTimeout {
		cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	for k, v := range o.Params {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Redact(rawURL), err)
	}
	pctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout+time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot connect to %s: %s: %w", Redact(rawURL), explain(err), err)
	}
	return pool, nil
}

// explain names the usual causes of a failed connection.
func explain(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			return "login refused (user or password)"
		case "3D000":
			return "the database does not exist (create it first)"
		}
	}
	return "server unreachable or refused the connection"
}

// Ensure creates component's tables with ddl (run in one transaction) when
// the database has none of its schema, and checks the recorded version
// otherwise: newer than version is ErrFutureSchema. Migrations from older
// versions go here when there is a second version.
func Ensure(ctx context.Context, pool *pgxpool.Pool, component string, version int, ddl []string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// The pool's timeouts are the lease's (a fraction of a second in
		// tight set-ups): right for renewals, wrong for DDL on a busy
		// server or for waiting while another broker creates the schema.
		if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = '60s'; SET LOCAL lock_timeout = '60s'"); err != nil {
			return fmt.Errorf("schema set-up timeouts: %w", err)
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(advisoryKey)); err != nil {
			return fmt.Errorf("schema lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS tether_schema (
			component text PRIMARY KEY,
			version   integer NOT NULL,
			created   timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("schema table: %w", err)
		}
		var have int
		err := tx.QueryRow(ctx, "SELECT version FROM tether_schema WHERE component = $1", component).Scan(&have)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			for _, stmt := range ddl {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("create %s schema: %w", component, err)
				}
			}
			if _, err := tx.Exec(ctx, "INSERT INTO tether_schema (component, version) VALUES ($1, $2)", component, version); err != nil {
				return fmt.Errorf("record %s schema version: %w", component, err)
			}
			return nil
		case err != nil:
			return fmt.Errorf("read %s schema version: %w", component, err)
		case have > version:
			return fmt.Errorf("%w: the %s tables are at version %d, this broker knows up to %d (run the newer release, or use another database)",
				ErrFutureSchema, component, have, version)
		case have < version:
			return fmt.Errorf("%s schema version %d has no migration to %d", component, have, version)
		}
		return nil
	})
}

// FencedSQLState is the SQLSTATE a store fence raises when the writer no
// longer holds the lease: the store maps it to its fencing error, and tells
// it apart from a lost connection.
const FencedSQLState = "TL001"

// IsFenced reports whether err is a fence's refusal.
func IsFenced(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == FencedSQLState
}
