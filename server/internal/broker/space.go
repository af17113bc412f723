package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tethermq/tether/server/internal/store"
)

// ErrStoreFull is wrapped by a persistent send refused because the store
// reached its limit (storeUsage) or the disk is full.
var ErrStoreFull = errors.New("persistent store is full")

// spaceGate is flow control on the store (ActiveMQ's storeUsage): it polls
// the store's usage and holds persistent sends while the limit is reached,
// failing them after failAfter if set. A full disk fails them at once: the
// store has only its reserve left, kept for acknowledgements and
// compaction, which is how the broker keeps serving consumers and frees
// the space that lets it accept sends again.
//
// Polling (every pollInterval) rather than asking the store on every send
// keeps the store's lock off the producers' path; the cost is that the
// limit can be overshot by what is written in one interval.
type spaceGate struct {
	st        store.Store
	limit     int64
	failAfter time.Duration
	log       *slog.Logger

	// For metrics: sends waiting for store space now, every send that had
	// to wait, every send refused for lack of space.
	blocked      atomic.Int64
	waitedTotal  atomic.Uint64
	refusedTotal atomic.Uint64

	mu      sync.Mutex
	state   spaceState
	usage   store.Usage
	free    chan struct{} // closed when the state returns to spaceOK
	stop    chan struct{}
	stopped chan struct{}
}

type spaceState int

const (
	spaceOK spaceState = iota
	spaceOverLimit
	spaceNoDisk
)

const pollInterval = 100 * time.Millisecond

func newSpaceGate(st store.Store, limit int64, failAfter time.Duration, log *slog.Logger) *spaceGate {
	g := &spaceGate{st: st, limit: limit, failAfter: failAfter, log: log,
		free: make(chan struct{}), stop: make(chan struct{}), stopped: make(chan struct{})}
	g.poll()
	go g.run()
	return g
}

func (g *spaceGate) run() {
	defer close(g.stopped)
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			g.poll()
		}
	}
}

func (g *spaceGate) close() {
	close(g.stop)
	<-g.stopped
}

func (g *spaceGate) poll() {
	u := g.st.Usage()
	state := spaceOK
	switch {
	case u.NoSpace:
		state = spaceNoDisk
	case g.limit > 0 && u.DiskBytes >= g.limit:
		state = spaceOverLimit
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.usage = u
	if state == g.state {
		return
	}
	switch state {
	case spaceOverLimit:
		g.log.Warn("store usage limit reached: persistent producers wait (storeUsage)",
			"limit", g.limit, "used", u.DiskBytes, "live", u.LiveBytes)
	case spaceNoDisk:
		g.log.Error("disk full: persistent sends are refused until space is freed", "used", u.DiskBytes)
	case spaceOK:
		g.log.Info("store has space again: persistent producers resume", "used", u.DiskBytes)
		close(g.free)
		g.free = make(chan struct{})
	}
	g.state = state
}

// wait returns once a persistent send to dest may go to the store.
func (g *spaceGate) wait(ctx context.Context, dest Destination) error {
	var deadline <-chan time.Time
	start := time.Now()
	waited := false
	for {
		g.mu.Lock()
		state, free, u := g.state, g.free, g.usage
		g.mu.Unlock()
		switch state {
		case spaceOK:
			return nil
		case spaceNoDisk:
			g.refusedTotal.Add(1)
			return fmt.Errorf("send to %s: %w: no space left on the store's disk (%s used); not stored",
				dest, ErrStoreFull, FormatBytes(u.DiskBytes))
		}
		if !waited {
			waited = true
			g.waitedTotal.Add(1)
			g.blocked.Add(1)
			defer g.blocked.Add(-1)
		}
		if g.failAfter > 0 && deadline == nil {
			t := time.NewTimer(g.failAfter - time.Since(start))
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-free:
		case <-deadline:
			g.refusedTotal.Add(1)
			return fmt.Errorf("send to %s: %w: storeUsage limit %s reached (%s used); waited %s (sendFailIfNoSpaceAfterTimeout); not stored",
				dest, ErrStoreFull, FormatBytes(g.limit), FormatBytes(u.DiskBytes), g.failAfter)
		case <-ctx.Done():
			return fmt.Errorf("send to %s: waiting for store space (storeUsage limit %s): %w", dest, FormatBytes(g.limit), ctx.Err())
		}
	}
}

// StoreFlowControl reports the flow control on store space (storeUsage and
// a full disk): persistent sends waiting now, every send that had to wait,
// and every send refused (a full disk, or sendFailIfNoSpaceAfterTimeout).
func (b *Broker) StoreFlowControl() (waiting int64, waitedTotal, refusedTotal uint64) {
	return b.space.blocked.Load(), b.space.waitedTotal.Load(), b.space.refusedTotal.Load()
}

// FormatBytes renders a byte count as operators read it (B, KiB, MiB, GiB),
// in refusals and on the console.
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// StoreUsage is the store's footprint, for the admin API and metrics.
func (b *Broker) StoreUsage() store.Usage {
	b.space.mu.Lock()
	defer b.space.mu.Unlock()
	return b.space.usage
}
