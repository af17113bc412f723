package wsconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// Conn is one accepted WebSocket seen as a byte stream, for a connector
// that parses frames from a net.Conn. Message boundaries mean nothing:
// Read returns the bytes of consecutive messages as they come (a protocol
// frame may span messages, or several share one) and every Write is sent
// as one message.
//
// Deadlines work as on a socket, with one difference: a read or write
// whose deadline passes closes the WebSocket, as coder/websocket does when
// a context ends mid-operation. The connectors treat a read timeout as the
// end of the connection anyway (keep-alive or heart-beat expiry).
type Conn struct {
	ws     *websocket.Conn
	raw    net.Conn // the TCP (or TLS) connection under ws
	proto  *Protocol
	sub    string // the negotiated subprotocol ("" when none was offered)
	local  net.Addr
	remote net.Addr
	srv    *Server

	rmu sync.Mutex // one reader at a time
	r   io.Reader  // the message being read; nil between messages

	wmu sync.Mutex // one message written at a time

	rdl, wdl deadline

	closeOnce sync.Once
	closed    chan struct{}
}

var _ net.Conn = (*Conn)(nil)

func newConn(s *Server, ws *websocket.Conn, p *Protocol, sub string, local, remote net.Addr) *Conn {
	// The connectors bound frame sizes themselves, over the stream, so a
	// per-message limit would only refuse clients that send big messages.
	ws.SetReadLimit(-1)
	c := &Conn{ws: ws, proto: p, sub: sub, local: local, remote: remote, srv: s, closed: make(chan struct{})}
	c.rdl.init()
	c.wdl.init()
	return c
}

// Subprotocol is the WebSocket subprotocol negotiated at the upgrade.
func (c *Conn) Subprotocol() string { return c.sub }

// Read reads the next bytes of the stream, across message boundaries.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.isClosed() {
			return 0, net.ErrClosed
		}
		ctx := c.rdl.context()
		if c.r == nil {
			typ, r, err := c.ws.Reader(ctx)
			if err != nil {
				return 0, c.mapErr("read", ctx, err)
			}
			if typ == websocket.MessageText && c.proto.BinaryOnly {
				err := fmt.Errorf("wsconn: %s over WebSocket takes binary messages only, got a text message", c.proto.Name)
				c.abort(websocket.StatusUnsupportedData, "binary messages only")
				return 0, err
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil // next message
			err = nil
		}
		if err != nil {
			return n, c.mapErr("read", ctx, err)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// Write sends p as one message: binary for a binary-only protocol, text
// for a text protocol when p is valid UTF-8 (a browser client reads text
// frames as strings), binary otherwise (a binary body, or a write that
// ends inside a multi-byte character).
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.isClosed() {
		return 0, net.ErrClosed
	}
	typ := websocket.MessageBinary
	if !c.proto.BinaryOnly && utf8.Valid(p) {
		typ = websocket.MessageText
	}
	ctx := c.wdl.context()
	if err := c.ws.Write(ctx, typ, p); err != nil {
		return 0, c.mapErr("write", ctx, err)
	}
	return len(p), nil
}

// mapErr turns the library's errors into what a net.Conn user expects: a
// timeout (net.Error) for an expired deadline, io.EOF for the peer's
// orderly close.
func (c *Conn) mapErr(op string, ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("wsconn: %s: %w", op, os.ErrDeadlineExceeded)
	}
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway:
		if op == "read" {
			return io.EOF
		}
	}
	if c.isClosed() {
		return net.ErrClosed
	}
	return fmt.Errorf("wsconn: %s: %w", op, err)
}

func (c *Conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
	}
	return false
}

// Close starts the WebSocket closing handshake and returns at once: a
// connector may close from a callback that must not block. The handshake
// runs on a goroutine the Server waits for, bounded by the library's
// timeouts (5 s to write the close frame, 5 s for the peer's) and by
// Server.Close's grace; a blocked Read returns when it completes.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.rdl.stop()
		c.wdl.stop()
		c.srv.closing(c, websocket.StatusNormalClosure, "")
	})
	return nil
}

// abort closes with a status saying why (a protocol violation of the
// WebSocket mapping).
func (c *Conn) abort(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.rdl.stop()
		c.wdl.stop()
		c.srv.closing(c, code, reason)
	})
}

// LocalAddr is the listening socket's address.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr is the client's address as the HTTP server saw it (no proxy
// headers are trusted).
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both deadlines; see Conn for what expiry does.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline bounds Read; a Read it interrupts closes the WebSocket.
func (c *Conn) SetReadDeadline(t time.Time) error { c.rdl.set(t); return nil }

// SetWriteDeadline bounds Write; a Write it interrupts closes the WebSocket.
func (c *Conn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); return nil }

// deadline is a context that ends when a settable point in time passes.
// Moving the deadline keeps the context (an operation in progress sees the
// new deadline); only an expired context is replaced, by set.
type deadline struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
}

func (d *deadline) init() {
	d.ctx, d.cancel = context.WithCancel(context.Background())
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.ctx.Err() != nil {
		d.ctx, d.cancel = context.WithCancel(context.Background())
	}
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		d.cancel()
		return
	}
	d.timer = time.AfterFunc(wait, d.cancel)
}

func (d *deadline) context() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ctx
}

// stop releases the timer without ending the context: Close is not a
// deadline.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}
