package mqtt

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/mqtt/internal/wire"
)

// Why a connection ended. The first cause recorded wins.
var (
	errServerClosed     = errors.New("server closed")
	errTakenOver        = errors.New("client id taken over by a new connection")
	errClientDisconnect = errors.New("client sent DISCONNECT")
	errProtocol         = errors.New("protocol violation")
	errKeepAlive        = errors.New("keep-alive expired")
)

// conn is one client connection. The reader goroutine (serve) runs the
// handshake, every inbound packet and the teardown; the writer goroutine
// (writeLoop) writes everything else. Fields set by the handshake are
// read-only afterwards.
type conn struct {
	srv *Server
	sh  *shared
	nc  net.Conn
	log *slog.Logger

	rd *timedReader
	br *bufio.Reader

	ctx    context.Context // ends when the connection does
	cancel context.CancelFunc

	out        *outbox
	acks       *ackQueue
	flights    *inflight     // the session's (state.flights), set by the handshake
	writerDone chan struct{} // nil until the writer starts

	sess     *broker.Session
	state    *clientState
	clientID string
	clean    bool
	will     *will

	subs map[string]*subscription // by MQTT filter; reader goroutine only

	mu    sync.Mutex
	cause error
}

type will struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

func newConn(s *Server, sh *shared, nc net.Conn) *conn {
	c := &conn{srv: s, sh: sh, nc: nc, log: s.log.With("remote", nc.RemoteAddr().String()),
		out: newOutbox(), subs: map[string]*subscription{}}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	c.rd = &timedReader{nc: nc}
	c.br = bufio.NewReaderSize(c.rd, 32<<10)
	c.acks = newAckQueue(c.out, c.shutdown)
	return c
}

// Serve runs the connection to its end, on the listener's goroutine.
func (c *conn) Serve() {
	err := c.handshake()
	if err == nil {
		err = c.readLoop()
	}
	c.teardown(err)
}

func (c *conn) readLoop() error {
	for {
		pkt, err := wire.Read(c.br, c.srv.opts.MaxFrameSize)
		if err != nil {
			return c.readError(err)
		}
		if err := c.handle(pkt); err != nil {
			return err
		}
	}
}

// readError names a keep-alive expiry as such.
func (c *conn) readError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errKeepAlive
	}
	return err
}

func (c *conn) handle(pkt packets.ControlPacket) error {
	switch p := pkt.(type) {
	case *packets.PublishPacket:
		return c.onPublish(p)
	case *packets.PubackPacket:
		return c.onPuback(p.MessageID)
	case *packets.PubrecPacket:
		return c.onPubrec(p.MessageID)
	case *packets.PubrelPacket:
		c.onPubrel(p.MessageID)
	case *packets.PubcompPacket:
		return c.onPubcomp(p.MessageID)
	case *packets.SubscribePacket:
		return c.onSubscribe(p)
	case *packets.UnsubscribePacket:
		return c.onUnsubscribe(p)
	case *packets.PingreqPacket:
		c.out.push(outItem{pkt: packets.NewControlPacket(packets.Pingresp)})
	case *packets.DisconnectPacket:
		return errClientDisconnect
	case *packets.ConnectPacket:
		return errors.Join(errProtocol, errors.New("second CONNECT"))
	}
	return nil
}

// Shutdown is the listener's way in, at Server.Close.
func (c *conn) Shutdown() { c.shutdown(errServerClosed) }

// shutdown ends the connection from any goroutine: the reader's next read
// fails and the reader tears down.
func (c *conn) shutdown(cause error) {
	c.mu.Lock()
	if c.cause == nil {
		c.cause = cause
	}
	c.mu.Unlock()
	c.cancel()
	c.out.close()
	c.nc.Close()
}

func (c *conn) endCause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// teardown runs on the reader goroutine once the connection is over: the
// will (unless the client said DISCONNECT or the server is closing), then
// the broker session, whose unacknowledged messages are redelivered.
func (c *conn) teardown(err error) {
	c.shutdown(err)
	if c.writerDone != nil {
		<-c.writerDone
	}
	cause := c.endCause()
	if c.sess != nil {
		if c.will != nil && !errors.Is(cause, errClientDisconnect) && !errors.Is(cause, errServerClosed) {
			c.publishWill()
		}
		c.sess.Close()
		c.sh.detach(c, c.clientID, c.state)
	}
	switch {
	case errors.Is(cause, errClientDisconnect), errors.Is(cause, errServerClosed), errors.Is(cause, io.EOF):
		c.log.Debug("connection closed", "cause", cause)
	case errors.Is(cause, wire.ErrMalformed), errors.Is(cause, errProtocol), errors.Is(cause, wire.ErrTooLarge):
		c.log.Warn("connection closed", "cause", cause)
	default:
		c.log.Info("connection closed", "cause", cause)
	}
}

// publishWill publishes the will like a PUBLISH from the client, bounded
// by the write timeout in case the broker's memory is full.
func (c *conn) publishWill() {
	w := c.will
	ctx, cancel := context.WithTimeout(c.srv.ctx, c.srv.opts.WriteTimeout)
	defer cancel()
	c.route(ctx, w.topic, w.payload, w.qos, w.retain, func(err error) {
		if err != nil {
			c.log.Warn("will message not published", "topic", w.topic, "err", err)
		}
	})
}

// timedReader gives every socket read a fresh deadline, so the deadline
// measures silence, not packet size: 1.5 x keep-alive once connected.
// Only the reader goroutine uses it.
type timedReader struct {
	nc      net.Conn
	timeout time.Duration // 0: no deadline
}

func (r *timedReader) Read(p []byte) (int, error) {
	var dl time.Time
	if r.timeout > 0 {
		dl = time.Now().Add(r.timeout)
	}
	if err := r.nc.SetReadDeadline(dl); err != nil {
		return 0, err
	}
	return r.nc.Read(p)
}

// timedWriter bounds each socket write, for clients that stopped reading.
type timedWriter struct {
	nc      net.Conn
	timeout time.Duration
}

func (w *timedWriter) Write(p []byte) (int, error) {
	if err := w.nc.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
		return 0, err
	}
	return w.nc.Write(p)
}
