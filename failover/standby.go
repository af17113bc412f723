package failover

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/tethermq/tether/failover/session"
)

// standby is a handshaken connection kept ready for an instant switch.
type standby struct {
	sess session.Session
	uri  *url.URL
}

// standbyPool holds the connections of backup=true. A nil pool is empty.
type standbyPool struct {
	mu      sync.Mutex
	members []*standby
	wake    chan struct{}
}

func newStandbyPool() *standbyPool { return &standbyPool{wake: make(chan struct{}, 1)} }

// take removes and returns a live standby, or nil.
func (p *standbyPool) take() *standby {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.members) > 0 {
		sb := p.members[0]
		p.members = p.members[1:]
		select {
		case <-sb.sess.Done():
		default:
			return sb
		}
	}
	return nil
}

func (p *standbyPool) add(sb *standby) {
	p.mu.Lock()
	p.members = append(p.members, sb)
	p.mu.Unlock()
}

func (p *standbyPool) remove(sb *standby) {
	p.mu.Lock()
	p.members = slices.DeleteFunc(p.members, func(m *standby) bool { return m == sb })
	p.mu.Unlock()
	p.changed()
}

func (p *standbyPool) len() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.members)
}

func (p *standbyPool) has(u *url.URL) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.members {
		if sameBroker(m.uri, u) {
			return true
		}
	}
	return false
}

// changed wakes the keeper: a standby died or the connection changed.
func (p *standbyPool) changed() {
	if p == nil {
		return
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *standbyPool) closeAll(ctx context.Context) {
	if p == nil {
		return
	}
	p.mu.Lock()
	members := p.members
	p.members = nil
	p.mu.Unlock()
	for _, m := range members {
		_ = m.sess.Close(ctx)
	}
}

// keepStandby runs while backup or priorityBackup is on. With
// priorityBackup, whenever the connection is to a non-priority broker it
// probes the priority brokers (full handshake) with backoff between probes
// and hands the first that answers to the supervisor. With backup, it keeps
// backupPoolSize handshaken connections to other brokers in the pool.
func (c *Conn) keepStandby() {
	defer c.wg.Done()
	ctx := c.stopCtx
	b := newBackOff(&c.opts, c.clock)
	for {
		g, err := c.awaitLive(ctx)
		if err != nil {
			return
		}
		var delay time.Duration
		switch {
		case c.opts.PriorityBackup && !c.conn.isPriority(g.uri):
			if c.probePriority(ctx, g) {
				b.Reset()
				continue
			}
			delay = b.NextBackOff()
		case c.opts.Backup && c.standby.len() < c.opts.BackupPoolSize:
			if c.addStandby(ctx, g) {
				b.Reset()
				continue
			}
			delay = b.NextBackOff()
		default:
			b.Reset()
		}
		c.pauseStandby(ctx, g, delay)
	}
}

// pauseStandby waits d (forever if d is 0) or until the connection or the
// pool changes.
func (c *Conn) pauseStandby(ctx context.Context, g *generation, d time.Duration) {
	var timer <-chan time.Time
	if d > 0 {
		t := c.clock.NewTimer(d)
		defer t.Stop()
		timer = t.C()
	}
	select {
	case <-timer:
	case <-g.sess.Done():
	case <-c.standby.wake:
	case <-ctx.Done():
	}
}

// probePriority tries each priority broker once. A broker that answers is
// offered to the supervisor, or, if the connection died meanwhile, left in
// the pool for the reconnect loop to take.
func (c *Conn) probePriority(ctx context.Context, g *generation) bool {
	for _, u := range c.priorityList() {
		sess, err := c.conn.dial(ctx, u)
		if err != nil {
			c.log.Debug("failover: priority broker still unavailable", "uri", redact(u), "err", err)
			continue
		}
		c.log.Info("failover: priority broker answers, moving back", "uri", redact(u))
		select {
		case c.switchCh <- candidate{sess, u}:
			// Probe no more until the supervisor has retired g.
			select {
			case <-g.sess.Done():
			case <-ctx.Done():
			}
		case <-g.sess.Done():
			c.standby.add(&standby{sess, u})
		case <-ctx.Done():
			closeQuietly(sess, c.opts.ConnectTimeout)
			return false
		}
		return true
	}
	return false
}

// priorityList is what probePriority tries: priorityURIs, or the first broker.
func (c *Conn) priorityList() []*url.URL {
	if len(c.opts.PriorityURIs) > 0 {
		return c.opts.PriorityURIs
	}
	return c.spec.Brokers[:1]
}

// addStandby connects one more standby to a broker that is neither the
// current one nor already in the pool.
func (c *Conn) addStandby(ctx context.Context, g *generation) bool {
	for _, u := range c.conn.connectList(ctx, g.uri) {
		if sameBroker(u, g.uri) || c.standby.has(u) {
			continue
		}
		sess, err := c.conn.dial(ctx, u)
		if err != nil {
			c.log.Debug("failover: standby connect failed", "uri", redact(u), "err", err)
			continue
		}
		sb := &standby{sess, u}
		c.standby.add(sb)
		c.log.Info("failover: standby connection ready", "uri", redact(u))
		c.background(func(ctx context.Context) {
			select {
			case <-sess.Done():
				c.standby.remove(sb)
			case <-ctx.Done():
			}
		})
		return true
	}
	return false
}

func closeQuietly(sess session.Session, within time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	_ = sess.Close(ctx)
}
