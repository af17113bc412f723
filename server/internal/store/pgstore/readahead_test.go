//go:build interop

package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tethermq/tether/server/internal/store"
	"github.com/tethermq/tether/server/internal/store/pgstore"
)

func valueOf(queue string, seq uint64, gen int) []byte {
	return fmt.Appendf(nil, "%s/%d/gen%d", queue, seq, gen)
}

func fill(t testing.TB, s *pgstore.Store, queue string, n int) {
	t.Helper()
	b := s.NewBatch()
	for i := range n {
		b.Set(seqKey(queue, uint64(i)), valueOf(queue, uint64(i), 0))
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
}

// Paging a queue in order reads it in a few queries, every value right,
// deleted rows reported missing, and never a row of the next queue.
func TestReadAheadInOrderSkipsDeleted(t *testing.T) {
	s := open(t, cluster.CreateDB(t), pgstore.Options{ReadAheadRows: 100})
	const n = 1000
	fill(t, s, "q1", n)
	fill(t, s, "q2", 50) // right after q1 in store order
	del := s.NewBatch()
	for i := 0; i < n; i += 250 {
		del.Delete(seqKey("q1", uint64(i+7)))
	}
	if err := del.Commit(true); err != nil {
		t.Fatal(err)
	}
	for i := range uint64(n) {
		v, err := s.Get(seqKey("q1", i))
		if i%250 == 7 {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("deleted %d: %q, %v", i, v, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(v, valueOf("q1", i, 0)) {
			t.Fatalf("Get %d: %q, %v", i, v, err)
		}
	}
	// 1000 rows at 100 a query, plus one query for each of the 4 gaps.
	if q := s.ReadAheadQueries(); q > n/100+4+1 {
		t.Fatalf("%d queries to page in %d rows", q, n)
	}
	// Nothing of q2 was read ahead: it is another sequence group.
	if k := s.ReadAheadKept(); k != 0 {
		t.Fatalf("%d rows still kept after paging q1 in", k)
	}
	if v, err := s.Get(seqKey("q2", 0)); err != nil || !bytes.Equal(v, valueOf("q2", 0, 0)) {
		t.Fatalf("q2: %q, %v", v, err)
	}
	// A value is handed out once from the cache; asked again it is read again.
	if v, err := s.Get(seqKey("q2", 1)); err != nil || !bytes.Equal(v, valueOf("q2", 1, 0)) {
		t.Fatalf("q2 1: %q, %v", v, err)
	}
	if v, err := s.Get(seqKey("q2", 1)); err != nil || !bytes.Equal(v, valueOf("q2", 1, 0)) {
		t.Fatalf("q2 1 again: %q, %v", v, err)
	}
	// Keys without a sequence number are read alone.
	b := s.NewBatch()
	b.Set([]byte("short"), []byte("v"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	before := s.ReadAheadQueries()
	if v, err := s.Get([]byte("short")); err != nil || string(v) != "v" {
		t.Fatalf("short key: %q, %v", v, err)
	}
	if _, err := s.Get([]byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing short key: %v", err)
	}
	if s.ReadAheadQueries() != before {
		t.Fatal("a short key was read ahead")
	}
}

// A commit after the read-ahead wins over what was read ahead.
func TestReadAheadSeesLaterCommits(t *testing.T) {
	s := open(t, cluster.CreateDB(t), pgstore.Options{})
	fill(t, s, "q", 10)
	if _, err := s.Get(seqKey("q", 0)); err != nil {
		t.Fatal(err)
	}
	if k := s.ReadAheadKept(); k != 9 {
		t.Fatalf("kept %d rows, want 9", k)
	}
	b := s.NewBatch()
	b.Set(seqKey("q", 1), valueOf("q", 1, 1))
	b.Delete(seqKey("q", 2))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(seqKey("q", 1)); err != nil || !bytes.Equal(v, valueOf("q", 1, 1)) {
		t.Fatalf("updated: %q, %v", v, err)
	}
	if _, err := s.Get(seqKey("q", 2)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
	if v, err := s.Get(seqKey("q", 3)); err != nil || !bytes.Equal(v, valueOf("q", 3, 0)) {
		t.Fatalf("untouched: %q, %v", v, err)
	}
}

// ReadAheadBytes bounds a read-ahead; the row asked for is read whatever
// its size.
func TestReadAheadBytesBound(t *testing.T) {
	s := open(t, cluster.CreateDB(t), pgstore.Options{ReadAheadBytes: 250 << 10})
	big := bytes.Repeat([]byte("x"), 100<<10)
	b := s.NewBatch()
	for i := range 10 {
		b.Set(seqKey("big", uint64(i)), append(fmt.Appendf(nil, "%d:", i), big...))
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		v, err := s.Get(seqKey("big", uint64(i)))
		if err != nil || !bytes.HasPrefix(v, fmt.Appendf(nil, "%d:", i)) || len(v) != len(big)+len(fmt.Sprint(i))+1 {
			t.Fatalf("Get %d: %d bytes, %v", i, len(v), err)
		}
		if k := s.ReadAheadKept(); k > 3 {
			t.Fatalf("after Get %d: %d rows of 100 KiB kept, bound 250 KiB", i, k)
		}
	}
	if q := s.ReadAheadQueries(); q < 3 || q > 5 {
		t.Fatalf("%d queries for 10 rows of 100 KiB, 3 a query", q)
	}
}

// Acks (deletes) and updates committed while a queue is paged in: a Get
// never returns a row deleted, or a value replaced, before it began.
func TestReadAheadConcurrentAcks(t *testing.T) {
	s := open(t, cluster.CreateDB(t), pgstore.Options{ReadAheadRows: 64})
	const n = 600
	fill(t, s, "acks", n)
	var deleted, updated [n]atomic.Bool
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, i := range rand.Perm(n) {
			if ctx.Err() != nil {
				return
			}
			b := s.NewBatch()
			if i%2 == 0 {
				b.Delete(seqKey("acks", uint64(i)))
			} else {
				b.Set(seqKey("acks", uint64(i)), valueOf("acks", uint64(i), 1))
			}
			if err := b.Commit(false); err != nil {
				errc <- err
				return
			}
			if i%2 == 0 {
				deleted[i].Store(true)
			} else {
				updated[i].Store(true)
			}
		}
	}()
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pass := 0; ctx.Err() == nil; pass++ {
				done := true
				for i := range n {
					wasDeleted, wasUpdated := deleted[i].Load(), updated[i].Load()
					done = done && (wasDeleted || wasUpdated)
					v, err := s.Get(seqKey("acks", uint64(i)))
					switch {
					case wasDeleted && !errors.Is(err, store.ErrNotFound):
						errc <- fmt.Errorf("reader %d pass %d: %d deleted before the Get, got %q, %v", r, pass, i, v, err)
						return
					case wasUpdated && (err != nil || !bytes.Equal(v, valueOf("acks", uint64(i), 1))):
						errc <- fmt.Errorf("reader %d pass %d: %d updated before the Get, got %q, %v", r, pass, i, v, err)
						return
					case err != nil && !errors.Is(err, store.ErrNotFound):
						errc <- err
						return
					case err == nil && !bytes.Equal(v, valueOf("acks", uint64(i), 0)) && !bytes.Equal(v, valueOf("acks", uint64(i), 1)):
						errc <- fmt.Errorf("reader %d: %d: value %q", r, i, v)
						return
					}
				}
				if done {
					return // every row was acked or updated before this pass
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("did not finish within 20 s")
	}
}

// A commit that failed for want of an answer may still land later: its
// keys are never read ahead again.
func TestReadAheadAfterLostCommit(t *testing.T) {
	s := open(t, cluster.CreateDB(t), pgstore.Options{RetryFor: 200 * time.Millisecond})
	fill(t, s, "lost", 10)
	cluster.StopServer(t)
	b := s.NewBatch()
	b.Set(seqKey("lost", 3), valueOf("lost", 3, 1))
	err := b.Commit(true)
	cluster.StartServer(t)
	if err == nil {
		t.Fatal("commit with the database down succeeded")
	}
	if v, err := s.Get(seqKey("lost", 0)); err != nil || !bytes.Equal(v, valueOf("lost", 0, 0)) {
		t.Fatalf("Get 0: %q, %v", v, err)
	}
	if k := s.ReadAheadKept(); k != 8 {
		t.Fatalf("kept %d rows, want 9 minus the lost commit's key", k)
	}
	if v, err := s.Get(seqKey("lost", 3)); err != nil || !bytes.Equal(v, valueOf("lost", 3, 0)) {
		t.Fatalf("Get 3: %q, %v", v, err)
	}
}
