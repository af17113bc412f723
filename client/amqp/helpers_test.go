package amqp_test

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

	"github.com/tethermq/tether/client/amqp"
	"github.com/tethermq/tether/failover/session"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server"
)

// testLogger discards unless TETHER_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("TETHER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// broker is a tether broker with an AMQP connector on a fixed loopback port
// and data directory, so that it can be stopped and started again in place.
type broker struct {
	t    testing.TB
	name string
	port int
	dir  string

	mu  sync.Mutex
	srv *server.Server
}

func startBroker(t testing.TB, name string) *broker {
	t.Helper()
	b := &broker{t: t, name: name, port: testutil.FreePort(t), dir: t.TempDir()}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *broker) start() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := server.Start(ctx, server.Config{
		BrokerName:          b.name,
		DataDirectory:       b.dir,
		TransportConnectors: []server.Connector{{Name: "amqp", URI: fmt.Sprintf("amqp://127.0.0.1:%d", b.port)}},
	}, testLogger())
	if err != nil {
		b.t.Fatalf("broker %s: %v", b.name, err)
	}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
}

func (b *broker) stop() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (b *broker) uri() string { return fmt.Sprintf("amqp://127.0.0.1:%d", b.port) }

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func target(t testing.TB, uri string, cfg session.Config) session.Target {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	return session.Target{URI: u, Config: cfg}
}

// dial opens a session that the test closes at its end.
func dial(t testing.TB, uri string, cfg session.Config) session.Session {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	s, err := amqp.Dialer{}.Dial(ctx, target(t, uri, cfg))
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

// inbox collects deliveries; its deliver never blocks, as the contract asks.
type inbox chan *session.Delivery

func newInbox() inbox { return make(inbox, 10000) }

func (in inbox) deliver(d *session.Delivery) {
	select {
	case in <- d:
	default:
		panic("inbox full")
	}
}

func (in inbox) next(t testing.TB) *session.Delivery {
	t.Helper()
	select {
	case d := <-in:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10s")
	}
	return nil
}

func q(name string) session.Destination { return session.Destination{Kind: session.Queue, Name: name} }

func topic(name string) session.Destination {
	return session.Destination{Kind: session.Topic, Name: name}
}

// send sends body with a confirmation and waits for it.
func send(t testing.TB, s session.Session, m *session.Outgoing) {
	t.Helper()
	m.Confirm = true
	ctx := testCtx(t, 10*time.Second)
	conf, err := s.Send(ctx, m)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := <-conf; err != nil {
		t.Fatalf("confirmation: %v", err)
	}
}

func msg(d session.Destination, body string) *session.Outgoing {
	return &session.Outgoing{Destination: d, Body: []byte(body), Priority: -1}
}

// silentPeer accepts TCP connections and never answers.
func silentPeer(t testing.TB) string {
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

// proxy forwards bytes between clients and a broker; mute stops the
// broker-to-client direction, like a broker that hangs without closing.
type proxy struct {
	ln     net.Listener
	target string
	muted  atomic.Bool

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
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

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
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
		go p.pipe(cc, bc, &p.muted)
	}
}

// pipe copies from src to dst until either fails; while *mute is set what
// is read is dropped.
func (p *proxy) pipe(dst, src net.Conn, mute *atomic.Bool) {
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
