package stomp

import (
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/store"
)

// testBroker is a broker with a STOMP connector on a loopback port.
type testBroker struct {
	t    testing.TB
	dir  string
	st   store.Store
	b    *broker.Broker
	srv  *Server
	addr string

	login, passcode string // used by dial
}

func quietLogger() *slog.Logger {
	if os.Getenv("TETHER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func startBroker(t testing.TB, cfg broker.Config, o Options) *testBroker {
	t.Helper()
	return startBrokerIn(t, t.TempDir(), "127.0.0.1:0", cfg, o)
}

func startBrokerIn(t testing.TB, dir, addr string, cfg broker.Config, o Options) *testBroker {
	t.Helper()
	st, err := store.OpenJournal(dir, store.JournalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = quietLogger()
	b, err := broker.New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	o.Logger = cfg.Logger
	srv := New(b, o)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tb := &testBroker{t: t, dir: dir, st: st, b: b, srv: srv, addr: ln.Addr().String()}
	go srv.Serve(ln)
	t.Cleanup(tb.stop)
	return tb
}

func (tb *testBroker) stop() {
	if tb.srv == nil {
		return
	}
	tb.srv.Close()
	tb.b.Close()
	tb.st.Close()
	tb.srv = nil
}

func (tb *testBroker) dial(opts ...func(*gostomp.Conn) error) *gostomp.Conn {
	tb.t.Helper()
	opts = append([]func(*gostomp.Conn) error{gostomp.ConnOpt.HeartBeat(0, 0), gostomp.ConnOpt.Logger(nopLogger{})}, opts...)
	if tb.login != "" {
		opts = append(opts, gostomp.ConnOpt.Login(tb.login, tb.passcode))
	}
	c, err := gostomp.Dial("tcp", tb.addr, opts...)
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Cleanup(func() { c.MustDisconnect() })
	return c
}

type nopLogger struct{}

func (nopLogger) Debugf(string, ...interface{})   {}
func (nopLogger) Debug(string)                    {}
func (nopLogger) Infof(string, ...interface{})    {}
func (nopLogger) Info(string)                     {}
func (nopLogger) Warningf(string, ...interface{}) {}
func (nopLogger) Warning(string)                  {}
func (nopLogger) Errorf(string, ...interface{})   {}
func (nopLogger) Error(string)                    {}

// recv waits for one message with a deadline.
func recv(t testing.TB, s *gostomp.Subscription) *gostomp.Message {
	t.Helper()
	select {
	case m, ok := <-s.C:
		if !ok {
			t.Fatal("subscription closed")
		}
		if m.Err != nil {
			t.Fatalf("subscription error: %v", m.Err)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
	}
	return nil
}

// noMessage asserts that nothing arrives within d.
func noMessage(t testing.TB, s *gostomp.Subscription, d time.Duration) {
	t.Helper()
	select {
	case m := <-s.C:
		t.Fatalf("unexpected message: %v", m)
	case <-time.After(d):
	}
}

var errBadCreds = errorString("bad credentials")

type errorString string

func (e errorString) Error() string { return string(e) }
