package network

import (
	"context"
	"net/url"
	"sync"

	"github.com/tethermq/tether/failover/session"
)

// sessionTap wraps the client SDK's STOMP adapter to keep the session it
// dials. The bridge's connection never reconnects (the connector makes a
// new bridge instead), so that session is the connection for the bridge's
// whole life, and the forwarder sends on it directly: a write returns at
// once and the receipt is awaited separately, which lets sends overlap in
// order. client.Conn.Send waits for each receipt before the next write.
type sessionTap struct {
	inner session.Dialer
	mu    sync.Mutex
	last  session.Session
}

func (t *sessionTap) Check(u *url.URL) error { return t.inner.Check(u) }

func (t *sessionTap) Dial(ctx context.Context, target session.Target) (session.Session, error) {
	s, err := t.inner.Dial(ctx, target)
	if err == nil {
		t.mu.Lock()
		t.last = s
		t.mu.Unlock()
	}
	return s, err
}

// sess is the bridge's live STOMP session.
func (b *bridge) sess() session.Session {
	b.tap.mu.Lock()
	defer b.tap.mu.Unlock()
	return b.tap.last
}
