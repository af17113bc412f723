package failover

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tethermq/tether/failover/session"
)

// DefaultSendWindow is how many asynchronous sends a Conn keeps waiting for
// their confirmation before SendAsync waits for one to complete.
const DefaultSendWindow = 1024

// Asynchronous sends share the pending-send table with Send, so that the
// state tracker re-sends them after a reconnect like any other unconfirmed
// send. What differs:
//
//   - The caller does not wait: SendAsync queues the message on the live
//     session (or, while disconnected, leaves it for the next restore) and
//     returns an *AsyncSend that completes when the broker confirmed it.
//   - Every asynchronous send is re-sent by the restore, whether or not it
//     was written before: a send made while disconnected is written by the
//     restore, in sequence order, before the new connection is published,
//     so sends from one goroutine stay in call order across a failover.
//   - One confirmer goroutine per generation reads the confirmations in the
//     order they were written. A confirmation saying the connection was lost
//     leaves the send pending; whichever generation confirms it first
//     completes it (a second confirmation, possible when a send was written
//     on both, is ignored; the broker stores its duplicate id once).
//
// Invariants (guarded by Conn.mu): an asynchronous send is in Conn.sends
// from SendAsync until it completes; it completes exactly once; and while a
// generation is live, every pending asynchronous send has been written on it
// (sentOn == its id) or is being written by the SendAsync that made it.

// AsyncSend is a confirmed send in flight, returned by Conn.SendAsync.
type AsyncSend struct {
	id   string
	done chan struct{}
	err  error // set before done is closed
}

// Done is closed once the send completed: confirmed by the broker, refused,
// or given up because the Conn closed or stopped reconnecting.
func (a *AsyncSend) Done() <-chan struct{} { return a.done }

// Err is nil while the send is in flight and after the broker confirmed it;
// otherwise it says why the send did not complete.
func (a *AsyncSend) Err() error {
	select {
	case <-a.done:
		return a.err
	default:
		return nil
	}
}

// Wait waits until the send completed and returns Err, or returns ctx's
// error (wrapped) if ctx ends first; the send itself goes on.
func (a *AsyncSend) Wait(ctx context.Context) error {
	select {
	case <-a.done:
		return a.err
	case <-ctx.Done():
		return fmt.Errorf("failover: waiting for the confirmation of %s: %w", a.id, ctx.Err())
	}
}

// DuplicateID is the id the message is (re-)sent with.
func (a *AsyncSend) DuplicateID() string { return a.id }

// SendAsync sends m with a confirmation, without waiting for it. It returns
// once m is queued on the connection, or kept for the next connection while
// disconnected; the returned AsyncSend completes when the broker confirmed
// it, after however many reconnects. At most the Config's SendWindow sends
// are in flight: SendAsync waits for a free slot, at most until ctx ends.
//
// Sends made by one goroutine reach the broker in call order, also when
// some are re-sent after a reconnect. The failover timeout option does not
// apply: a send waits for a connection as long as the Conn reconnects; bound
// the wait with AsyncSend.Wait's context.
func (c *Conn) SendAsync(ctx context.Context, m *session.Outgoing) (*AsyncSend, error) {
	if m.Tx != "" {
		return nil, errors.New("failover: a transactional send goes through Tx.Send")
	}
	if m.DuplicateID == "" {
		m.DuplicateID = NewDuplicateID()
	}
	m.Confirm = true
	select {
	case c.window <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("failover: send to %s: waiting for room in the send window: %w", m.Destination, ctx.Err())
	case <-c.stopCtx.Done():
		return nil, ErrClosed
	}
	a := &AsyncSend{id: m.DuplicateID, done: make(chan struct{})}
	p := &pendingSend{msg: m, async: a}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		<-c.window
		return nil, ErrClosed
	case c.fatal != nil:
		err := c.fatal
		c.mu.Unlock()
		<-c.window
		return nil, err
	}
	// The sequence number is taken under mu so that a restore sees every
	// send registered before its snapshot and none of the later ones.
	p.seq = c.ids.Add(1)
	c.sends[p.seq] = p
	g := c.live
	if g != nil {
		p.attempted = true
		p.sentOn = g.id
	}
	c.mu.Unlock()
	if g == nil {
		return a, nil // the next restore writes it
	}
	conf, err := g.sess.Send(ctx, m)
	switch {
	case err == nil:
		g.confirms.push(c, g, p, conf)
	case lost(err):
		// g's loss retires it before the next restore takes its snapshot,
		// which therefore holds p: it is re-sent there.
	default:
		return nil, c.finishAsync(p, c.sendFailed(p, err))
	}
	return a, nil
}

// finishAsync completes p with err, once, and frees its window slot. It
// returns err.
func (c *Conn) finishAsync(p *pendingSend, err error) error {
	c.mu.Lock()
	if p.finished {
		c.mu.Unlock()
		return err
	}
	p.finished = true
	delete(c.sends, p.seq)
	c.mu.Unlock()
	if err == nil {
		c.stats.sent.Add(1)
	}
	p.async.err = err
	close(p.async.done)
	<-c.window
	return err
}

// failAsync completes every pending asynchronous send with err (the Conn
// closed or gave up reconnecting).
func (c *Conn) failAsync(err error) {
	c.mu.Lock()
	var list []*pendingSend
	for _, p := range c.pendingList() {
		if p.async != nil {
			list = append(list, p)
		}
	}
	c.mu.Unlock()
	for _, p := range list {
		c.finishAsync(p, c.sendFailed(p, err))
	}
}

// writeAsync writes p on g during g's restore and hands its confirmation to
// g's confirmer. A refusal completes p; a lost connection is returned, so
// that the restore fails and the next connection tries again.
func (c *Conn) writeAsync(ctx context.Context, g *generation, p *pendingSend) error {
	conf, err := g.sess.Send(ctx, p.msg)
	var refused *session.BrokerError
	switch {
	case err == nil:
		c.mu.Lock()
		p.attempted = true
		p.sentOn = g.id
		c.mu.Unlock()
		g.confirms.push(c, g, p, conf)
		return nil
	case errors.As(err, &refused), errors.Is(err, session.ErrUnsupported):
		c.finishAsync(p, fmt.Errorf("failover: send to %s: %w", p.msg.Destination, err))
		return nil
	}
	return fmt.Errorf("re-sending %s: %w", p.msg.DuplicateID, err)
}

// unsentAsync lists, in order, the pending asynchronous sends not yet
// written on g: those made while disconnected after g's restore took its
// snapshot. Call with c.mu held.
func (c *Conn) unsentAsync(g *generation) []*pendingSend {
	var list []*pendingSend
	for _, p := range c.pendingList() {
		if p.async != nil && p.sentOn != g.id {
			list = append(list, p)
		}
	}
	return list
}

// confirmQueue feeds one generation's confirmer goroutine, which runs from
// the first send written on the generation until its session ends.
type confirmQueue struct {
	mu      sync.Mutex
	items   []asyncItem
	running bool
	wake    chan struct{} // capacity 1
}

type asyncItem struct {
	p    *pendingSend
	conf session.Confirmation
}

func (q *confirmQueue) push(c *Conn, g *generation, p *pendingSend, conf session.Confirmation) {
	q.mu.Lock()
	q.items = append(q.items, asyncItem{p, conf})
	start := !q.running
	q.running = true
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	wake := q.wake
	q.mu.Unlock()
	if start {
		// Once Close has begun nothing starts: Close completes what is
		// left with ErrClosed.
		c.background(func(context.Context) { q.run(c, g) })
		return
	}
	select {
	case wake <- struct{}{}:
	default:
	}
}

// run waits for each confirmation in turn, and for more while the session
// lives. It does not watch the Conn's stop context: every confirmation
// resolves once its session ends, and Close ends the live one gracefully
// first, so that sends the broker confirms during Close complete as
// confirmed.
func (q *confirmQueue) run(c *Conn, g *generation) {
	var batch []asyncItem
	for {
		q.mu.Lock()
		batch, q.items = q.items, batch[:0]
		wake := q.wake
		q.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-wake:
				continue
			case <-g.sess.Done():
			}
			q.mu.Lock()
			if len(q.items) == 0 {
				q.running = false
				q.mu.Unlock()
				return
			}
			q.mu.Unlock()
			continue
		}
		for i, it := range batch {
			err := <-it.conf
			switch {
			case err == nil:
				c.finishAsync(it.p, nil)
			case lost(err):
				// Still pending: the next connection re-sends it.
			default:
				c.finishAsync(it.p, fmt.Errorf("failover: send to %s: %w", it.p.msg.Destination, err))
			}
			batch[i] = asyncItem{}
		}
	}
}
