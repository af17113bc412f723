// Package store is the broker's persistence: an ordered key-value store with
// atomic batches whose commit can be made durable (fsync) before it returns.
//
// It owns the bytes on disk and nothing else: key layout, message encoding and
// the decision of what must be durable belong to the broker. Keeping the
// interface this thin lets a second backend (PostgreSQL, for database-lease
// master/slave) slot in without touching the broker.
//
// Invariants:
//   - A Batch is applied atomically: after a crash either every Set/Delete of
//     a committed batch is visible or none is.
//   - Commit(true) returns only after the batch is on stable storage. The
//     broker groups concurrent writers into one batch (its committer), so
//     one fsync serves many producers.
//   - Commit(false) batches are ordered with synced ones: a later synced
//     commit makes every earlier unsynced one durable too.
//   - Values are read on demand (Get): the broker pages messages in from the
//     store rather than holding them all, and recovers from keys alone
//     (ScanKeys), so neither memory nor start-up time grows with the values
//     stored.
package store

import "errors"

// ErrNotFound is returned by Get for a missing key.
var ErrNotFound = errors.New("store: key not found")

// ErrClosed is returned by every call after Close.
var ErrClosed = errors.New("store: closed")

// ErrNoSpace wraps a commit refused because the disk is full (ENOSPC).
// Nothing of the refused batch is stored.
var ErrNoSpace = errors.New("store: no space left on device")

// Store is an ordered key-value store with atomic, optionally durable batches.
type Store interface {
	// NewBatch starts an empty write batch.
	NewBatch() Batch
	// Get returns a copy of the value stored under key, or ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Scan calls fn for every key with the given prefix, in ascending key
	// order. key and value are only valid during the call.
	Scan(prefix []byte, fn func(key, value []byte) error) error
	// ScanKeys calls fn for every key with the given prefix, in no
	// particular order, without reading the values: recovery lists what is
	// stored without paying for the bytes (or for sorting them).
	ScanKeys(prefix []byte, fn func(key []byte) error) error // key: read-only, valid during the call
	// Usage reports the disk the store occupies and how much of it is live.
	Usage() Usage
	// Close flushes and releases the store. It is safe to call twice.
	Close() error
}

// Usage is a store's footprint, for limits and monitoring.
type Usage struct {
	// DiskBytes is what the store occupies on disk (preallocated files
	// included): what storeUsage limits.
	DiskBytes int64
	// LiveBytes is the part of it holding live keys and values.
	LiveBytes int64
	// NoSpace is set while the store could not reserve the space it needs
	// to keep accepting new data (the disk is full): the broker refuses
	// persistent sends until it clears, and keeps serving consumers.
	NoSpace bool
}

// Batch collects writes to apply atomically. It may keep the keys and
// values it is given, without copying them, until Commit returns: the
// caller must not modify them before then.
type Batch interface {
	Set(key, value []byte)
	Delete(key []byte)
	// Len is the number of operations in the batch.
	Len() int
	// Commit applies the batch; with sync it is durable when Commit returns.
	// A batch must not be reused after Commit.
	Commit(sync bool) error
}
