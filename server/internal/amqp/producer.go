package amqp

import (
	"context"
	"errors"
	"sync"
)

// producer hands a connection's incoming messages to the broker, one at a
// time and in arrival order. It is a goroutine of its own because Send
// blocks while the broker's memory limit is reached (producer flow
// control): blocking the loop instead would stop it from reading the
// acknowledgements that free that memory. Its queue is bounded by the
// credit granted to the connection's sending links.
type producer struct {
	c    *conn
	mu   sync.Mutex
	q    []*sendReq
	wake chan struct{}
}

func newProducer(c *conn) *producer {
	return &producer{c: c, wake: make(chan struct{}, 1)}
}

func (p *producer) push(r *sendReq) {
	p.mu.Lock()
	p.q = append(p.q, r)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run sends until stop is closed, then sends what is still queued: every
// transfer fully received before the connection ended (an orderly close
// right after a burst of sends, or a dropped socket) reaches the broker,
// pre-settled ones included, which the peer would never resend. Only the
// broker's shutdown (ctx, the server's context) abandons the queue; those
// sends were never confirmed, so the peer still has them.
func (p *producer) run(ctx context.Context, stop <-chan struct{}) {
	var batch []*sendReq
	for {
		stopping := false
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-stop:
			stopping = true
		}
		p.mu.Lock()
		batch, p.q = p.q, batch[:0]
		p.mu.Unlock()
		for i, r := range batch {
			if ctx.Err() != nil {
				return
			}
			r.run(ctx, p.c)
			batch[i] = nil
		}
		if stopping {
			// The loop has ended, so nothing is pushed any more: one more
			// pass after the stop signal found the queue complete.
			p.mu.Lock()
			empty := len(p.q) == 0
			p.mu.Unlock()
			if empty {
				return
			}
		}
	}
}

// run hands one request to the broker.
func (r *sendReq) run(ctx context.Context, c *conn) {
	if r.op != nil {
		r.op(ctx, func(err error) { c.inbox.push(event{sent: r, err: err}) })
		return
	}
	c.bs.Send(ctx, r.msg, r.tx, func(err error) {
		c.inbox.push(event{sent: r, err: err})
	})
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
