package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
)

// Pebble is the embedded journal: a pebble LSM in one directory.
type Pebble struct {
	db     *pebble.DB
	closed atomic.Bool
}

// OpenPebble opens (creating if needed) the store in dir.
func OpenPebble(dir string, log *slog.Logger) (*Pebble, error) {
	if log == nil {
		log = slog.Default()
	}
	opts := &pebble.Options{
		Logger:       pebbleLogger{log.With("component", "pebble")},
		MemTableSize: 4 << 20,
		// Keep idle memory low: the broker holds hot messages itself and only
		// reads the store on recovery.
		Cache: pebble.NewCache(4 << 20),
	}
	defer opts.Cache.Unref()
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	return &Pebble{db: db}, nil
}

// NewBatch implements Store.
func (p *Pebble) NewBatch() Batch { return &pebbleBatch{p: p, b: p.db.NewBatch()} }

// Get implements Store.
func (p *Pebble) Get(key []byte) ([]byte, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	v, c, err := p.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get: %w", err)
	}
	defer c.Close()
	return bytes.Clone(v), nil
}

// Scan implements Store.
func (p *Pebble) Scan(prefix []byte, fn func(key, value []byte) error) error {
	if p.closed.Load() {
		return ErrClosed
	}
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("store: scan: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("store: scan: %w", err)
	}
	return nil
}

// Close implements Store.
func (p *Pebble) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	if err := p.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// prefixEnd returns the smallest key greater than every key with prefix, or
// nil (no upper bound) when prefix is empty or all 0xff.
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

type pebbleBatch struct {
	p *Pebble
	b *pebble.Batch
}

func (b *pebbleBatch) Set(key, value []byte) { _ = b.b.Set(key, value, nil) }
func (b *pebbleBatch) Delete(key []byte)     { _ = b.b.Delete(key, nil) }
func (b *pebbleBatch) Len() int              { return int(b.b.Count()) }

func (b *pebbleBatch) Commit(sync bool) error {
	defer b.b.Close()
	if b.p.closed.Load() {
		return ErrClosed
	}
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	if err := b.b.Commit(opts); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// pebbleLogger routes pebble's own log lines to slog; pebble's Fatalf is for
// unrecoverable corruption, so it logs and panics as pebble expects.
type pebbleLogger struct{ l *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.l.Debug(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.l.Error(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.l.Error(msg)
	panic("pebble: " + msg)
}
