package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestPebbleBatchScanAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenPebble(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	b.Set([]byte("m/q1/1"), []byte("one"))
	b.Set([]byte("m/q1/2"), []byte("two"))
	b.Set([]byte("m/q2/1"), []byte("other"))
	if b.Len() != 3 {
		t.Fatalf("Len = %d, want 3", b.Len())
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b = s.NewBatch()
	b.Delete([]byte("m/q1/1"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Get([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}

	s, err = OpenPebble(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	err = s.Scan([]byte("m/q1/"), func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[m/q1/2=two]" {
		t.Fatalf("scan = %v", got)
	}
	if v, err := s.Get([]byte("m/q2/1")); err != nil || string(v) != "other" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if _, err := s.Get([]byte("m/q1/1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get deleted = %v, want ErrNotFound", err)
	}
}

func TestPebbleScanStopsOnError(t *testing.T) {
	s, err := OpenPebble(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := s.NewBatch()
	for i := range 5 {
		b.Set(fmt.Appendf(nil, "k%d", i), nil)
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	n := 0
	err = s.Scan(nil, func(k, v []byte) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Fatalf("Scan = %v after %d keys", err, n)
	}
}

func TestPrefixEnd(t *testing.T) {
	cases := map[string]string{"a": "b", "a\xff": "b", "\xff\xff": "", "": ""}
	for in, want := range cases {
		if got := string(prefixEnd([]byte(in))); got != want {
			t.Errorf("prefixEnd(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkSyncedCommitParallel shows group commit: parallel synced commits
// share fsyncs, so ops/s grows with concurrency instead of staying at the
// disk's single-writer fsync rate.
func BenchmarkSyncedCommitParallel(b *testing.B) {
	s, err := OpenPebble(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	val := make([]byte, 1024)
	var mu sync.Mutex
	n := 0
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			k := fmt.Appendf(nil, "k%09d", n)
			mu.Unlock()
			bt := s.NewBatch()
			bt.Set(k, val)
			if err := bt.Commit(true); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkSyncedCommitSerial(b *testing.B) {
	s, err := OpenPebble(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	val := make([]byte, 1024)
	for i := 0; i < b.N; i++ {
		bt := s.NewBatch()
		bt.Set(fmt.Appendf(nil, "k%09d", i), val)
		if err := bt.Commit(true); err != nil {
			b.Fatal(err)
		}
	}
}
