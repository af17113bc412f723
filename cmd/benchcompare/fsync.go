package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// fsyncRate is what one write+fdatasync loop measured.
type fsyncRate struct {
	WriteBytes int
	Syncs      int
	PerSecond  float64
	P50, P99   time.Duration
}

// fsyncFileSize is the preallocated file the loop overwrites, wrapping
// around: like a journal with preallocated segments, each fdatasync then
// flushes data only, not a growing file size.
const fsyncFileSize = 16 << 20

// measureFsync writes writeBytes at successive offsets of a preallocated
// file in dir and fdatasyncs after each write, one at a time, for about d.
func measureFsync(ctx context.Context, dir string, writeBytes int, d time.Duration) (fsyncRate, error) {
	res := fsyncRate{WriteBytes: writeBytes}
	if writeBytes <= 0 || writeBytes > fsyncFileSize {
		return res, fmt.Errorf("fsync: write size %d out of range", writeBytes)
	}
	f, err := os.CreateTemp(dir, "fsync-*.dat")
	if err != nil {
		return res, fmt.Errorf("fsync: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := preallocate(f); err != nil {
		return res, err
	}
	buf := make([]byte, writeBytes)
	for i := range buf {
		buf[i] = byte(i)
	}
	var lat []float64
	start := time.Now()
	off := int64(0)
	for time.Since(start) < d && ctx.Err() == nil {
		if off+int64(writeBytes) > fsyncFileSize {
			off = 0
		}
		t := time.Now()
		if _, err := f.WriteAt(buf, off); err != nil {
			return res, fmt.Errorf("fsync: write %s: %w", filepath.Base(f.Name()), err)
		}
		if err := fdatasync(f); err != nil {
			return res, fmt.Errorf("fsync: fdatasync: %w", err)
		}
		lat = append(lat, time.Since(t).Seconds())
		off += int64(writeBytes)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("fsync: %w", err)
	}
	res.Syncs = len(lat)
	res.PerSecond = float64(len(lat)) / time.Since(start).Seconds()
	res.P50 = time.Duration(quantile(lat, 0.5) * float64(time.Second))
	res.P99 = time.Duration(quantile(lat, 0.99) * float64(time.Second))
	return res, nil
}

// preallocate fills the file with zeros and syncs it, so that the loop
// overwrites allocated blocks.
func preallocate(f *os.File) error {
	chunk := make([]byte, 1<<20)
	for off := int64(0); off < fsyncFileSize; off += int64(len(chunk)) {
		if _, err := f.WriteAt(chunk, off); err != nil {
			return fmt.Errorf("fsync: preallocate: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync: preallocate: %w", err)
	}
	return nil
}

// combine summarises repeated measurements: the median of each figure.
func combine(rs []fsyncRate) fsyncRate {
	if len(rs) == 0 {
		return fsyncRate{}
	}
	var rate, p50, p99 []float64
	out := fsyncRate{WriteBytes: rs[0].WriteBytes}
	for _, r := range rs {
		rate = append(rate, r.PerSecond)
		p50 = append(p50, r.P50.Seconds())
		p99 = append(p99, r.P99.Seconds())
		out.Syncs += r.Syncs
	}
	out.PerSecond = median(rate)
	out.P50 = time.Duration(median(p50) * float64(time.Second))
	out.P99 = time.Duration(median(p99) * float64(time.Second))
	return out
}
