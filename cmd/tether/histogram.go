package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram records durations in log-linear buckets: each power of two is
// split into 128 buckets, so a quantile is reported within 1% of the true
// value whatever its magnitude, in fixed memory. Every method is safe for
// concurrent use (atomic counters), so all senders of a run share one
// histogram instead of keeping hundreds of copies to merge.
type histogram struct {
	counts [(64 - subBits + 1) << subBits]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Int64
}

// subBits is log2 of the buckets per power of two.
const subBits = 7

// bucketOf maps a value to its bucket. Values below 2^subBits have a bucket
// each; above, the top subBits+1 bits select it.
func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return (shift+1)<<subBits + int(v>>shift) - 1<<subBits
}

// bucketMid is the middle of bucket i's range, the value reported for it.
func bucketMid(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	shift := i>>subBits - 1
	low := uint64(i&(1<<subBits-1)+1<<subBits) << shift
	return low + (uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))].Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// quantile returns the value below which a fraction q of the samples lie
// (0 when there are none). The exact maximum is returned for q >= 1.
func (h *histogram) quantile(q float64) time.Duration {
	total := h.total.Load()
	if total == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max.Load())
	}
	rank := uint64(q*float64(total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(bucketMid(i)), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}
