package network

import (
	"context"
	"sync"
	"time"
)

// link keeps one bridge to one remote (a broker, or a master/slave list)
// alive: it runs a bridge, and when the bridge ends it waits the reconnect
// delay and runs a new one, until its context ends.
type link struct {
	c      *Connector
	key    string
	uri    string // the client URI the bridge dials
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	remote string
	since  time.Time
}

func (l *link) run(ctx context.Context) {
	bo := newBackoff(l.c.tgt.retry)
	log := l.c.log.With("link", l.key)
	for {
		started := time.Now()
		upFor, err := runBridge(ctx, l)
		if ctx.Err() != nil {
			return
		}
		wait, again := bo.failed(upFor)
		if !again {
			log.Error("network bridge gave up: maxReconnectAttempts reached", "uri", l.uri, "err", err)
			return
		}
		if upFor > 0 {
			log.Warn("network bridge down; re-establishing", "in", wait, "upFor", time.Since(started).Round(time.Millisecond), "err", err)
		} else {
			log.Info("network bridge could not be established; retrying", "in", wait, "uri", l.uri, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (l *link) setRemote(name string) {
	l.mu.Lock()
	l.remote = name
	if name != "" {
		l.since = time.Now()
	}
	l.mu.Unlock()
}

func (l *link) info() BridgeInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	bi := BridgeInfo{Link: l.key, Remote: l.remote}
	if l.remote != "" {
		bi.Since = l.since
	}
	return bi
}
