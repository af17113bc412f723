package failover

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/tethermq/tether/failover/session"
)

// pendingSend is a confirmed send that the broker has not confirmed yet.
// The state tracker re-sends it after a reconnect if it was attempted.
type pendingSend struct {
	seq uint64
	msg *session.Outgoing
	// attempted and refused are guarded by Conn.mu. attempted: it may be on
	// the wire, so a new connection must re-send it. refused: the broker
	// rejected it during a restore; the caller gets this error.
	attempted bool
	refused   error
	// async is set for a SendAsync send. sentOn (the id of the generation
	// it was last written on) and finished are guarded by Conn.mu.
	async    *AsyncSend
	sentOn   uint64
	finished bool
}

func (p *pendingSend) key() string { return "send:" + strconv.FormatUint(p.seq, 10) }

// idPrefix makes this process's duplicate ids unique among producers: 96
// random bits drawn once, so that each id costs a counter increment rather
// than a read from the system's random source.
var (
	idPrefix = func() string {
		var b [12]byte
		_, _ = rand.Read(b[:])
		return "tether-" + hex.EncodeToString(b[:]) + "-"
	}()
	idCounter atomic.Uint64
)

// NewDuplicateID returns a fresh id for session.Outgoing.DuplicateID,
// unique across processes and within this one.
func NewDuplicateID() string {
	return idPrefix + strconv.FormatUint(idCounter.Add(1), 10)
}

// Send sends m. With m.Confirm it returns once the broker confirmed the
// message, re-sending it with the same duplicate id on every new connection
// until then; without, it returns once the message is written (and, with
// trackMessages, keeps it for re-sending after a reconnect).
//
// While disconnected it waits for the next connection, bounded by ctx and
// the timeout option (ErrTimeout, ErrDisconnected). If ctx ends after the
// message may have reached the broker, the error is an *InDoubtError.
func (c *Conn) Send(ctx context.Context, m *session.Outgoing) error {
	if m.Tx != "" {
		return errors.New("failover: a transactional send goes through Tx.Send")
	}
	if m.DuplicateID == "" {
		m.DuplicateID = NewDuplicateID()
	}
	if !m.Confirm {
		return c.sendUnconfirmed(ctx, m)
	}
	p := &pendingSend{seq: c.ids.Add(1), msg: m}
	c.mu.Lock()
	c.sends[p.seq] = p
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.sends, p.seq)
		c.mu.Unlock()
	}()

	var g *generation
	for {
		next, err := c.nextLive(ctx, g)
		if err != nil {
			return c.sendFailed(p, err)
		}
		if g != nil {
			g.forget(p)
		}
		g = next
		ok, refused := c.markAttempted(g, p)
		if refused != nil {
			return c.sendFailed(p, refused)
		}
		if !ok {
			continue
		}
		v, err := g.send(ctx, p)
		if err != nil {
			if lost(err) {
				continue
			}
			return c.sendFailed(p, err)
		}
		select {
		case err := <-v:
			if err == nil {
				g.forget(p)
				c.stats.sent.Add(1)
				return nil
			}
			if lost(err) {
				continue
			}
			g.forget(p)
			return fmt.Errorf("failover: send to %s: %w", m.Destination, err)
		case <-ctx.Done():
			g.forget(p)
			return c.sendFailed(p, ctx.Err())
		}
	}
}

// markAttempted records that p is about to be written on g, unless g was
// retired meanwhile (then the caller moves on to the next generation, whose
// restore may already have re-sent p) or a restore found the broker refusing
// p (then the caller reports that).
func (c *Conn) markAttempted(g *generation, p *pendingSend) (ok bool, refused error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.refused != nil {
		return false, p.refused
	}
	if g.retired {
		return false, nil
	}
	p.attempted = true
	return true, nil
}

// sendFailed shapes the error of a confirmed send that gave up.
func (c *Conn) sendFailed(p *pendingSend, err error) error {
	c.mu.Lock()
	attempted, refused := p.attempted, p.refused
	c.mu.Unlock()
	if refused != nil {
		return fmt.Errorf("failover: send to %s: %w", p.msg.Destination, refused)
	}
	var be *session.BrokerError
	if attempted && !errors.As(err, &be) && !errors.Is(err, session.ErrUnsupported) {
		return &InDoubtError{DuplicateID: p.msg.DuplicateID, Err: err}
	}
	return fmt.Errorf("failover: send to %s: %w", p.msg.Destination, err)
}

// send writes p on g once, however many goroutines ask, and returns the
// confirmation channel shared by all of them. Only one goroutine (the
// sender) reads from it.
func (g *generation) send(ctx context.Context, p *pendingSend) (session.Confirmation, error) {
	if p.seq > g.horizon {
		return g.sess.Send(ctx, p.msg)
	}
	v, err := g.memo.do(p.key(), func() (any, error) {
		return g.sess.Send(ctx, p.msg)
	})
	if err != nil {
		return nil, err
	}
	return v.(session.Confirmation), nil
}

// forget drops what the memo holds for p on g.
func (g *generation) forget(p *pendingSend) {
	if p.seq <= g.horizon {
		g.memo.forget(p.key())
	}
}

// sendUnconfirmed writes m on the live connection, moving to the next one if
// the write fails because the connection died.
func (c *Conn) sendUnconfirmed(ctx context.Context, m *session.Outgoing) error {
	var g *generation
	for {
		next, err := c.nextLive(ctx, g)
		if err != nil {
			return fmt.Errorf("failover: send to %s: %w", m.Destination, err)
		}
		g = next
		if _, err := g.sess.Send(ctx, m); err != nil {
			if lost(err) {
				continue
			}
			return fmt.Errorf("failover: send to %s: %w", m.Destination, err)
		}
		if c.opts.TrackMessages {
			c.cache.add(m)
		}
		c.stats.sent.Add(1)
		return nil
	}
}

// pendingList returns the pending sends in the order they were made. Call
// with c.mu held.
func (c *Conn) pendingList() []*pendingSend {
	list := make([]*pendingSend, 0, len(c.sends))
	for _, p := range c.sends {
		if p.refused == nil {
			list = append(list, p)
		}
	}
	slices.SortFunc(list, func(a, b *pendingSend) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return list
}
