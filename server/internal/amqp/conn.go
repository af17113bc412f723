package amqp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
	"github.com/tethermq/tether/server/internal/broker"
)

// channelMax and handleMax bound the sessions per connection and the links
// per session a peer may open.
const (
	channelMax = 255
	handleMax  = 1023
)

// conn is one AMQP connection. After the handshake three goroutines serve
// it: the reader (decodes frames, hands them over), the loop (run: owns
// every session, link and the socket's write side) and the producer (calls
// the broker's blocking Send in order). Everything else reaches the loop
// through the inbox.
type conn struct {
	srv *Server
	nc  net.Conn
	br  *bufio.Reader
	log *slog.Logger

	// refusal, when set, is the close that answers the peer's open: the
	// connection is over maximumConnections (see Server.refuse).
	refusal *connError

	// negotiated in open; read-only afterwards
	user        string
	containerID string
	maxFrameOut int           // largest frame we send: min(peer's max-frame-size, ours)
	peerIdle    time.Duration // the peer's idle-time-out: we must write at least this often
	channelMax  uint16

	bs           *broker.Session
	sessions     map[uint16]*session // by channel (ours equals the peer's)
	partialBytes int                 // bytes of incomplete incoming deliveries, all links

	frames  chan frameEvent // reader -> loop
	inbox   inbox           // broker and producer -> loop
	prod    *producer
	temps   map[string]broker.Destination // temporary queues this connection's links made, by name
	txns    map[string]*txn               // declared transactions, by AMQP txn-id
	nextTxn uint64

	// write side, loop goroutine only
	out        []byte
	lastWrite  time.Time
	afterFlush []func()
	closeSent  bool
}

type frameEvent struct {
	f   *wire.Frame
	err error
}

func newConn(s *Server, nc net.Conn) *conn {
	id := s.nextID.Add(1)
	return &conn{
		srv: s, nc: nc, br: bufio.NewReaderSize(nc, 64<<10),
		log:      s.opts.Logger.With("conn", "amqp-"+strconv.FormatUint(id, 10), "remote", nc.RemoteAddr().String()),
		sessions: map[uint16]*session{},
		temps:    map[string]broker.Destination{},
		txns:     map[string]*txn{},
		frames:   make(chan frameEvent, 64),
		inbox:    newInbox(),
	}
}

// Shutdown is the listener's way in at Server.Close. Nothing to do: the
// listener's context, which Close ends first, ends the handshake, the loop
// and the producer.
func (c *conn) Shutdown() {}

// Serve serves the connection until it ends, then releases everything.
func (c *conn) Serve() {
	defer c.nc.Close()
	if err := c.guard(c.handshake); err != nil {
		c.log.Info("amqp handshake failed", "err", err)
		return
	}
	c.log.Debug("amqp connection open", "container", c.containerID, "user", c.user)

	ctx, cancel := context.WithCancel(c.srv.ctx)
	c.prod = newProducer(c)
	stopProducer := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.prod.run(c.srv.ctx, stopProducer) }()
	go func() { defer wg.Done(); c.readLoop(ctx) }()

	err := c.guard(func() error { return c.loop(ctx) })
	cancel()
	c.nc.Close() // unblocks the reader
	close(stopProducer)
	wg.Wait()
	c.bs.Close() // consumers close: in-flight messages are redelivered
	for _, d := range c.temps {
		c.bs.DeleteTempQueue(d, nil) // links still attached: their temporary queues end with the connection
	}
	if err != nil {
		c.log.Info("amqp connection closed", "err", err)
	} else {
		c.log.Debug("amqp connection closed by peer")
	}
}

// guard runs fn, turning a panic (a bug) into an error that ends only this
// connection, as net/http does for its handlers; the stack is logged.
func (c *conn) guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("amqp connection panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}

// loop handles frames and events until the connection ends. It returns
// nil when the peer closed the connection cleanly.
func (c *conn) loop(ctx context.Context) error {
	var heartbeat <-chan time.Time
	if c.peerIdle > 0 {
		t := time.NewTicker(max(c.peerIdle/4, 10*time.Millisecond))
		defer t.Stop()
		heartbeat = t.C
	}
	for {
		var err error
		select {
		case fe := <-c.frames:
			err = c.onFrame(fe)
		case <-c.inbox.wake:
			err = c.onEvents()
		case <-heartbeat:
			if time.Since(c.lastWrite) >= c.peerIdle/2 {
				c.out = wire.AppendEmptyFrame(c.out)
			}
		case <-ctx.Done():
			err = errConn(wire.CondConnectionForced, "broker shutting down")
		}
		// Take whatever else is already waiting before writing, so that
		// one socket write carries many frames under load.
		for i := 0; err == nil && i < 64 && len(c.out) < 256<<10; i++ {
			select {
			case fe := <-c.frames:
				err = c.onFrame(fe)
				continue
			case <-c.inbox.wake:
				err = c.onEvents()
				continue
			default:
			}
			break
		}
		if err != nil {
			return c.fail(err)
		}
		if werr := c.flush(); werr != nil {
			return werr
		}
	}
}

// errPeerClosed ends the loop after the peer's close was answered.
var errPeerClosed = errors.New("closed by peer")

// fail ends the connection because of err: a protocol error is reported
// to the peer in a close frame; I/O errors just end it.
func (c *conn) fail(err error) error {
	if errors.Is(err, errPeerClosed) {
		_ = c.flush()
		return nil
	}
	var ce *connError
	switch {
	case errors.As(err, &ce):
	case c.srv.ctx.Err() != nil:
		ce = errConn(wire.CondConnectionForced, "broker shutting down")
	case isTimeout(err):
		ce = errConn(wire.CondResourceLimit, "idle timeout: nothing received for %v", c.srv.opts.IdleTimeout)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), isConnReset(err):
		return err
	default:
		ce = errConn(wire.CondInternalError, "%v", err)
	}
	c.sendClose(ce)
	_ = c.flush()
	return err
}

func (c *conn) sendClose(ce *connError) {
	if c.closeSent {
		return
	}
	c.closeSent = true
	c.write(0, &wire.Close{Error: &wire.Error{Condition: ce.cond, Description: ce.desc}}, nil)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isConnReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && !oe.Timeout()
}

// onFrame dispatches one frame from the reader (or its read error).
func (c *conn) onFrame(fe frameEvent) error {
	if fe.err != nil {
		var de *wire.DecodeError
		var fse *wire.FrameSizeError
		switch {
		case errors.As(fe.err, &de):
			return errConn(wire.CondDecodeError, "%v", de)
		case errors.As(fe.err, &fse):
			return errConn(wire.CondFramingError, "%v", fse)
		}
		return fe.err
	}
	f := fe.f
	if f.Body == nil {
		return nil // heart-beat
	}
	if f.Type != wire.FrameAMQP {
		return errConn(wire.CondNotAllowed, "SASL frame after the SASL exchange")
	}
	switch p := f.Body.(type) {
	case *wire.Open:
		return errConn(wire.CondIllegalState, "second open")
	case *wire.Close:
		if p.Error != nil {
			c.log.Info("amqp peer closed the connection with an error", "err", p.Error)
		}
		if !c.closeSent {
			c.closeSent = true
			c.write(0, &wire.Close{}, nil)
		}
		return errPeerClosed
	case *wire.Begin:
		return c.begin(f.Channel, p)
	}
	s := c.sessions[f.Channel]
	if s == nil {
		return errConn(wire.CondIllegalState, "%T on channel %d, which has no session", f.Body, f.Channel)
	}
	err := s.onFrame(f)
	var se *sessionError
	if errors.As(err, &se) {
		se.s.fail(se)
		return nil
	}
	return err
}

// begin starts a session the peer began on channel ch.
func (c *conn) begin(ch uint16, p *wire.Begin) error {
	switch {
	case p.RemoteChannel != nil:
		return errConn(wire.CondNotAllowed, "begin answering a session this broker never began")
	case ch > c.channelMax:
		return errConn(wire.CondNotAllowed, "channel %d beyond channel-max %d", ch, c.channelMax)
	case c.sessions[ch] != nil:
		return errConn(wire.CondNotAllowed, "channel %d already has a session", ch)
	}
	s := newSession(c, ch, p)
	c.sessions[ch] = s
	c.write(ch, &wire.Begin{
		RemoteChannel:  &ch,
		NextOutgoingID: s.nextOutgoingID,
		IncomingWindow: s.inWindow,
		OutgoingWindow: outgoingWindow,
		HandleMax:      s.handleMax,
	}, nil)
	return nil
}

// onEvents handles what the broker and the producer posted.
func (c *conn) onEvents() error {
	for _, ev := range c.inbox.take() {
		switch {
		case ev.stolen:
			return errConn(wire.CondConnectionForced, "client id %q taken over by a new connection", c.containerID)
		case ev.delivery != nil:
			ev.link.onDelivery(ev.delivery)
		case ev.sent != nil && ev.sent.op != nil:
			if ev.sent.opDone != nil {
				ev.sent.opDone(ev.err)
			}
		case ev.sent != nil:
			ev.sent.link.onSent(ev.sent, ev.err)
		}
	}
	for _, s := range c.sessions {
		s.pump()
	}
	return nil
}

// createTemp makes a temporary queue for a dynamic node.
func (c *conn) createTemp() (broker.Destination, error) {
	d, err := c.bs.CreateTempQueue()
	if err != nil {
		return d, fmt.Errorf("create a temporary queue: %w", err)
	}
	c.temps[d.Name] = d
	c.log.Debug("amqp temporary queue created", "queue", d.String())
	return d, nil
}

// dropTemp deletes a temporary queue once the sends queued before now
// (replies to it from this connection) have reached it.
func (c *conn) dropTemp(d broker.Destination) {
	if _, ok := c.temps[d.Name]; !ok {
		return
	}
	delete(c.temps, d.Name)
	c.prod.push(&sendReq{
		op: func(_ context.Context, done func(error)) { c.bs.DeleteTempQueue(d, done) },
		opDone: func(err error) {
			if err != nil {
				c.log.Warn("amqp temporary queue not deleted", "queue", d.String(), "err", err)
			}
		},
	})
}
