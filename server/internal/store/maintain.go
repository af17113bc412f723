package store

import (
	"bufio"
	"encoding/binary"
	"io"
	"time"
)

// background runs the journal's maintenance until Close: compaction, the
// checkpoint when enough was appended or enough time passed, and the space
// reserve. Owned by the Journal; Close stops it.
func (j *Journal) background() {
	defer close(j.bgDone)
	t := time.NewTicker(j.opts.MaintenanceInterval)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
		case <-j.kick:
		}
		j.maintain()
	}
}

func (j *Journal) maintain() {
	j.ckptMu.Lock()
	defer j.ckptMu.Unlock()
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return
	}
	j.ensureSpare()
	noSpace := j.noSpace
	j.mu.Unlock()
	for range 4 { // bounded per pass, so a checkpoint is never starved
		moved, err := j.compactLocked(noSpace)
		if err != nil {
			j.log.Error("journal: compaction failed", "dir", j.dir, "err", err)
			break
		}
		if !moved {
			break
		}
	}
	j.mu.Lock()
	dead := j.deadPrefixLocked()
	due := j.sinceCk >= j.opts.CheckpointBytes ||
		(j.sinceCk > 0 || dead > 0) && time.Since(j.lastCk) >= j.opts.CheckpointInterval ||
		dead > 0 && time.Since(j.lastCk) >= time.Second
	j.mu.Unlock()
	if !due && !(noSpace && dead > 0) {
		return
	}
	if err := j.checkpointLocked(); err != nil {
		j.log.Error("journal: checkpoint failed", "dir", j.dir, "err", err)
		if noSpace && dead > 0 {
			// No room for a new checkpoint, and dead segments are what
			// would make room: drop the old checkpoint (the next Open
			// rebuilds from the journal, which stays consistent because
			// only the oldest segments go) and free them now.
			j.dropCheckpoint()
			j.removeSegments(dead)
		}
	}
}

// Compact moves the live keys of the oldest segment that still has any to
// the end of the journal, when that is what keeps disk use in proportion to
// live data, and removes what became free. It reports whether it moved
// anything.
func (j *Journal) Compact() (bool, error) {
	j.ckptMu.Lock()
	defer j.ckptMu.Unlock()
	moved, err := j.compactLocked(false)
	if err != nil || !moved {
		return moved, err
	}
	return true, j.checkpointLocked()
}

// compactionTarget: disk use may exceed live data by this factor (plus the
// active segment and the reserve) before the oldest segment is rewritten.
const compactionSlackNum, compactionSlackDen = 5, 4

// candidateLocked picks the segment to compact: the oldest one with live
// keys, when it is mostly dead (cheap to move) or when the journal as a
// whole holds too much dead data behind it.
//
// On a full disk the moves go to the reserve, so only a mostly-dead segment
// qualifies: moving it costs little of the reserve and frees a whole file
// (typically the oldest one, pinned by a few long-lived keys such as the
// broker's epoch, while its messages were all consumed).
func (j *Journal) candidateLocked(reserveOnly bool) *segment {
	for i, s := range j.segs[:len(j.segs)-1] {
		if s.live == 0 {
			continue
		}
		if !s.sealed.IsZero() && time.Since(s.sealed) < j.opts.CompactionDelay {
			return nil // recent: what is live in it is likely about to be acknowledged
		}
		if reserveOnly {
			if s.liveBytes*8 < s.size {
				return s
			}
			return nil
		}
		// Only while disk use is out of proportion to the live data: moving
		// keys rewrites them next to new messages, whose file soon empties
		// again, so compacting eagerly would move long-lived keys (such as
		// duplicate-detection ids) over and over.
		u := j.usageLocked()
		overhead := 2 * j.segSize // the active segment and the reserve
		if u.DiskBytes-j.ckptSize <= u.LiveBytes*compactionSlackNum/compactionSlackDen+overhead {
			return nil
		}
		// Then a file worth moving: one that frees a tenth of a file or more
		// by itself, or one that pins more dead space behind it than it
		// holds live data (a file that is all live only makes way: moving
		// it costs what it holds and lets the files behind it be compacted
		// and removed in turn). What stays at rest is within the larger of
		// 1.25x the live data and the live data plus 1.1 files.
		if s.size-s.liveBytes >= s.size/10 {
			return s
		}
		var deadBehind int64
		for _, x := range j.segs[i+1 : len(j.segs)-1] {
			deadBehind += x.size - x.liveBytes
		}
		if deadBehind > s.liveBytes {
			return s
		}
		return nil
	}
	return nil
}

// compactLocked relocates one segment's live keys (ckptMu held). The
// segment is immutable (not active) and cannot be removed while ckptMu is
// held, so it is read without the journal's lock; each chunk of keys is
// re-appended under the lock, skipping keys changed or deleted meanwhile.
func (j *Journal) compactLocked(reserveOnly bool) (bool, error) {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return false, ErrClosed
	}
	s := j.candidateLocked(reserveOnly)
	j.mu.Unlock()
	if s == nil {
		return false, nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, s.size), 1<<20)
	hdr := make([]byte, recHeader)
	var chunk []recOp
	var chunkBytes int
	var moved int64
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		if j.closed {
			return ErrClosed
		}
		keep := chunk[:0]
		for _, op := range chunk {
			if l, ok := j.index[string(op.key)]; ok && l.seg == s && l.off == int64(op.valOff) {
				keep = append(keep, op)
			}
		}
		if len(keep) > 0 {
			if err := j.appendLocked(keep, false); err != nil {
				return err
			}
			for _, op := range keep {
				moved += int64(opSize(op))
			}
		}
		chunk, chunkBytes = chunk[:0], 0
		return nil
	}
	var off int64
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			break
		}
		length := binary.LittleEndian.Uint32(hdr[0:4])
		if binary.LittleEndian.Uint64(hdr[8:16]) != s.id || length < recHeader || length > maxRecord {
			break
		}
		rec := make([]byte, length)
		copy(rec, hdr)
		if _, err := io.ReadFull(r, rec[recHeader:]); err != nil {
			break
		}
		n, ops, ok := parseRecord(rec, s.id)
		if !ok {
			break
		}
		for _, op := range ops {
			if op.kind != opSet {
				continue
			}
			op.valOff += int(off) // absolute, to compare with the index
			chunk = append(chunk, op)
			chunkBytes += len(op.key) + len(op.val)
		}
		off += int64(n)
		if chunkBytes >= 1<<20 {
			if err := flush(); err != nil {
				return false, err
			}
		}
	}
	if err := flush(); err != nil {
		return false, err
	}
	j.mu.Lock()
	j.stats.SegmentsRelocated++
	j.stats.BytesRelocated += moved
	left := s.live
	j.mu.Unlock()
	if left != 0 {
		// Keys whose values could not be read back would stay pinned; the
		// segment is simply kept.
		j.log.Warn("journal: compaction left live keys behind", "segment", s.id, "keys", left)
		return false, nil
	}
	return true, nil
}

func (j *Journal) dropCheckpoint() {
	_ = removeFile(j.dir, ckptName)
	j.mu.Lock()
	j.ckptSize = 0
	j.mu.Unlock()
}
