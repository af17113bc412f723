package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/adaptertest"
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

// broker is a restartable in-process tether broker (STOMP connector).
type broker struct{ *adaptertest.Broker }

func startBroker(t testing.TB, name string, users ...server.User) *broker {
	t.Helper()
	return &broker{adaptertest.StartBroker(t, name, "stomp", users...)}
}

// uri is the broker's address as a tether URI; tcp:// is STOMP.
func (b *broker) uri() string { return "tcp://" + b.Addr() }

// events records a Conn's events.
type events struct {
	mu  sync.Mutex
	all []client.Event
}

func (e *events) handler(ev client.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) of(kind client.EventKind) []client.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []client.Event
	for _, ev := range e.all {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (e *events) count(kind client.EventKind) int { return len(e.of(kind)) }

func dial(t testing.TB, uri string, opts ...client.Option) (*client.Conn, *events) {
	t.Helper()
	ev := &events{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts = append([]client.Option{client.WithLogger(testLogger()), client.WithEventHandler(ev.handler)}, opts...)
	c, err := client.Dial(ctx, uri, opts...)
	if err != nil {
		t.Fatalf("Dial %s: %v", uri, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ev
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// hostile is a listener that accepts TCP and then misbehaves.
type hostile struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	held []net.Conn
	hits atomic.Int32
}

// silentPeer accepts and never answers (a standby behind a load balancer).
func silentPeer(t testing.TB) *hostile {
	return listenHostile(t, func(h *hostile, c net.Conn) {
		h.mu.Lock()
		h.held = append(h.held, c) // keep it open, say nothing
		h.mu.Unlock()
	})
}

// resetPeer accepts and resets the connection at once.
func resetPeer(t testing.TB) *hostile {
	return listenHostile(t, func(h *hostile, c net.Conn) {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	})
}

func listenHostile(t testing.TB, handle func(*hostile, net.Conn)) *hostile {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	h := &hostile{ln: ln}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.hits.Add(1)
			handle(h, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		h.wg.Wait()
		h.mu.Lock()
		for _, c := range h.held {
			c.Close()
		}
		h.mu.Unlock()
	})
	return h
}

func (h *hostile) uri() string { return "tcp://" + h.ln.Addr().String() }

// proxy forwards STOMP between clients and a broker frame by frame, and
// lets a test interfere with the client's frames.
type proxy struct {
	ln     net.Listener
	target string
	// onClientFrame decides each client frame's fate.
	onClientFrame func(*frame.Frame) verdict

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

type verdict int

const (
	forward        verdict = iota
	swallowAndKill         // drop the frame and cut the connection
	forwardAndMute         // forward it, and forward nothing back from then on
)

func startProxy(t testing.TB, target string, onClientFrame func(*frame.Frame) verdict) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, onClientFrame: onClientFrame}
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

func (p *proxy) uri() string { return "tcp://" + p.ln.Addr().String() }

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
		var muted atomic.Bool
		p.wg.Add(2)
		go func() { // client -> broker, frame by frame
			defer p.wg.Done()
			defer bc.Close()
			defer cc.Close()
			r, w := frame.NewReader(cc), frame.NewWriter(bc)
			for {
				f, err := r.Read()
				if err != nil {
					return
				}
				v := forward
				if f != nil {
					v = p.onClientFrame(f)
				}
				switch v {
				case swallowAndKill:
					if tc, ok := cc.(*net.TCPConn); ok {
						_ = tc.SetLinger(0)
					}
					return
				case forwardAndMute:
					muted.Store(true)
				}
				if err := w.Write(f); err != nil {
					return
				}
			}
		}()
		go func() { // broker -> client, bytes
			defer p.wg.Done()
			defer cc.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := bc.Read(buf)
				if n > 0 && !muted.Load() {
					if _, werr := cc.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

type frameT = frame.Frame
