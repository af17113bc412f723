// Package adaptertest holds what the protocol adapters' tests share: an
// inbox that never blocks the adapter, confirmed sends, message builders, a
// peer that accepts TCP and never answers, and a proxy that can go silent
// like a hung broker.
package adaptertest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tethermq/tether/failover/session"
	"github.com/tethermq/tether/internal/testutil"
)

// Logger discards unless TETHER_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("TETHER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// Ctx is a context that ends after d or with the test.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Target builds a dial target for uri.
func Target(t testing.TB, uri string, cfg session.Config) session.Target {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger()
	}
	return session.Target{URI: u, Config: cfg}
}

// Dial opens a session with d that the test closes at its end.
func Dial(t testing.TB, d session.Dialer, uri string, cfg session.Config) session.Session {
	t.Helper()
	s, err := d.Dial(Ctx(t, 10*time.Second), Target(t, uri, cfg))
	if err != nil {
		t.Fatalf("dial %s: %v", uri, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

// Inbox collects deliveries; its Deliver never blocks, as the contract asks.
type Inbox chan *session.Delivery

// NewInbox makes a roomy inbox.
func NewInbox() Inbox { return make(Inbox, 10000) }

// Deliver is the callback to give Subscribe.
func (in Inbox) Deliver(d *session.Delivery) {
	select {
	case in <- d:
	default:
		panic("inbox full")
	}
}

// Next waits up to 10 s for a delivery.
func (in Inbox) Next(t testing.TB) *session.Delivery {
	t.Helper()
	select {
	case d := <-in:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10s")
	}
	return nil
}

// Q and Topic name destinations.
func Q(name string) session.Destination { return session.Destination{Kind: session.Queue, Name: name} }

// Topic names a topic.
func Topic(name string) session.Destination {
	return session.Destination{Kind: session.Topic, Name: name}
}

// Send sends m with a confirmation and waits for it.
func Send(t testing.TB, s session.Session, m *session.Outgoing) {
	t.Helper()
	m.Confirm = true
	conf, err := s.Send(Ctx(t, 10*time.Second), m)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := <-conf; err != nil {
		t.Fatalf("confirmation: %v", err)
	}
}

// Msg is a message with the broker's default priority.
func Msg(d session.Destination, body string) *session.Outgoing {
	return &session.Outgoing{Destination: d, Body: []byte(body), Priority: -1}
}

// SilentPeer accepts TCP connections and never answers.
func SilentPeer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		held []net.Conn
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// Proxy forwards bytes between clients and a broker; Muted stops the
// broker-to-client direction, like a broker that hangs without closing.
type Proxy struct {
	ln     net.Listener
	target string
	Muted  atomic.Bool

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// StartProxy forwards to target until the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		cc, err := p.ln.Accept()
		if err != nil {
			return
		}
		bc, err := net.Dial("tcp", p.target)
		if err != nil {
			cc.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, cc, bc)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(bc, cc, nil)
		go p.pipe(cc, bc, &p.Muted)
	}
}

// pipe copies from src to dst until either fails; while *mute is set what
// is read is dropped.
func (p *Proxy) pipe(dst, src net.Conn, mute *atomic.Bool) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && (mute == nil || !mute.Load()) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
