package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"
)

// The index checkpoint: every live key's location, and the journal position
// it covers, so that Open replays only the records after that position.
//
//	"TJCK" | version 1 | position segment u64 | position offset u64 | count u64
//	| count x (uvarint key length, key, uvarint segment, uvarint value offset,
//	           uvarint value length, uvarint operation size)
//	| crc32c of everything before, u32
//
// It is written to a temporary file, synced and renamed over the previous
// one, so a crash leaves either the old checkpoint or the new one.
const (
	ckptName    = "index.ckpt"
	ckptTemp    = "index.ckpt.tmp"
	ckptMagic   = "TJCK"
	ckptVersion = 1
)

type position struct {
	seg uint64
	off int64
}

type ckptEntry struct {
	key string
	l   loc
}

// Checkpoint writes the index to disk, then removes the oldest segments
// that nothing live refers to any more. The journal's lock is held only to
// copy the index; the file is written without it.
func (j *Journal) Checkpoint() error {
	j.ckptMu.Lock()
	defer j.ckptMu.Unlock()
	return j.checkpointLocked()
}

func (j *Journal) checkpointLocked() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	pos := position{j.active.id, j.off}
	entries := make([]ckptEntry, 0, len(j.index))
	for k, l := range j.index {
		entries = append(entries, ckptEntry{k, l})
	}
	dead := j.deadPrefixLocked()
	active := j.active.f
	direct := j.direct
	j.sinceCk = 0
	j.lastCk = time.Now()
	j.mu.Unlock()

	// The position must be durable before a checkpoint may claim it: in
	// direct mode every write already is; through the page cache, sync.
	// Older segments were synced when the journal rolled past them.
	if !direct {
		if err := fdatasync(active); err != nil {
			return fmt.Errorf("journal: checkpoint: %w", err)
		}
	}
	size, err := j.writeCheckpoint(pos, entries)
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.ckptSize = size
	j.stats.Checkpoints++
	j.mu.Unlock()
	j.removeSegments(dead)
	return nil
}

// deadPrefixLocked counts the oldest segments (never the active one) that
// hold nothing live.
func (j *Journal) deadPrefixLocked() int {
	n := 0
	for n < len(j.segs)-1 && j.segs[n].live == 0 {
		n++
	}
	return n
}

// removeSegments drops the n oldest segments (all dead), keeping the
// first as the spare. ckptMu is held.
func (j *Journal) removeSegments(n int) {
	if n == 0 {
		return
	}
	j.readMu.Lock()
	defer j.readMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	for range n {
		if len(j.segs) < 2 || j.segs[0].live != 0 {
			break
		}
		old := j.segs[0]
		j.segs = j.segs[1:]
		j.recycle(old)
		j.stats.SegmentsRemoved++
	}
	if j.noSpace {
		j.ensureSpare()
	}
}

func (j *Journal) recycle(s *segment) {
	if s.w != nil {
		s.w.Close()
	}
	if j.spare == nil && s.size == j.segSize {
		spare := filepath.Join(j.dir, fmt.Sprintf("%s%016x%s", sparePrefix, s.id, segSuffix))
		if err := os.Rename(j.segPath(s.id), spare); err == nil {
			j.spare, j.spareP, j.spareOld = s.f, spare, true
			if j.noSpace {
				j.log.Info("journal: space reserved again; accepting persistent data", "dir", j.dir)
				j.noSpace = false
			}
			return
		}
	}
	s.f.Close()
	_ = os.Remove(j.segPath(s.id))
}

func (j *Journal) writeCheckpoint(pos position, entries []ckptEntry) (int64, error) {
	tmp := filepath.Join(j.dir, ckptTemp)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, noSpace(fmt.Errorf("journal: checkpoint: %w", err))
	}
	fail := func(err error) (int64, error) {
		f.Close()
		_ = os.Remove(tmp)
		return 0, noSpace(fmt.Errorf("journal: checkpoint: %w", err))
	}
	crc := crc32.New(castagnoli)
	w := bufio.NewWriterSize(f, 1<<20)
	var n int64
	put := func(b []byte) {
		crc.Write(b)
		w.Write(b)
		n += int64(len(b))
	}
	hdr := make([]byte, 0, 64)
	hdr = append(hdr, ckptMagic...)
	hdr = append(hdr, ckptVersion)
	hdr = binary.LittleEndian.AppendUint64(hdr, pos.seg)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(pos.off))
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(len(entries)))
	put(hdr)
	var e []byte
	for _, en := range entries {
		e = binary.AppendUvarint(e[:0], uint64(len(en.key)))
		e = append(e, en.key...)
		e = binary.AppendUvarint(e, en.l.seg.id)
		e = binary.AppendUvarint(e, uint64(en.l.off))
		e = binary.AppendUvarint(e, uint64(en.l.length))
		e = binary.AppendUvarint(e, uint64(en.l.size))
		put(e)
	}
	w.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
	n += 4
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("journal: checkpoint: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(j.dir, ckptName)); err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("journal: checkpoint: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		return 0, err
	}
	return n, nil
}

// loadCheckpoint fills the index from the checkpoint file and returns the
// position to replay from. It reports false, leaving the index empty, when
// there is no checkpoint or it cannot be trusted; the caller then rebuilds
// from the whole journal.
func (j *Journal) loadCheckpoint(byID map[uint64]*segment) (position, bool) {
	path := filepath.Join(j.dir, ckptName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if len(byID) > 0 {
			j.log.Info("journal: no index checkpoint; rebuilding the index from the journal", "dir", j.dir)
		}
		return position{}, false
	}
	pos, err := j.parseCheckpoint(data, byID)
	if err != nil {
		j.log.Warn("journal: index checkpoint unusable; rebuilding the index from the journal",
			"file", path, "err", err)
		j.index = map[string]loc{}
		j.liveB = 0
		for _, s := range byID {
			s.live, s.liveBytes = 0, 0
		}
		return position{}, false
	}
	j.ckptSize = int64(len(data))
	return pos, true
}

var errCkpt = errors.New("malformed checkpoint")

func (j *Journal) parseCheckpoint(data []byte, byID map[uint64]*segment) (position, error) {
	const hdrLen = 4 + 1 + 8 + 8 + 8
	if len(data) < hdrLen+4 || string(data[:4]) != ckptMagic {
		return position{}, errCkpt
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return position{}, fmt.Errorf("%w: CRC mismatch", errCkpt)
	}
	if body[4] != ckptVersion {
		return position{}, fmt.Errorf("%w: version %d", errCkpt, body[4])
	}
	pos := position{binary.LittleEndian.Uint64(body[5:13]), int64(binary.LittleEndian.Uint64(body[13:21]))}
	count := binary.LittleEndian.Uint64(body[21:29])
	if byID[pos.seg] == nil || pos.off < 0 || pos.off > byID[pos.seg].size {
		return position{}, fmt.Errorf("%w: position segment %d is not in the journal", errCkpt, pos.seg)
	}
	if count > uint64(len(body)) {
		return position{}, fmt.Errorf("%w: %d keys in %d bytes", errCkpt, count, len(body))
	}
	j.index = make(map[string]loc, count)
	p := body[hdrLen:]
	next := func() uint64 {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			p = nil
			return 0
		}
		p = p[n:]
		return v
	}
	for i := uint64(0); i < count; i++ {
		kl := next()
		if p == nil || uint64(len(p)) < kl {
			return position{}, errCkpt
		}
		key := string(p[:kl])
		p = p[kl:]
		segID, off, length, size := next(), next(), next(), next()
		if p == nil && i+1 < count {
			return position{}, errCkpt
		}
		s := byID[segID]
		if s == nil || segID > pos.seg || off+length > uint64(s.size) || length > maxRecord || size > maxRecord {
			return position{}, fmt.Errorf("%w: key at segment %d offset %d is not in the journal", errCkpt, segID, off)
		}
		l := loc{seg: s, off: int64(off), length: int32(length), size: int32(size)}
		j.index[key] = l
		s.live++
		s.liveBytes += int64(size)
		j.liveB += int64(size)
	}
	if len(p) != 0 {
		return position{}, fmt.Errorf("%w: %d trailing bytes", errCkpt, len(p))
	}
	if uint64(len(j.index)) != count {
		return position{}, fmt.Errorf("%w: a key listed twice", errCkpt)
	}
	return pos, nil
}

func removeFile(dir, name string) error {
	if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDir(dir)
}
