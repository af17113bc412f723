package amqp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/store"
)

// testTimeout bounds every client operation in these tests.
const testTimeout = 10 * time.Second

func testLogger() *slog.Logger {
	if testing.Verbose() && os.Getenv("AMQP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// env is a broker with its store and an AMQP connector on a loopback port.
type env struct {
	t      testing.TB
	dir    string
	opts   Options
	st     *store.Journal
	b      *broker.Broker
	srv    *Server
	addr   string
	served chan error
}

// startEnv starts a broker over a store in dir (a new temporary directory
// when empty) and the connector; the test's cleanup stops them.
func startEnv(t testing.TB, o Options, dir string) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if o.Logger == nil {
		o.Logger = testLogger()
	}
	e := &env{t: t, dir: dir, opts: o}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (e *env) start() {
	e.t.Helper()
	st, err := store.OpenJournal(e.dir, store.JournalOptions{Logger: e.opts.Logger})
	if err != nil {
		e.t.Fatalf("open store: %v", err)
	}
	b, err := broker.New(broker.Config{Logger: e.opts.Logger}, st)
	if err != nil {
		st.Close()
		e.t.Fatalf("start broker: %v", err)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(e.t)))
	if err != nil {
		b.Close()
		st.Close()
		e.t.Fatalf("listen: %v", err)
	}
	e.st, e.b, e.addr = st, b, ln.Addr().String()
	e.srv = New(b, e.opts)
	e.served = make(chan error, 1)
	go func() { e.served <- e.srv.Serve(ln) }()
}

// stop closes the connector, the broker and the store; it is idempotent.
func (e *env) stop() {
	if e.srv == nil {
		return
	}
	if err := e.srv.Close(); err != nil {
		e.t.Errorf("server close: %v", err)
	}
	select {
	case err := <-e.served:
		if err != nil {
			e.t.Errorf("Serve returned %v after Close, want nil", err)
		}
	case <-time.After(testTimeout):
		e.t.Errorf("Serve did not return after Close")
	}
	e.b.Close()
	e.st.Close()
	e.srv = nil
}

// restart stops everything and starts again on the same store.
func (e *env) restart() {
	e.stop()
	e.start()
}

func (e *env) url() string { return "amqp://" + e.addr }

// dial connects a go-amqp client; the test's cleanup closes it.
func (e *env) dial(o *goamqp.ConnOptions) *goamqp.Conn {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := goamqp.Dial(ctx, e.url(), o)
	if err != nil {
		e.t.Fatalf("dial %s: %v", e.url(), err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) session(c *goamqp.Conn) *goamqp.Session {
	e.t.Helper()
	s, err := c.NewSession(ctxT(e.t), nil)
	if err != nil {
		e.t.Fatalf("new session: %v", err)
	}
	return s
}

func (e *env) sender(s *goamqp.Session, target string, o *goamqp.SenderOptions) *goamqp.Sender {
	e.t.Helper()
	snd, err := s.NewSender(ctxT(e.t), target, o)
	if err != nil {
		e.t.Fatalf("new sender %q: %v", target, err)
	}
	return snd
}

func (e *env) receiver(s *goamqp.Session, source string, o *goamqp.ReceiverOptions) *goamqp.Receiver {
	e.t.Helper()
	r, err := s.NewReceiver(ctxT(e.t), source, o)
	if err != nil {
		e.t.Fatalf("new receiver %q: %v", source, err)
	}
	return r
}

// client is the usual test setup: one connection, one session.
func (e *env) client() *goamqp.Session {
	e.t.Helper()
	return e.session(e.dial(nil))
}

// ctxT returns a context bounded by testTimeout, cancelled at cleanup.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func send(t testing.TB, s *goamqp.Sender, m *goamqp.Message) {
	t.Helper()
	if err := s.Send(ctxT(t), m, nil); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func receive(t testing.TB, r *goamqp.Receiver) *goamqp.Message {
	t.Helper()
	m, err := r.Receive(ctxT(t), nil)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

func accept(t testing.TB, r *goamqp.Receiver, m *goamqp.Message) {
	t.Helper()
	if err := r.AcceptMessage(ctxT(t), m); err != nil {
		t.Fatalf("accept: %v", err)
	}
}

// stats returns the broker's counters for a queue (zero if it has none).
func (e *env) stats(queue string) broker.QueueStats {
	for _, s := range e.b.Stats() {
		if s.Destination == "queue://"+queue && s.Subscription == "" {
			return s
		}
	}
	return broker.QueueStats{}
}

func ptr[T any](v T) *T { return &v }
