package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func openJ(t testing.TB, dir string, seg int64) *Journal {
	t.Helper()
	j, err := OpenJournal(dir, JournalOptions{SegmentSize: seg, CheckpointBytes: seg, CompactionDelay: time.Nanosecond, Manual: true})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// crash drops j as a killed process would: no last checkpoint, files
// closed as they are.
func crash(j *Journal) {
	j.stopOnce.Do(func() { close(j.stop) })
	<-j.bgDone
	j.mu.Lock()
	j.closed = true
	j.closeFiles()
	j.mu.Unlock()
}

func scanAll(t testing.TB, s Store, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var last string
	err := s.Scan([]byte(prefix), func(k, v []byte) error {
		if string(k) <= last && last != "" {
			return fmt.Errorf("scan not ascending: %q after %q", k, last)
		}
		last = string(k)
		out[string(k)] = string(v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestJournalReplayAndDeletes(t *testing.T) {
	dir := t.TempDir()
	j := openJ(t, dir, 64<<10)
	b := j.NewBatch()
	b.Set([]byte("m/1"), []byte("one"))
	b.Set([]byte("m/2"), []byte("two"))
	b.Set([]byte("x/1"), []byte("other"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b = j.NewBatch()
	b.Delete([]byte("m/1"))
	b.Set([]byte("m/2"), []byte("two-b"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openJ(t, dir, 64<<10)
	defer j.Close()
	got := scanAll(t, j, "m/")
	if len(got) != 1 || got["m/2"] != "two-b" {
		t.Fatalf("after replay: %v", got)
	}
	if _, err := j.Get([]byte("m/1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
}

// Many segments' worth of churn: dead segments are recycled, a few
// long-lived keys are moved forward, and disk use stays bounded.
func TestJournalReclaimsSegments(t *testing.T) {
	dir := t.TempDir()
	const seg = 32 << 10
	j := openJ(t, dir, seg)
	val := bytes.Repeat([]byte("v"), 500)
	for i := range 3 {
		b := j.NewBatch()
		b.Set([]byte(fmt.Sprintf("keep/%d", i)), val)
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2000 {
		b := j.NewBatch()
		b.Set([]byte(fmt.Sprintf("tmp/%d", i)), val)
		if err := b.Commit(i%10 == 0); err != nil {
			t.Fatal(err)
		}
		b = j.NewBatch()
		b.Delete([]byte(fmt.Sprintf("tmp/%d", i)))
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		j.maintain()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(files) > 5 {
		t.Fatalf("%d segment files for 3 live keys: reclaim not working", len(files))
	}
	j.Close()
	j = openJ(t, dir, seg)
	defer j.Close()
	if got := scanAll(t, j, ""); len(got) != 3 || got["keep/2"] != string(val) {
		t.Fatalf("after churn and replay: %d keys", len(got))
	}
}

// A torn write at the tail (a crash mid-append) loses only that record.
func TestJournalTornTail(t *testing.T) {
	dir := t.TempDir()
	j := openJ(t, dir, 64<<10)
	for i := range 5 {
		b := j.NewBatch()
		b.Set([]byte(fmt.Sprintf("k%d", i)), []byte("value"))
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
	}
	path, off := j.active.f.Name(), j.off
	crash(j)
	// Corrupt the last record's final byte: its CRC no longer matches.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, off-1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	j = openJ(t, dir, 64<<10)
	defer j.Close()
	got := scanAll(t, j, "k")
	if len(got) != 4 || got["k4"] != "" {
		t.Fatalf("after torn tail: %v", got)
	}
	// New writes go to a fresh segment and survive another reopen.
	b := j.NewBatch()
	b.Set([]byte("k9"), []byte("after"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
}

func TestJournalCorruptionInOlderSegmentFailsOpen(t *testing.T) {
	dir := t.TempDir()
	j := openJ(t, dir, 64<<10)
	b := j.NewBatch()
	b.Set([]byte("a"), []byte("value"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	first := j.segs[0].f.Name()
	j.Close()
	j = openJ(t, dir, 64<<10) // rolls: the first segment is now not the last
	j.Close()
	f, _ := os.OpenFile(first, os.O_RDWR, 0)
	f.WriteAt([]byte{0xff, 0xff}, 20)
	f.Close()
	// The checkpoint is trusted without reading old segments; without it
	// the rebuild reads them all and must refuse the corruption.
	os.Remove(filepath.Join(dir, ckptName))
	if _, err := OpenJournal(dir, JournalOptions{SegmentSize: 64 << 10}); err == nil {
		t.Fatal("corrupt older segment accepted")
	}
}

func FuzzJournalReplay(f *testing.F) {
	f.Add([]byte{}, uint64(1))
	f.Add(bytes.Repeat([]byte{0xff}, 64), uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, seg uint64) {
		for len(data) > 0 {
			n, _, ok := parseRecord(data, seg)
			if !ok {
				return
			}
			data = data[n:]
		}
	})
}

// BenchmarkJournalSyncedCommitSerial: one synced 1 KiB commit at a time,
// the latency a producer waiting on each receipt sees; direct I/O where
// the filesystem allows it, and through the page cache for comparison.
func BenchmarkJournalSyncedCommitSerial(b *testing.B) {
	for _, buffered := range []bool{false, true} {
		b.Run(fmt.Sprintf("buffered=%v", buffered), func(b *testing.B) {
			j, err := OpenJournal(b.TempDir(), JournalOptions{BufferedIO: buffered})
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			val := make([]byte, 1024)
			for i := 0; i < b.N; i++ {
				bt := j.NewBatch()
				bt.Set(fmt.Appendf(nil, "k%09d", i), val)
				if err := bt.Commit(true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJournalSyncedCommitParallel shows group commit at the store
// level: concurrent synced commits share the mutex, and the broker's
// committer batches them into one record anyway.
func BenchmarkJournalSyncedCommitParallel(b *testing.B) {
	j := openJ(b, b.TempDir(), 0)
	defer j.Close()
	val := make([]byte, 1024)
	var n atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bt := j.NewBatch()
			bt.Set(fmt.Appendf(nil, "k%09d", n.Add(1)), val)
			if err := bt.Commit(true); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestJournalClosed(t *testing.T) {
	j := openJ(t, t.TempDir(), 64<<10)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := j.Get([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v", err)
	}
	if err := j.NewBatch().Commit(true); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close = %v", err)
	}
}

// Direct-I/O appends (block rewrites of the tail) and page-cache appends
// write the same bytes: a journal written in one mode, across segment rolls,
// small and large batches, replays in the other.
func TestJournalDirectAndBufferedWriteTheSameLog(t *testing.T) {
	for _, first := range []bool{false, true} {
		t.Run(fmt.Sprintf("buffered=%v", first), func(t *testing.T) {
			dir := t.TempDir()
			o := JournalOptions{SegmentSize: 64 << 10, BufferedIO: first}
			j, err := OpenJournal(dir, o)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("direct I/O in use: %v", j.direct)
			want := map[string]string{}
			for i := range 400 {
				b := j.NewBatch()
				k := fmt.Sprintf("k%04d", i)
				v := bytes.Repeat([]byte{byte('a' + i%26)}, 1+(i*37)%3000)
				b.Set([]byte(k), v)
				want[k] = string(v)
				if i%3 == 0 && i > 0 {
					d := fmt.Sprintf("k%04d", i-1)
					b.Delete([]byte(d))
					delete(want, d)
				}
				if err := b.Commit(i%2 == 0); err != nil {
					t.Fatal(err)
				}
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			o.BufferedIO = !first
			j, err = OpenJournal(dir, o)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			got := scanAll(t, j, "k")
			if len(got) != len(want) {
				t.Fatalf("replayed %d keys, want %d", len(got), len(want))
			}
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("%s: replayed %d bytes, want %d", k, len(got[k]), len(v))
				}
			}
		})
	}
}

// Where the filesystem refuses direct I/O, the journal appends through the
// page cache instead, and says so once.
func TestJournalFallsBackWithoutDirectIO(t *testing.T) {
	orig := openDirectFile
	openDirectFile = func(string) (*os.File, error) { return nil, syscall.EINVAL }
	defer func() { openDirectFile = orig }()
	dir := t.TempDir()
	j := openJ(t, dir, 64<<10)
	if j.direct {
		t.Fatal("direct mode although the open was refused")
	}
	b := j.NewBatch()
	b.Set([]byte("k"), []byte("v"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j = openJ(t, dir, 64<<10)
	defer j.Close()
	if got := scanAll(t, j, "k"); got["k"] != "v" {
		t.Fatalf("after fallback and reopen: %v", got)
	}
}
