package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func fill(t *testing.T, j *Journal, from, to int, val []byte) {
	t.Helper()
	for i := from; i < to; i++ {
		b := j.NewBatch()
		b.Set(fmt.Appendf(nil, "m/%06d", i), val)
		if err := b.Commit(i%7 == 0); err != nil {
			t.Fatal(err)
		}
	}
}

func checkKeys(t *testing.T, j *Journal, want int, val []byte) {
	t.Helper()
	got := scanAll(t, j, "m/")
	if len(got) != want {
		t.Fatalf("%d keys, want %d", len(got), want)
	}
	for k, v := range got {
		if v != string(val) {
			t.Fatalf("%s: wrong value (%d bytes)", k, len(v))
		}
	}
}

// Open replays only what was appended after the last checkpoint.
func TestJournalReplaysOnlyAfterCheckpoint(t *testing.T) {
	dir := t.TempDir()
	val := bytes.Repeat([]byte("x"), 300)
	j := openJ(t, dir, 64<<10)
	fill(t, j, 0, 1000, val)
	if err := j.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	fill(t, j, 1000, 1037, val)
	crash(j)

	j = openJ(t, dir, 64<<10)
	st := j.Stats()
	if st.Rebuilt || st.RecordsReplayed != 37 {
		t.Fatalf("replayed %d records (rebuilt %v), want 37 after the checkpoint", st.RecordsReplayed, st.Rebuilt)
	}
	checkKeys(t, j, 1037, val)
	// A clean close checkpoints everything: the next open replays nothing.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openJ(t, dir, 64<<10)
	defer j.Close()
	if st := j.Stats(); st.RecordsReplayed != 0 || st.Rebuilt {
		t.Fatalf("after a clean close: replayed %d (rebuilt %v)", st.RecordsReplayed, st.Rebuilt)
	}
	checkKeys(t, j, 1037, val)
}

// A torn, corrupt or inconsistent checkpoint is never trusted: the index is
// rebuilt from the journal and nothing is lost.
func TestJournalRebuildsFromUntrustworthyCheckpoint(t *testing.T) {
	val := bytes.Repeat([]byte("y"), 200)
	damage := map[string]func(t *testing.T, path string){
		"truncated": func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			os.WriteFile(path, b[:len(b)/2], 0o644)
		},
		"flipped byte": func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			b[len(b)/3] ^= 0x40
			os.WriteFile(path, b, 0o644)
		},
		"garbage": func(t *testing.T, path string) {
			os.WriteFile(path, []byte("not a checkpoint"), 0o644)
		},
	}
	for name, fn := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			j := openJ(t, dir, 64<<10)
			fill(t, j, 0, 500, val)
			if err := j.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			fill(t, j, 500, 600, val)
			crash(j)
			fn(t, filepath.Join(dir, ckptName))
			j = openJ(t, dir, 64<<10)
			defer j.Close()
			if st := j.Stats(); !st.Rebuilt || st.RecordsReplayed != 600 {
				t.Fatalf("rebuilt=%v replayed=%d, want a full rebuild of 600 records", st.Rebuilt, st.RecordsReplayed)
			}
			checkKeys(t, j, 600, val)
		})
	}
	t.Run("segment missing", func(t *testing.T) {
		dir := t.TempDir()
		j := openJ(t, dir, 64<<10)
		fill(t, j, 0, 500, val)
		if err := j.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		newest := j.segPath(j.active.id)
		crash(j)
		// The checkpoint's own position segment is gone: it cannot be used.
		if err := os.Remove(newest); err != nil {
			t.Fatal(err)
		}
		j = openJ(t, dir, 64<<10)
		defer j.Close()
		if st := j.Stats(); !st.Rebuilt {
			t.Fatal("checkpoint naming a missing segment was trusted")
		}
	})
}

// Consuming most of a backlog shrinks the journal to near the live data,
// even when the oldest segment holds one long-lived key; the moved key
// survives a crash right after its move, once.
func TestJournalCompactionKeepsDiskNearLiveData(t *testing.T) {
	dir := t.TempDir()
	const seg = 64 << 10
	val := bytes.Repeat([]byte("z"), 1000)
	j := openJ(t, dir, seg)
	b := j.NewBatch()
	b.Set([]byte("m/pinned"), []byte("old"))
	b.Commit(true)
	fill(t, j, 0, 2000, val) // ~2 MB over ~30 segments
	// Consume 90%, oldest first, the way a queue drains.
	for i := range 1800 {
		b := j.NewBatch()
		b.Delete(fmt.Appendf(nil, "m/%06d", i))
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
	}
	before := j.Usage()
	for range 50 {
		j.maintain()
	}
	after := j.Usage()
	t.Logf("disk %d -> %d bytes, live %d", before.DiskBytes, after.DiskBytes, after.LiveBytes)
	if limit := after.LiveBytes*3/2 + 3*seg; after.DiskBytes > limit {
		t.Fatalf("disk %d bytes for %d live: want at most %d", after.DiskBytes, after.LiveBytes, limit)
	}
	if st := j.Stats(); st.SegmentsRelocated == 0 || st.SegmentsRemoved == 0 {
		t.Fatalf("stats %+v: expected relocation and removal", st)
	}
	crash(j)
	j = openJ(t, dir, seg)
	defer j.Close()
	got := scanAll(t, j, "m/")
	if len(got) != 201 || got["m/pinned"] != "old" {
		t.Fatalf("after compaction and crash: %d keys, pinned=%q", len(got), got["m/pinned"])
	}
}

// The layout a kill -9 test once left behind: the oldest file almost all
// live (it frees too little to move for its own sake), and the files
// behind it about half dead. Compaction must move the oldest file out of
// the way, or the dead space behind it stays forever.
func TestJournalCompactionMovesALiveOldestFilePinningDeadSpace(t *testing.T) {
	dir := t.TempDir()
	const seg = 64 << 10
	val := bytes.Repeat([]byte("z"), 1000)
	j := openJ(t, dir, seg)
	perFile := int(seg / (len(val) + 40))
	fill(t, j, 0, 4*perFile, val)
	// The first file stays whole; every other message after it goes.
	want := 4 * perFile
	for i := perFile + 2; i < 4*perFile; i += 2 {
		want--
		b := j.NewBatch()
		b.Delete(fmt.Appendf(nil, "m/%06d", i))
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
	}
	before := j.Files()
	if f := before[0]; f.Size-f.LiveBytes >= f.Size/10 {
		t.Fatalf("setup: the oldest file should be over 90%% live: %+v", f)
	}
	for range 50 {
		j.maintain()
	}
	u := j.Usage()
	limit := max(u.LiveBytes*5/4, u.LiveBytes+seg*11/10) + 2*seg + j.ckptSize // active, reserve, checkpoint
	t.Logf("files before %+v\nafter %+v\ndisk %d, live %d, limit %d", before, j.Files(), u.DiskBytes, u.LiveBytes, limit)
	if u.DiskBytes > limit {
		t.Fatalf("disk %d bytes for %d live: want at most %d", u.DiskBytes, u.LiveBytes, limit)
	}
	crash(j)
	j = openJ(t, dir, seg)
	defer j.Close()
	if got := scanAll(t, j, "m/"); len(got) != want {
		t.Fatalf("after compaction and crash: %d keys, want %d", len(got), want)
	}
}
