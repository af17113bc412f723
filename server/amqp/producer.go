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

// run sends until ctx ends; what is still queued then was never confirmed
// to the peer, which will resend it.
func (p *producer) run(ctx context.Context) {
	var batch []*sendReq
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		p.mu.Lock()
		batch, p.q = p.q, batch[:0]
		p.mu.Unlock()
		for i, r := range batch {
			if ctx.Err() != nil {
				return
			}
			p.c.bs.Send(ctx, r.msg, "", func(err error) {
				p.c.inbox.push(event{sent: r, err: err})
			})
			batch[i] = nil
		}
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
