package amqp

import (
	"context"
	"time"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
)

// readLoop decodes frames and hands them to the loop. Every read has a
// deadline of IdleTimeout: a peer that sends nothing, not even an empty
// frame, for that long gets a timeout error, which the loop turns into a
// close with amqp:resource-limit-exceeded.
func (c *conn) readLoop(ctx context.Context) {
	max := uint32(c.srv.opts.MaxFrameSize)
	for {
		if err := c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.IdleTimeout)); err != nil {
			c.deliverFrame(ctx, frameEvent{err: err})
			return
		}
		f, err := wire.ReadFrame(c.br, max)
		if !c.deliverFrame(ctx, frameEvent{f: f, err: err}) || err != nil {
			return
		}
	}
}

func (c *conn) deliverFrame(ctx context.Context, fe frameEvent) bool {
	select {
	case c.frames <- fe:
		return true
	case <-ctx.Done():
		return false
	}
}

// write appends a frame to the output buffer; flush sends it.
func (c *conn) write(ch uint16, p wire.Performative, payload []byte) {
	c.out = wire.AppendFrame(c.out, ch, p, payload)
}

// flush writes the buffered frames under WriteTimeout, then runs what
// waited for them to be written (acknowledging pre-settled deliveries).
func (c *conn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout)); err != nil {
		return err
	}
	_, err := c.nc.Write(c.out)
	c.lastWrite = time.Now()
	if cap(c.out) > 4<<20 {
		c.out = nil // do not keep a huge buffer after one large message
	} else {
		c.out = c.out[:0]
	}
	if err != nil {
		c.afterFlush = c.afterFlush[:0]
		return err
	}
	fns := c.afterFlush
	c.afterFlush = nil
	for _, fn := range fns {
		fn()
	}
	return nil
}
