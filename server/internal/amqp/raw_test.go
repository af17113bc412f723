package amqp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
)

// raw is a hand-driven AMQP peer for what a real client never sends.
type raw struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func (e *env) raw(t *testing.T) *raw {
	t.Helper()
	nc, err := net.DialTimeout("tcp", e.addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if err := nc.SetDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	return &raw{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *raw) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("raw write: %v", err)
	}
}

func (r *raw) frame(ch uint16, p wire.Performative) { r.write(wire.AppendFrame(nil, ch, p, nil)) }

func (r *raw) expectHeader(want [8]byte) {
	r.t.Helper()
	h, err := wire.ReadProtocolHeader(r.br)
	if err != nil || h != want {
		r.t.Fatalf("protocol header %q, %v; want %q", h[:], err, want[:])
	}
}

func (r *raw) read() wire.Performative {
	r.t.Helper()
	for {
		f, err := wire.ReadFrame(r.br, 1<<20)
		if err != nil {
			r.t.Fatalf("raw read: %v", err)
		}
		if f.Body != nil { // skip heart-beats
			return f.Body
		}
	}
}

// open does the handshake without SASL, announcing no idle timeout.
func (r *raw) open() {
	r.t.Helper()
	r.write(wire.HeaderAMQP[:])
	r.frame(0, &wire.Open{ContainerID: "raw", MaxFrameSize: 65536, ChannelMax: 10})
	r.expectHeader(wire.HeaderAMQP)
	if _, ok := r.read().(*wire.Open); !ok {
		r.t.Fatalf("no open from the broker")
	}
}

// expectClose reads until the broker's close, checks its condition, then
// expects the socket to be closed.
func (r *raw) expectClose(cond wire.Symbol) {
	r.t.Helper()
	for {
		p := r.read()
		c, ok := p.(*wire.Close)
		if !ok {
			continue
		}
		if c.Error == nil || c.Error.Condition != cond {
			r.t.Fatalf("close %+v, want condition %s", c.Error, cond)
		}
		break
	}
	r.expectEOF()
}

func (r *raw) expectEOF() {
	r.t.Helper()
	if _, err := r.br.ReadByte(); !errors.Is(err, io.EOF) && !isConnReset(err) {
		r.t.Fatalf("connection still open after close: %v", err)
	}
}

func TestMalformedInput(t *testing.T) {
	e := startEnv(t, Options{}, "")
	// A healthy client on the same broker throughout.
	s := e.client()
	snd := e.sender(s, "healthy", nil)
	rcv := e.receiver(s, "healthy", &goamqp.ReceiverOptions{Credit: 10})
	roundTrip := func() {
		t.Helper()
		send(t, snd, goamqp.NewMessage([]byte("still here")))
		accept(t, rcv, receive(t, rcv))
	}

	garbage := []byte{0, 0, 0, 16, 2, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef}
	t.Run("garbage instead of open", func(t *testing.T) {
		r := e.raw(t)
		r.write(wire.HeaderAMQP[:])
		r.write(garbage)
		r.expectHeader(wire.HeaderAMQP)
		if _, ok := r.read().(*wire.Open); !ok {
			t.Fatal("a close must follow an open")
		}
		r.expectClose(wire.CondDecodeError)
	})
	t.Run("garbage after open", func(t *testing.T) {
		r := e.raw(t)
		r.open()
		r.write(garbage)
		r.expectClose(wire.CondDecodeError)
	})
	t.Run("bad frame header", func(t *testing.T) {
		r := e.raw(t)
		r.open()
		r.write([]byte{0, 0, 0, 3, 2, 0, 0, 0})
		r.expectClose(wire.CondDecodeError)
	})
	t.Run("hostile list count", func(t *testing.T) {
		r := e.raw(t)
		r.open()
		body := []byte{0x00, 0x53, 0x11, 0xd0, 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0x40, 0x40, 0x40, 0x40}
		r.write(append([]byte{0, 0, 0, byte(8 + len(body)), 2, 0, 0, 0}, body...))
		r.expectClose(wire.CondDecodeError)
	})
	t.Run("frame beyond max-frame-size", func(t *testing.T) {
		r := e.raw(t)
		r.open()
		r.write([]byte{0x7f, 0xff, 0xff, 0xff, 2, 0, 0, 0})
		r.expectClose(wire.CondFramingError)
	})
	t.Run("garbage after the SASL header", func(t *testing.T) {
		r := e.raw(t)
		r.write(wire.HeaderSASL[:])
		r.write(garbage)
		r.expectHeader(wire.HeaderSASL)
		if _, ok := r.read().(*wire.SASLMechanisms); !ok {
			t.Fatal("no sasl-mechanisms")
		}
		if o, ok := r.read().(*wire.SASLOutcome); !ok || o.Code != wire.SASLSysPerm {
			t.Fatalf("want a sys-perm outcome, got %+v", o)
		}
		r.expectEOF()
	})
	t.Run("unknown protocol header", func(t *testing.T) {
		r := e.raw(t)
		r.write([]byte("GET / HTTP/1.1\r\n\r\n"))
		r.expectHeader(wire.HeaderAMQP) // what the broker speaks
		r.expectEOF()
	})
	t.Run("transfer on an unattached handle ends the session only", func(t *testing.T) {
		r := e.raw(t)
		r.open()
		r.frame(0, &wire.Begin{NextOutgoingID: 0, IncomingWindow: 100, OutgoingWindow: 100})
		if _, ok := r.read().(*wire.Begin); !ok {
			t.Fatal("no begin")
		}
		id := uint32(0)
		r.write(wire.AppendFrame(nil, 0, &wire.Transfer{Handle: 9, DeliveryID: &id, DeliveryTag: []byte{1}}, []byte{0x00, 0x53, 0x75, 0xa0, 0}))
		end, ok := r.read().(*wire.End)
		if !ok || end.Error == nil || end.Error.Condition != wire.CondUnattachedHandle {
			t.Fatalf("want end with unattached-handle, got %+v", end)
		}
		// The connection itself carries on.
		r.frame(0, &wire.End{})
		r.frame(0, &wire.Close{})
		if c, ok := r.read().(*wire.Close); !ok || c.Error != nil {
			t.Fatalf("want a clean close, got %+v", c)
		}
		r.expectEOF()
	})
	roundTrip()
}

// A peer that completes the handshake and then says nothing is closed
// after the idle timeout.
func TestIdleTimeoutClosesSilentPeer(t *testing.T) {
	e := startEnv(t, Options{IdleTimeout: 300 * time.Millisecond}, "")
	r := e.raw(t)
	start := time.Now()
	r.open()
	r.expectClose(wire.CondResourceLimit)
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
}

// Heart-beats keep an idle connection alive both ways: the client's keep
// the broker from timing it out, the broker's keep the client from timing
// the broker out.
func TestHeartbeatsKeepIdleConnectionOpen(t *testing.T) {
	e := startEnv(t, Options{IdleTimeout: 200 * time.Millisecond}, "")
	c := e.dial(&goamqp.ConnOptions{IdleTimeout: 200 * time.Millisecond})
	s := e.session(c)
	rcv := e.receiver(s, "quiet", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	if _, err := rcv.Receive(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("idle receive: %v, want the context's deadline", err)
	}
	snd := e.sender(s, "quiet", nil)
	send(t, snd, goamqp.NewMessage([]byte("after a quiet second")))
	accept(t, rcv, receive(t, rcv))
}

func TestServerCloseEndsConnections(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	rcv := e.receiver(s, "closing", nil)
	r := e.raw(t)
	r.open()
	e.stop()
	r.expectClose(wire.CondConnectionForced)
	var connErr *goamqp.ConnError
	if _, err := rcv.Receive(ctxT(t), nil); !errors.As(err, &connErr) {
		t.Fatalf("receive after server close: %v, want a *ConnError", err)
	}
}

// Over maximumConnections the peer's open is answered with an open that
// says a close follows, and a close with amqp:resource-limit-exceeded.
func TestMaxConnections(t *testing.T) {
	e := startEnv(t, Options{MaxConnections: 1}, "")
	e.dial(nil)

	r := e.raw(t)
	r.write(wire.HeaderAMQP[:])
	r.frame(0, &wire.Open{ContainerID: "raw", MaxFrameSize: 65536, ChannelMax: 10})
	r.expectHeader(wire.HeaderAMQP)
	open, ok := r.read().(*wire.Open)
	if !ok {
		t.Fatal("no open before the close")
	}
	hinted := false
	for _, p := range open.Properties {
		hinted = hinted || (p.Key == wire.Symbol(connectionEstablishmentFailed) && p.Value == true)
	}
	if !hinted {
		t.Errorf("open properties %v lack %s", open.Properties, connectionEstablishmentFailed)
	}
	r.expectClose(wire.CondResourceLimit)

	// go-amqp takes the open for success; the close that follows fails
	// its first use with the condition.
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := goamqp.Dial(ctx, e.url(), nil)
	if err == nil {
		defer c.Close()
		_, err = c.NewSession(ctx, nil)
	}
	var ce *goamqp.ConnError
	if !errors.As(err, &ce) || ce.RemoteErr == nil || ce.RemoteErr.Condition != goamqp.ErrCondResourceLimitExceeded ||
		!strings.Contains(ce.RemoteErr.Description, "maximum connections (1) reached") {
		t.Fatalf("second connection: %v", err)
	}
	if n := e.srv.Connections(); n != 1 {
		t.Fatalf("Connections = %d, want 1", n)
	}
}

// A refused client that authenticates with SASL first is refused after
// the SASL exchange, in the same way.
func TestMaxConnectionsAfterSASL(t *testing.T) {
	e := startEnv(t, Options{MaxConnections: 1, Authenticate: users(map[string]string{"alice": "secret"})}, "")
	plain := &goamqp.ConnOptions{SASLType: goamqp.SASLTypePlain("alice", "secret")}
	e.dial(plain)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := goamqp.Dial(ctx, e.url(), plain)
	if err == nil {
		defer c.Close()
		_, err = c.NewSession(ctx, nil)
	}
	var ce *goamqp.ConnError
	if !errors.As(err, &ce) || ce.RemoteErr == nil || ce.RemoteErr.Condition != goamqp.ErrCondResourceLimitExceeded {
		t.Fatalf("second connection: %v", err)
	}
	// Wrong credentials still fail as authentication, not as the limit.
	if err := dialErr(e, &goamqp.ConnOptions{SASLType: goamqp.SASLTypePlain("alice", "wrong")}); err == nil ||
		strings.Contains(err.Error(), "resource-limit") {
		t.Fatalf("bad credentials over the limit: %v", err)
	}
}

// Close twice: the second returns at once, as in every connector.
func TestCloseTwice(t *testing.T) {
	e := startEnv(t, Options{}, "")
	e.dial(nil)
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("second Close did not return")
	}
}

// Incomplete messages are bounded per connection, not only per link: a
// peer cannot hold MaxMessageSize bytes open on every link at once.
func TestIncompleteMessagesBoundedPerConnection(t *testing.T) {
	e := startEnv(t, Options{MaxMessageSize: 8 << 10}, "")
	r := e.raw(t)
	r.open()
	r.frame(0, &wire.Begin{NextOutgoingID: 0, IncomingWindow: 100, OutgoingWindow: 100, HandleMax: 7})
	if _, ok := r.read().(*wire.Begin); !ok {
		t.Fatal("no begin")
	}
	for h := range uint32(2) {
		r.frame(0, &wire.Attach{Name: fmt.Sprint("l", h), Handle: h, Role: wire.RoleSender, Target: &wire.Target{Address: "partial"}})
	}
	attached := 0
	for attached < 2 {
		switch p := r.read().(type) {
		case *wire.Attach:
			attached++
		case *wire.End, *wire.Detach, *wire.Close:
			t.Fatalf("attach failed: %+v", p)
		}
	}
	chunk := make([]byte, 5<<10) // under the limit alone, over it together
	for h := range uint32(2) {
		id := h
		r.write(wire.AppendFrame(nil, 0, &wire.Transfer{Handle: h, DeliveryID: &id, DeliveryTag: []byte{byte(h)}, More: true}, chunk))
	}
	for {
		switch p := r.read().(type) {
		case *wire.Detach:
			if p.Handle != 1 || p.Error == nil || p.Error.Condition != wire.CondResourceLimit {
				t.Fatalf("detach %+v, want handle 1 with resource-limit-exceeded", p)
			}
			return
		case *wire.Close, *wire.End:
			t.Fatalf("got %T: only the link should end", p)
		}
	}
}
