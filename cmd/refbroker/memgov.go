package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/tethermq/tether/server"
)

// governMemory keeps the Go runtime's soft memory limit at
// max(memoryLimit + 64 MiB, twice the live heap), re-read every 2 s, unless
// GOMEMLIMIT is set. Twice the live heap is where the collector (GOGC=100)
// would start a cycle anyway. Without a limit the collector lets the heap grow to
// twice the live data, so RSS after a burst of messages stays far above
// what the broker holds. A fixed limit is wrong the other way: the broker's
// own state (the store's index of what is on disk, duplicate-detection
// windows) grows with use, and a limit below the live heap makes the
// collector run without pause (measured: throughput halved over a
// benchmark sequence). The limit is soft: nothing fails above it.
func governMemory(ctx context.Context, cfg server.Config, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	base := int64(cfg.MemoryLimit)
	if base <= 0 {
		base = 64 << 20
	}
	base += 64 << 20 // buffers and the runtime
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := int64(0)
	set := func() {
		metrics.Read(sample)
		limit := base
		if sample[0].Value.Kind() == metrics.KindUint64 {
			limit = max(base, 2*int64(sample[0].Value.Uint64()))
		}
		// Move in steps of 1/8 or more, so that the limit does not follow
		// every small change of the live heap.
		if current == 0 || limit > current+current/8 || limit < current-current/8 {
			debug.SetMemoryLimit(limit)
			log.Debug("runtime soft memory limit", "bytes", limit, "liveHeap", sample[0].Value.Uint64())
			current = limit
		}
	}
	set()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			set()
		}
	}
}
