package stomp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/stomp/internal/wire"
)

const serverName = "tether-refbroker/0.1"

// conn is one client connection: the reader goroutine (serve) handles
// frames in order; the writer goroutine owns the socket's write side.
type conn struct {
	srv *Server
	nc  net.Conn
	log *slog.Logger
	fr  *wire.Reader

	ctx    context.Context // cancelled when the connection ends
	cancel context.CancelFunc

	version  string
	escape   bool
	sess     *broker.Session
	subs     map[string]*sub // reader goroutine only
	readWait time.Duration   // client's heart-beat x grace; 0 = none promised

	// wmu is held by whoever writes queued items to nc: the writer
	// goroutine, or flushDirect on the broker's commit goroutine. It keeps
	// the bytes on the wire in queue order.
	wmu     sync.Mutex
	raw     syscall.RawConn // nc's descriptor for non-blocking direct writes; nil if none
	direct  atomic.Bool     // flushDirect wrote since the writer last looked (heart-beat traffic)
	kicked  atomic.Bool     // a flushDirect is queued on the commit goroutine
	outMu   sync.Mutex
	out     []outItem
	outSig  chan struct{}
	closing bool // an ERROR or DISCONNECT receipt is queued: write it, then stop
	wdone   chan struct{}
	sendHB  time.Duration

	stopOnce sync.Once
}

type sub struct {
	closed  bool // unsubscribed: its queued deliveries are not written (guarded by wmu)
	id      string
	dest    string // as the client wrote it
	ack     broker.AckMode
	c       *broker.Consumer
	holding bool // deliveries wait until the SUBSCRIBE receipt is queued
	held    []outItem
}

type outItem struct {
	unsub *unsubscribe       // complete an UNSUBSCRIBE once everything before it is written and acked
	raw   []byte             // already encoded: the unwritten rest of a direct write
	acks  []*broker.Delivery // auto-acks due once raw is written
	f     *frame.Frame
	d     *broker.Delivery
	s     *sub
	final bool // close the connection after writing this
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		srv: s, nc: nc, log: s.log.With("remote", nc.RemoteAddr().String()),
		fr: wire.NewReader(nc, s.opts.MaxFrameSize), ctx: ctx, cancel: cancel,
		version: "1.0", subs: map[string]*sub{}, outSig: make(chan struct{}, 1),
		wdone: make(chan struct{}),
	}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
	return c
}

// shutdown ends the connection from any goroutine (Server.Close, a client
// id taken over): it unblocks the reader.
func (c *conn) shutdown() {
	c.cancel()
	_ = c.nc.SetReadDeadline(time.Now())
}

// Shutdown is the listener's way in: see shutdown.
func (c *conn) Shutdown() { c.shutdown() }

// Serve runs the connection on the listener's goroutine until it ends.
func (c *conn) Serve() {
	go c.writeLoop()
	err := c.readLoop()
	if err != nil && !errors.Is(err, errDisconnect) {
		c.log.Debug("stomp connection ended", "err", err)
	}
	c.finish()
}

// finish waits for the writer to flush what is queued (bounded by the
// write timeout), then tears the connection down.
func (c *conn) finish() {
	c.outMu.Lock()
	c.closing = true
	c.outMu.Unlock()
	c.signal()
	select {
	case <-c.wdone:
	case <-time.After(c.srv.opts.WriteTimeout):
	}
	c.cancel()
	c.nc.Close()
	<-c.wdone
	if c.sess != nil {
		c.sess.Close()
	}
}

var errDisconnect = errors.New("client disconnected")

func (c *conn) readLoop() error {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.ConnectTimeout))
	var f *frame.Frame
	var err error
	for f == nil {
		if f, err = c.fr.Read(); err != nil {
			c.protocolError(err, nil)
			return err
		}
	}
	if f.Command != frame.CONNECT && f.Command != frame.STOMP {
		err := fmt.Errorf("expected CONNECT, got %s", f.Command)
		c.sendError(err.Error(), "", f)
		return err
	}
	if err := c.onConnect(f); err != nil {
		c.sendError(err.Error(), "", f)
		return err
	}
	for {
		if c.readWait > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.readWait))
		} else {
			_ = c.nc.SetReadDeadline(time.Time{})
		}
		if c.ctx.Err() != nil {
			return c.ctx.Err()
		}
		f, err := c.fr.Read()
		if err != nil {
			c.protocolError(err, nil)
			return err
		}
		if f == nil {
			continue // heart-beat
		}
		_ = c.nc.SetReadDeadline(time.Time{}) // a send may wait for memory
		if err := c.handle(f); err != nil {
			if errors.Is(err, errDisconnect) {
				return err
			}
			if errors.Is(err, broker.ErrUnauthorized) {
				c.refuseOp(err, f.Header.Get(frame.Receipt), f)
				continue
			}
			c.sendError(err.Error(), f.Header.Get(frame.Receipt), f)
			return err
		}
	}
}

// protocolError reports a read failure that is the client's fault.
func (c *conn) protocolError(err error, f *frame.Frame) {
	var ne net.Error
	switch {
	case errors.Is(err, wire.ErrFrameTooLarge):
		c.sendError(fmt.Sprintf("frame exceeds the maximum frame size (%d bytes)", c.srv.opts.MaxFrameSize), "", f)
	case errors.Is(err, wire.ErrBadFrame):
		c.sendError(err.Error(), "", f)
	case errors.As(err, &ne) && ne.Timeout() && c.ctx.Err() == nil:
		c.log.Info("dropping silent STOMP client", "heartBeatWait", c.readWait)
	}
}

func (c *conn) onConnect(f *frame.Frame) error {
	c.version = negotiate(f.Header.Get(frame.AcceptVersion))
	if c.version == "" {
		return fmt.Errorf("supported protocol versions are 1.0,1.1,1.2 (client accepts %q)", f.Header.Get(frame.AcceptVersion))
	}
	c.escape = c.version != "1.0"
	c.fr.SetEscaping(c.escape)
	user := f.Header.Get(frame.Login)
	if auth := c.srv.opts.Authenticate; auth != nil {
		if err := auth(user, f.Header.Get(frame.Passcode)); err != nil {
			c.log.Info("STOMP authentication failed", "user", user)
			return fmt.Errorf("authentication failed for user %q", user)
		}
	}
	cx, cy := time.Duration(0), time.Duration(0)
	if hb := f.Header.Get(frame.HeartBeat); hb != "" && c.version != "1.0" {
		var err error
		if cx, cy, err = frame.ParseHeartBeat(hb); err != nil {
			return fmt.Errorf("bad heart-beat header %q", hb)
		}
	}
	// We send as often as the client wants to hear from us, and expect
	// the client's beats within its own interval times the grace factor.
	c.outMu.Lock()
	c.sendHB = cy
	c.outMu.Unlock()
	if cx > 0 {
		c.readWait = time.Duration(float64(cx) * c.srv.opts.HeartBeatGrace)
	}
	sess, err := c.srv.b.NewSession(broker.SessionOptions{
		ClientID: f.Header.Get("client-id"), User: user, OnStolen: c.shutdown, Access: c.srv.opts.Access,
		Protocol: "stomp", RemoteAddr: c.nc.RemoteAddr().String(),
	})
	if err != nil {
		return fmt.Errorf("cannot open session: %w", err)
	}
	c.sess = sess
	resp := frame.New(frame.CONNECTED,
		frame.Version, c.version,
		frame.Server, serverName,
		frame.Session, sess.ID(),
		frame.HeartBeat, ms(cy)+","+ms(cx))
	c.enqueue(outItem{f: resp})
	c.signal()
	return nil
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

func negotiate(accept string) string {
	if accept == "" {
		return "1.0"
	}
	best := ""
	for _, v := range strings.Split(accept, ",") {
		switch v = strings.TrimSpace(v); v {
		case "1.0", "1.1", "1.2":
			if v > best {
				best = v
			}
		}
	}
	return best
}

// sendError queues an ERROR frame (with the receipt-id of the frame that
// caused it, when it asked for one) and marks the connection for closing.
func (c *conn) sendError(msg, receipt string, cause *frame.Frame) {
	f := frame.New(frame.ERROR, frame.Message, msg)
	if receipt != "" {
		f.Header.Add(frame.ReceiptId, receipt)
	}
	if cause != nil {
		f.Body = []byte("The offending frame was " + cause.Command + "\n")
	}
	f.Header.Add(frame.ContentType, "text/plain")
	c.enqueue(outItem{f: f, final: true})
	c.signal()
}

func (c *conn) enqueue(it outItem) {
	c.outMu.Lock()
	if it.s != nil && it.s.holding {
		it.s.held = append(it.s.held, it)
		c.outMu.Unlock()
		return
	}
	c.out = append(c.out, it)
	if it.final {
		c.closing = true
	}
	c.outMu.Unlock()
}

func (c *conn) signal() {
	select {
	case c.outSig <- struct{}{}:
	default:
	}
}

// deliver is the broker callback: it runs under the destination lock, so it
// only queues.
func (c *conn) deliverFunc(s *sub) func(*broker.Delivery) {
	return func(d *broker.Delivery) {
		c.enqueue(outItem{d: d, s: s})
		c.kick(false)
	}
}

// kick gets what was just queued written: from the broker's commit
// goroutine when it is completing a batch (the queued item is one of that
// batch's receipts or deliveries), else by waking the writer. reply marks a
// receipt a client waits on.
func (c *conn) kick(reply bool) {
	if c.kicked.Load() {
		return // the queued flushDirect clears kicked before it looks at out
	}
	if c.raw != nil && !c.kicked.Swap(true) {
		if c.srv.b.AfterCommitBatch(c.flushDirect, reply) {
			return
		}
		c.kicked.Store(false)
	}
	c.signal()
}

func (c *conn) writeLoop() {
	defer close(c.wdone)
	var hb <-chan time.Time
	var buf []byte
	var batch []outItem
	var autoAcks []*broker.Delivery
	wroteSince := false
	for {
		c.wmu.Lock()
		c.outMu.Lock()
		batch, c.out = c.out, batch[:0]
		closing := c.closing
		sendHB := c.sendHB
		c.outMu.Unlock()
		if len(batch) == 0 {
			c.wmu.Unlock()
		}
		if hb == nil && sendHB > 0 {
			// Negotiated by CONNECT after this loop started.
			t := time.NewTicker(sendHB / 2) // a beat is skipped after a write: gaps stay under sendHB
			defer t.Stop()
			hb = t.C
		}
		if len(batch) == 0 {
			if closing {
				return
			}
			select {
			case <-c.outSig:
			case <-hb:
				if direct := c.direct.Swap(false); !wroteSince && !direct {
					c.wmu.Lock()
					_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
					_, err := c.nc.Write([]byte{'\n'})
					c.wmu.Unlock()
					if err != nil {
						c.abort()
						return
					}
				}
				wroteSince = false
			case <-c.ctx.Done():
				return
			}
			continue
		}
		buf = buf[:0]
		final := false
		var unsub *unsubscribe
		for i, it := range batch {
			if it.unsub != nil {
				// Stop here: the rest goes back to the front of the queue
				// and is written after the UNSUBSCRIBE is complete.
				unsub = it.unsub
				rest := batch[i+1:]
				c.outMu.Lock()
				c.out = append(append(make([]outItem, 0, len(rest)+len(c.out)+1), rest...), c.out...)
				c.outMu.Unlock()
				clear(batch[i:])
				break
			}
			buf, autoAcks = c.appendItem(buf, autoAcks, it)
			final = final || it.final
			batch[i] = outItem{}
			if final {
				break
			}
		}
		var err error
		if len(buf) > 0 {
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
			_, err = c.nc.Write(buf)
			wroteSince = true
		}
		if unsub == nil || err != nil {
			c.wmu.Unlock()
		}
		if err != nil {
			c.abort()
			return
		}
		for i, d := range autoAcks {
			d.Consumer.Ack(d.Message.ID, "", false, nil)
			autoAcks[i] = nil
		}
		autoAcks = autoAcks[:0]
		if unsub != nil {
			c.completeUnsubscribe(unsub) // still holding wmu: its receipt keeps its place
			c.wmu.Unlock()
		}
		if final {
			return
		}
		if cap(buf) > 1<<20 {
			buf = nil // do not pin a huge buffer after one large message
		}
	}
}

// flushDirect runs on the broker's commit goroutine once a store batch is
// complete (kick registered it): it writes what the batch's callbacks queued
// for this connection (receipts, deliveries) without waking the writer
// goroutine, which right after an fsync is a cross-CPU wake-up on the path
// of every producer waiting for a receipt. It never blocks: when the writer
// is busy, too much is queued, or the socket would block, the writer is
// woken to do the rest as usual. Auto-acks of what it wrote run afterwards,
// as the writer runs them after its writes.
func (c *conn) flushDirect() {
	c.kicked.Store(false)
	if !c.wmu.TryLock() {
		c.signal() // the writer is writing; it looks at out again when done
		return
	}
	c.outMu.Lock()
	items := c.out
	direct := len(items) > 0 && !c.closing && len(items) <= maxDirectItems
	size := 0
	for _, it := range items {
		if it.final || it.unsub != nil {
			direct = false // the writer ends the connection after it, or completes the UNSUBSCRIBE
			break
		}
		size += len(it.raw)
		if it.d != nil {
			size += len(it.d.Message.Body)
		}
	}
	direct = direct && size <= maxDirectBytes
	c.outMu.Unlock()
	if !direct {
		c.wmu.Unlock()
		c.signal()
		return
	}
	// The writer cannot take c.out while we hold wmu, and only the tail can
	// grow meanwhile, so items is still the head of the queue.
	var buf []byte
	var acks []*broker.Delivery
	for _, it := range items {
		buf, acks = c.appendItem(buf, acks, it)
	}
	n := 0
	if len(buf) > 0 {
		// An old deadline in the past would fail the write; nothing here waits on it.
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
		var err error
		if n, err = c.writeNonBlocking(buf); err != nil {
			c.wmu.Unlock()
			c.abort()
			return
		}
		if n > 0 {
			c.direct.Store(true)
		}
	}
	c.outMu.Lock()
	rest := c.out[len(items):]
	if n < len(buf) {
		// The socket is full: the writer writes the rest, then acks.
		c.out = append([]outItem{{raw: buf[n:], acks: acks}}, rest...)
		acks = nil
	} else {
		k := copy(c.out, rest)
		clear(c.out[k:])
		c.out = c.out[:k]
	}
	pending := len(c.out) > 0
	c.outMu.Unlock()
	c.wmu.Unlock()
	if pending {
		c.signal()
	}
	for _, d := range acks {
		d.Consumer.Ack(d.Message.ID, "", false, nil)
	}
}

// appendItem encodes one queued item onto buf and adds the auto-acks due
// once it is written. Deliveries of an unsubscribed subscription are
// skipped: the consumer's Close returned them to the queue. Call with wmu.
func (c *conn) appendItem(buf []byte, acks []*broker.Delivery, it outItem) ([]byte, []*broker.Delivery) {
	switch {
	case it.raw != nil:
		buf = append(buf, it.raw...)
		acks = append(acks, it.acks...)
	case it.f != nil:
		buf = wire.AppendFrame(buf, it.f, c.escape)
	case it.d != nil && !it.s.closed:
		buf = c.appendMessage(buf, it.s, it.d)
		if it.s.ack == broker.AckAuto {
			acks = append(acks, it.d)
		}
	}
	return buf, acks
}

// maxDirectItems and maxDirectBytes bound the work flushDirect does on the
// commit goroutine; more is the writer's, which is awake anyway under such
// load, and large bodies are not worth copying there.
const (
	maxDirectItems = 64
	maxDirectBytes = 256 << 10
)

// writeNonBlocking writes what the socket takes now and reports how much.
func (c *conn) writeNonBlocking(buf []byte) (int, error) {
	var n int
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), buf)
		return true // never wait for the socket to drain: the writer will
	})
	if n < 0 {
		n = 0
	}
	switch {
	case err != nil:
		return n, fmt.Errorf("stomp: direct write: %w", err)
	case werr == nil, werr == syscall.EAGAIN, werr == syscall.EINTR:
		return n, nil
	default:
		return n, fmt.Errorf("stomp: direct write: %w", werr)
	}
}

// unsubscribe is an UNSUBSCRIBE of an auto-ack subscription, completed by
// the writer: auto-ack acks a message once it is written, so closing the
// consumer at once would return messages the client already has (written,
// not yet acked) or is about to get (queued) to the queue, and another
// consumer would get them too.
type unsubscribe struct {
	s       *sub
	durable string // activemq.subscriptionName to remove as well
	receipt string
}

// completeUnsubscribe runs on the writer, holding wmu, once everything
// queued before the UNSUBSCRIBE is written and acked: it closes the consumer
// (deliveries still queued for it are dropped, as Close returns them to the
// queue) and queues the receipt, or an ERROR, at the front.
func (c *conn) completeUnsubscribe(u *unsubscribe) {
	u.s.closed = true
	u.s.c.Close()
	var reply outItem
	if u.durable != "" {
		if err := c.sess.Unsubscribe(u.durable); err != nil && !errors.Is(err, broker.ErrDurableUnknown) {
			f := frame.New(frame.ERROR, frame.Message, "UNSUBSCRIBE: "+err.Error())
			if u.receipt != "" {
				f.Header.Add(frame.ReceiptId, u.receipt)
			}
			reply = outItem{f: f, final: true}
		}
	}
	if reply.f == nil && u.receipt != "" {
		reply = outItem{f: frame.New(frame.RECEIPT, frame.ReceiptId, u.receipt)}
	}
	if reply.f == nil {
		return
	}
	c.outMu.Lock()
	c.out = append([]outItem{reply}, c.out...)
	if reply.final {
		c.closing = true
	}
	c.outMu.Unlock()
}

// abort ends a connection whose socket failed under the writer.
func (c *conn) abort() {
	c.cancel()
	_ = c.nc.SetReadDeadline(time.Now())
}
