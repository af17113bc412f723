// Package wirebuf coalesces a connection's writes: a protocol library that
// writes one frame per Write call (go-amqp, paho) gets one syscall per batch
// of frames instead, without changing the library. It owns only the write
// side; reads pass through untouched.
package wirebuf

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// MaxQueued bounds the bytes queued ahead of the socket; a Write that finds
// more waits until the flusher has taken them (or the write deadline
// passes), so a slow peer still pushes back on the writer.
const MaxQueued = 512 << 10

// closeFlush bounds how long Close waits for queued bytes to reach the
// socket (a DISCONNECT or AMQP close frame written just before Close).
const closeFlush = 2 * time.Second

// Conn queues writes in order and puts them on the wire from one flusher
// goroutine: whatever was queued while the previous write was in the
// kernel goes out in one call. Write returns once the bytes are queued; a
// failed flush fails every later Write (and closes the connection, which
// ends the library's reader). Write deadlines apply to the flush and to a
// Write waiting for room.
type Conn struct {
	net.Conn

	mu       sync.Mutex
	buf      []byte
	err      error         // sticky: a flush failed or Close was called
	deadline time.Time     // the write deadline
	wake     chan struct{} // capacity 1
	drained  chan struct{} // closed and replaced when the flusher takes buf
	closing  bool
	done     chan struct{} // the flusher has stopped
	once     sync.Once
}

// New wraps nc and starts its flusher; Close stops it.
func New(nc net.Conn) *Conn {
	c := &Conn{Conn: nc, wake: make(chan struct{}, 1), drained: make(chan struct{}), done: make(chan struct{})}
	go c.flush()
	return c
}

var errClosed = net.ErrClosed

// Write queues p. It never writes part of p.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for {
		switch {
		case c.err != nil:
			err := c.err
			c.mu.Unlock()
			return 0, err
		case c.closing:
			c.mu.Unlock()
			return 0, errClosed
		}
		if len(c.buf) < MaxQueued {
			break
		}
		drained, deadline := c.drained, c.deadline
		c.mu.Unlock()
		if err := waitUntil(drained, c.done, deadline); err != nil && !errors.Is(err, errClosed) {
			return 0, err
		}
		// Drained, or the flusher stopped: the loop reports why.
		c.mu.Lock()
	}
	c.buf = append(c.buf, p...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// waitUntil waits for ch, or for stop, or until deadline (zero: none).
func waitUntil(ch, stop <-chan struct{}, deadline time.Time) error {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ch:
		return nil
	case <-stop:
		return errClosed
	case <-timeout:
		return os.ErrDeadlineExceeded
	}
}

func (c *Conn) flush() {
	defer close(c.done)
	var spare []byte
	for {
		<-c.wake
		c.mu.Lock()
		batch := c.buf
		c.buf = spare[:0]
		close(c.drained)
		c.drained = make(chan struct{})
		deadline, closing := c.deadline, c.closing
		c.mu.Unlock()
		if len(batch) > 0 {
			_ = c.Conn.SetWriteDeadline(deadline)
			if _, err := c.Conn.Write(batch); err != nil {
				c.mu.Lock()
				if c.err == nil {
					c.err = err
				}
				c.mu.Unlock()
				_ = c.Conn.Close()
				return
			}
		}
		if closing {
			c.mu.Lock()
			empty := len(c.buf) == 0
			c.mu.Unlock()
			if empty {
				return
			}
			c.signal()
		}
		if cap(batch) > 4*MaxQueued {
			batch = nil
		}
		spare = batch
	}
}

func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// SetWriteDeadline applies to the flushes from now on and to a Write
// waiting for room.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

// SetDeadline sets the read deadline on the connection and the write
// deadline as SetWriteDeadline does.
func (c *Conn) SetDeadline(t time.Time) error {
	_ = c.SetWriteDeadline(t)
	return c.Conn.SetReadDeadline(t)
}

// Close puts what is queued on the wire (waiting at most closeFlush: it
// may be a goodbye frame) and closes the connection.
func (c *Conn) Close() error {
	var err error
	c.once.Do(func() {
		c.mu.Lock()
		c.closing = true
		c.mu.Unlock()
		c.signal()
		t := time.NewTimer(closeFlush)
		select {
		case <-c.done:
		case <-t.C:
		}
		t.Stop()
		err = c.Conn.Close()
		<-c.done
	})
	if errors.Is(err, net.ErrClosed) {
		err = nil // the flusher closed it after a failed write
	}
	return err
}
