package failover

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/tethermq/tether/failover/session"
)

// errFailback is the Interrupted cause when a connection is given up for a
// priority broker.
var errFailback = errors.New("moving back to a priority broker")

// candidate is a handshaken session offered to the supervisor.
type candidate struct {
	sess session.Session
	uri  *url.URL
}

// supervise owns the connection: it waits for the current generation to die
// (or for a priority broker to answer), then reconnects and restores. It is
// the only goroutine that retires and publishes generations.
func (c *Conn) supervise(g *generation) {
	defer c.wg.Done()
	for {
		var next *candidate
		select {
		case <-g.sess.Done():
		case cand := <-c.switchCh:
			if c.conn.isPriority(g.uri) {
				closeQuietly(cand.sess, c.opts.ConnectTimeout) // already there
				continue
			}
			next = &cand
		case <-c.stopCtx.Done():
			return
		}
		if next != nil {
			c.interrupt(g, errFailback)
			ctx, cancel := context.WithTimeout(c.stopCtx, c.opts.ConnectTimeout)
			_ = g.sess.Close(ctx) // its DISCONNECT receipt settles every earlier confirmation
			cancel()
		} else {
			c.interrupt(g, g.sess.Err())
			sess, uri, err := c.conn.connect(c.stopCtx, false, g.uri)
			if err != nil {
				if c.stopCtx.Err() == nil {
					c.setFatal(err)
				}
				return
			}
			next = &candidate{sess, uri}
		}
		ng, err := c.activate(next.sess, next.uri)
		if err != nil {
			if c.stopCtx.Err() != nil {
				return
			}
			c.log.Warn("failover: restore failed, reconnecting", "uri", redact(next.uri), "err", err)
		}
		g = ng
	}
}

// interrupt retires g and reports it.
func (c *Conn) interrupt(g *generation, cause error) {
	if !c.retire(g) {
		return
	}
	if cause == nil {
		cause = session.ErrConnectionLost
	}
	c.log.Warn("failover: connection interrupted", "uri", redact(g.uri), "err", cause)
	c.emit(Event{Kind: EventInterrupted, URI: redact(g.uri), Err: cause})
}

// retire takes g out of service: operations stop using it, acks in flight
// on it become in doubt, and messages it delivered that the application has
// not taken yet are dropped (the broker redelivers them). It reports false
// if g was already retired.
func (c *Conn) retire(g *generation) bool {
	c.mu.Lock()
	if g.retired {
		c.mu.Unlock()
		return false
	}
	g.retired = true
	if c.live == g {
		c.live = nil
	}
	subs := c.subList()
	c.broadcast()
	c.mu.Unlock()
	for _, s := range subs {
		s.interrupted(g)
	}
	return true
}

// activate restores the tracked state on a new session and publishes it.
// The returned generation is never nil; on error it is already retired and
// its session closed, so that the supervisor reconnects at once.
func (c *Conn) activate(sess session.Session, uri *url.URL) (*generation, error) {
	c.mu.Lock()
	c.lastGen++
	g := &generation{id: c.lastGen, sess: sess, uri: uri}
	first := c.lastGen == 1
	c.mu.Unlock()

	resent, err := c.restore(g)
	for err == nil {
		// Sends made with SendAsync while the restore ran are written
		// before g is published, after everything the restore re-sent:
		// call order holds across the failover.
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			err = ErrClosed
			break
		}
		late := c.unsentAsync(g)
		if len(late) == 0 {
			c.live = g
			c.broadcast()
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		for _, p := range late {
			if err = c.step(func(ctx context.Context) error { return c.writeAsync(ctx, g, p) }); err != nil {
				break
			}
		}
	}
	if err != nil {
		c.retire(g)
		closeQuietly(sess, c.opts.ConnectTimeout)
		return g, err
	}
	if !first {
		c.stats.reconnects.Add(1)
		if resent > 0 {
			c.stats.resent.Add(uint64(resent))
			c.emit(Event{Kind: EventResent, URI: redact(uri), Count: resent})
		}
		c.log.Info("failover: connection resumed", "uri", redact(uri), "resent", resent)
		c.emit(Event{Kind: EventResumed, URI: redact(uri)})
	} else {
		c.log.Info("failover: connected", "uri", redact(uri))
	}
	c.standby.changed()
	return g, nil
}

// restore re-creates every established subscription with its options, then
// re-sends every send that was written but not confirmed (same duplicate
// id, original order), then the trackMessages cache. Each step is bounded by
// connectTimeout: a broker that completes the handshake but then stops
// answering is treated as a failed connection.
func (c *Conn) restore(g *generation) (int, error) {
	c.mu.Lock()
	subs := c.subList()
	pending := c.pendingList()
	g.horizon = c.ids.Load()
	c.mu.Unlock()

	step := c.step
	for _, s := range subs {
		if !s.isEstablished() {
			continue
		}
		err := step(func(ctx context.Context) error { return g.subscribe(ctx, s) })
		var refused *session.BrokerError
		switch {
		case err == nil:
		case errors.As(err, &refused):
			// The broker will not take this subscription back (for example
			// a durable subscription now held elsewhere): end it visibly
			// rather than fail the whole connection over and over.
			s.close(fmt.Errorf("failover: re-subscribing %s: %w", s.spec.Destination, err))
		default:
			return 0, fmt.Errorf("re-subscribing %s: %w", s.spec.Destination, err)
		}
	}
	resent := 0
	for _, p := range pending {
		c.mu.Lock()
		attempted, finished := p.attempted, p.finished
		c.mu.Unlock()
		if p.async != nil {
			if finished {
				continue
			}
			if err := step(func(ctx context.Context) error { return c.writeAsync(ctx, g, p) }); err != nil {
				return 0, err
			}
			if attempted {
				resent++
			}
			continue
		}
		if !attempted {
			continue
		}
		err := step(func(ctx context.Context) error { _, err := g.send(ctx, p); return err })
		var refused *session.BrokerError
		switch {
		case err == nil:
			resent++
		case errors.As(err, &refused), errors.Is(err, session.ErrUnsupported):
			// Never re-send it again; its caller reports the refusal.
			c.mu.Lock()
			p.refused = err
			c.mu.Unlock()
		default:
			return 0, fmt.Errorf("re-sending %s: %w", p.msg.DuplicateID, err)
		}
	}
	for _, m := range c.cache.snapshot() {
		if err := step(func(ctx context.Context) error { _, err := g.sess.Send(ctx, m); return err }); err != nil && lost(err) {
			return 0, fmt.Errorf("re-sending tracked %s: %w", m.DuplicateID, err)
		}
		resent++
	}
	return resent, nil
}

// step runs one restore step, bounded by connectTimeout.
func (c *Conn) step(fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(c.stopCtx, c.opts.ConnectTimeout)
	defer cancel()
	return fn(ctx)
}

// setFatal records that reconnecting gave up: every waiting and later
// operation fails with err and every subscription ends.
func (c *Conn) setFatal(err error) {
	c.mu.Lock()
	c.fatal = err
	subs := c.subList()
	c.broadcast()
	c.mu.Unlock()
	for _, s := range subs {
		s.close(err)
	}
	c.failAsync(err)
	c.log.Error("failover: giving up", "err", err)
	c.emit(Event{Kind: EventFailed, Err: err})
}
