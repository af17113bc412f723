package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/tethermq/tether/server/internal/store"
)

// Read-ahead for paging. The broker pages a queue's spooled messages back
// in with one Get per message, in store order; on PostgreSQL each Get is a
// round trip. So a Get that misses reads, in the same query, the rows that
// follow its key in store order within the key's sequence group (keys
// equal but for their last 8 bytes: the broker's message keys end in the
// queue's big-endian sequence number), up to ReadAheadRows rows and
// ReadAheadBytes of values, and keeps them for the Gets that follow.
//
// Invariants (under readAhead.mu):
//   - A kept row holds the value committed when it was read, and no commit
//     has touched its key since it was read: a commit drops its keys from
//     the cache before it is sent, and a read that overlapped a commit
//     (in progress when the read started, or started while it ran) keeps
//     none of that commit's keys. So a Get served from the cache returns
//     what a query would return. A commit whose outcome is unknown (the
//     connection went with its COMMIT) stays "in progress" for good.
//   - A row leaves the cache when a Get takes it (a message is paged in
//     once), when a commit touches its key, or when the cache is over
//     readAheadCacheBytes, oldest first.

// Read-ahead defaults.
const (
	defaultReadAheadRows  = 512
	defaultReadAheadBytes = 2 << 20
	// readAheadCacheBytes bounds the values kept, over every queue.
	readAheadCacheBytes = 8 << 20
)

type readAhead struct {
	mu      sync.Mutex
	rows    map[string][]byte
	fifo    []string // keys in the order they were kept (taken ones skipped lazily)
	bytes   int
	writes  map[*commitKeys]struct{} // commits in progress
	reads   map[*pendingRead]struct{}
	queries int64 // read-ahead queries run (for tests)
}

// commitKeys are the keys one commit writes (sets and deletes).
type commitKeys struct{ keys [][]byte }

// pendingRead is a read-ahead query in progress over [from, end).
type pendingRead struct {
	from, end []byte
	dirty     map[string]struct{}
	overlaps  []*commitKeys // commits in progress when it started
}

func (p *pendingRead) covers(k []byte) bool {
	return bytes.Compare(k, p.from) >= 0 && (p.end == nil || bytes.Compare(k, p.end) < 0)
}

func newReadAhead() *readAhead {
	return &readAhead{rows: map[string][]byte{}, writes: map[*commitKeys]struct{}{}, reads: map[*pendingRead]struct{}{}}
}

// take returns and forgets the kept value of key.
func (r *readAhead) take(key []byte) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.rows[string(key)]
	if ok {
		delete(r.rows, string(key))
		r.bytes -= len(v)
	}
	return v, ok
}

// beginWrite is called before a commit is sent: its keys leave the cache
// and every read in progress learns not to keep them.
func (r *readAhead) beginWrite(keys [][]byte) *commitKeys {
	c := &commitKeys{keys: keys}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes[c] = struct{}{}
	for _, k := range keys {
		if v, ok := r.rows[string(k)]; ok {
			delete(r.rows, string(k))
			r.bytes -= len(v)
		}
		for p := range r.reads {
			if p.covers(k) {
				p.dirty[string(k)] = struct{}{}
			}
		}
	}
	return c
}

// endWrite is called once the commit's outcome is known (or lost).
func (r *readAhead) endWrite(c *commitKeys) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.writes, c)
}

func (r *readAhead) beginRead(from, end []byte) *pendingRead {
	p := &pendingRead{from: from, end: end, dirty: map[string]struct{}{}}
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.writes {
		p.overlaps = append(p.overlaps, c)
	}
	r.reads[p] = struct{}{}
	r.queries++
	return p
}

// endRead keeps rows (in store order) that no overlapping commit touched,
// except skip (the row the Get asked for, which it returns instead).
func (r *readAhead) endRead(p *pendingRead, rows [][2][]byte, skip []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.reads, p)
	for _, c := range p.overlaps {
		for _, k := range c.keys {
			if p.covers(k) {
				p.dirty[string(k)] = struct{}{}
			}
		}
	}
	for _, row := range rows {
		k := string(row[0])
		if _, bad := p.dirty[k]; bad || bytes.Equal(row[0], skip) {
			continue
		}
		if old, ok := r.rows[k]; ok {
			r.bytes -= len(old)
		} else {
			r.fifo = append(r.fifo, k)
		}
		r.rows[k] = row[1]
		r.bytes += len(row[1])
	}
	r.evictLocked()
}

// evictLocked drops the oldest kept rows while over readAheadCacheBytes,
// and compacts fifo once mostly rows already taken.
func (r *readAhead) evictLocked() {
	i := 0
	for ; i < len(r.fifo); i++ {
		v, kept := r.rows[r.fifo[i]]
		if kept && r.bytes <= readAheadCacheBytes {
			break
		}
		if kept {
			delete(r.rows, r.fifo[i])
			r.bytes -= len(v)
		}
	}
	r.fifo = r.fifo[i:]
	if len(r.fifo) > 2*len(r.rows)+1024 {
		// A key taken and kept again is in fifo twice: keep its first place.
		seen := make(map[string]struct{}, len(r.rows))
		fifo := make([]string, 0, len(r.rows))
		for _, k := range r.fifo {
			if _, kept := r.rows[k]; kept {
				if _, dup := seen[k]; !dup {
					seen[k] = struct{}{}
					fifo = append(fifo, k)
				}
			}
		}
		r.fifo = fifo
	}
}

// seqGroupEnd is the end of key's sequence group (exclusive): the smallest
// key above every key that equals key but for its last 8 bytes. It is nil
// when key is too short to have a sequence number, or when no key is above
// the group.
func seqGroupEnd(key []byte) (end []byte, ok bool) {
	if len(key) <= 8 {
		return nil, false
	}
	end = prefixEnd(key[:len(key)-8])
	return end, end != nil
}

// getAhead reads key and the rows after it in its sequence group: one
// query, bounded by ReadAheadRows and, after the first row, by
// ReadAheadBytes of values. The window sum runs over octet_length, which
// PostgreSQL answers from the TOAST pointer without reading the value.
func (s *Store) getAhead(ctx context.Context, key, end []byte) ([][2][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT k, v FROM (
			SELECT k, v, coalesce(sum(octet_length(v)) OVER (ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
			FROM tether_kv WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3) r
		WHERE k = $1 OR before < $4 ORDER BY k`, key, end, s.o.ReadAheadRows, s.o.ReadAheadBytes)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2][]byte
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out = append(out, [2][]byte{k, v})
	}
	return out, rows.Err()
}

// get is Get with read-ahead.
func (s *Store) get(key []byte) ([]byte, error) {
	if v, ok := s.ra.take(key); ok {
		return v, nil // taken out of the cache: nothing else holds it
	}
	from := append([]byte{}, key...) // never nil: pgx sends nil as NULL
	end, ok := seqGroupEnd(from)
	if !ok {
		return s.getOne(from)
	}
	var rows [][2][]byte
	p := s.ra.beginRead(from, end)
	err := s.retry("get", func(ctx context.Context) (err error) {
		rows, err = s.getAhead(ctx, from, end)
		return err
	})
	if err != nil {
		s.ra.endRead(p, nil, nil)
		return nil, fmt.Errorf("pgstore: get: %w", err)
	}
	s.ra.endRead(p, rows, from)
	if len(rows) == 0 || !bytes.Equal(rows[0][0], from) {
		return nil, store.ErrNotFound
	}
	return rows[0][1], nil
}

// getOne reads one row: a key with no sequence group, or read-ahead off.
func (s *Store) getOne(key []byte) ([]byte, error) {
	var v []byte
	err := s.retry("get", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, "SELECT v FROM tether_kv WHERE k = $1", key).Scan(&v)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: get: %w", err)
	}
	return v, nil
}
