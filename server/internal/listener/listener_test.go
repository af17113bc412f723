package listener

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

const waitFor = 5 * time.Second

// echoConn greets, then echoes lines until its socket fails; Shutdown
// closes the socket. hold, when set, delays Serve's return until closed.
type echoConn struct {
	nc   net.Conn
	hold chan struct{}
}

func (c *echoConn) Serve() {
	defer c.nc.Close()
	if _, err := io.WriteString(c.nc, "HELLO\n"); err != nil {
		return
	}
	r := bufio.NewReader(c.nc)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		if _, err := io.WriteString(c.nc, line); err != nil {
			break
		}
	}
	if c.hold != nil {
		<-c.hold
	}
}

func (c *echoConn) Shutdown() { c.nc.Close() }

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

type fixture struct {
	set    *Set[*echoConn]
	addr   string
	served chan error // Serve's result
}

func start(t *testing.T, o Options[*echoConn]) *fixture {
	t.Helper()
	if o.New == nil {
		o.New = func(nc net.Conn) *echoConn { return &echoConn{nc: nc} }
	}
	o.Logger = quiet()
	o.Protocol = "test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{set: New(o), addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { f.served <- f.set.Serve(ln) }()
	t.Cleanup(func() {
		f.set.Close()
		select {
		case <-f.served:
		case <-time.After(waitFor):
			t.Error("Serve did not return after Close")
		}
	})
	return f
}

// dial connects and reads the first line the server sends ("" at EOF).
func (f *fixture) dial(t *testing.T) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", f.addr, waitFor)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(waitFor))
	r := bufio.NewReader(nc)
	line, _ := r.ReadString('\n')
	return nc, r, line
}

func expectEOF(t *testing.T, r *bufio.Reader) {
	t.Helper()
	if b, err := io.ReadAll(r); err != nil || len(b) != 0 {
		t.Fatalf("want a clean close, got %q, %v", b, err)
	}
}

func TestLimitRefusesWithTheProtocolsAnswer(t *testing.T) {
	f := start(t, Options[*echoConn]{MaxConnections: 1, Refuse: func(nc net.Conn) {
		// Like the real refusals: read the peer's first line, answer it.
		line, _ := bufio.NewReader(nc).ReadString('\n')
		io.WriteString(nc, "FULL "+line)
	}})
	first, _, hello := f.dial(t)
	if hello != "HELLO\n" {
		t.Fatalf("first connection: %q", hello)
	}
	second, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_ = second.SetDeadline(time.Now().Add(waitFor))
	io.WriteString(second, "CONNECT\n")
	r := bufio.NewReader(second)
	if line, err := r.ReadString('\n'); line != "FULL CONNECT\n" {
		t.Fatalf("refusal: %q, %v", line, err)
	}
	expectEOF(t, r)
	if n := f.set.Len(); n != 1 {
		t.Fatalf("Len = %d with one served and one refused", n)
	}
	first.Close()
	testutil.Eventually(t, waitFor, func() bool { return f.set.Len() == 0 }, "closed connection still counted")
	if _, _, hello := f.dial(t); hello != "HELLO\n" {
		t.Fatalf("a free slot was not used: %q", hello)
	}
}

func TestLimitWithoutRefuseClosesAtOnce(t *testing.T) {
	f := start(t, Options[*echoConn]{MaxConnections: 1})
	f.dial(t)
	_, r, line := f.dial(t)
	if line != "" {
		t.Fatalf("over the limit got %q", line)
	}
	expectEOF(t, r)
}

// A flood beyond the limit gets at most MaxRefusing answers at once; the
// rest are closed without one.
func TestRefusalsAreBounded(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	refusing := 0
	f := start(t, Options[*echoConn]{MaxConnections: 1, MaxRefusing: 1, RefuseTimeout: time.Minute, Refuse: func(nc net.Conn) {
		mu.Lock()
		refusing++
		mu.Unlock()
		<-release
	}})
	defer close(release)
	f.dial(t)
	held, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	testutil.Eventually(t, waitFor, func() bool { mu.Lock(); defer mu.Unlock(); return refusing == 1 }, "refusal not started")
	_, r, line := f.dial(t)
	if line != "" {
		t.Fatalf("a refusal beyond MaxRefusing answered %q", line)
	}
	expectEOF(t, r)
}

func TestCloseClosesEveryConnectionAndServeReturns(t *testing.T) {
	f := start(t, Options[*echoConn]{})
	var rs []*bufio.Reader
	for range 3 {
		_, r, hello := f.dial(t)
		if hello != "HELLO\n" {
			t.Fatalf("got %q", hello)
		}
		rs = append(rs, r)
	}
	testutil.Eventually(t, waitFor, func() bool { return f.set.Len() == 3 }, "not all served")
	if err := f.set.Close(); err != nil {
		t.Fatal(err)
	}
	if n := f.set.Len(); n != 0 {
		t.Fatalf("Close returned with %d connections", n)
	}
	for _, r := range rs {
		expectEOF(t, r)
	}
	select {
	case err := <-f.served:
		f.served <- err // for the cleanup
		if err != nil {
			t.Fatalf("Serve after Close: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Serve did not return")
	}
	if _, err := net.DialTimeout("tcp", f.addr, time.Second); err == nil {
		t.Fatal("the listener still accepts after Close")
	}
}

// The first Close waits for connections; a second one, even while the
// first is waiting, returns nil at once.
func TestCloseTwice(t *testing.T) {
	hold := make(chan struct{})
	f := start(t, Options[*echoConn]{New: func(nc net.Conn) *echoConn { return &echoConn{nc: nc, hold: hold} }})
	f.dial(t)
	testutil.Eventually(t, waitFor, func() bool { return f.set.Len() == 1 }, "not served")
	first := make(chan error, 1)
	go func() { first <- f.set.Close() }()
	testutil.Eventually(t, waitFor, f.set.Closed, "Close did not start")
	done := make(chan error, 1)
	go func() { done <- f.set.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("second Close: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("the second Close waited")
	}
	select {
	case <-first:
		t.Fatal("the first Close returned before its connection's Serve did")
	default:
	}
	close(hold)
	select {
	case err := <-first:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("the first Close did not return")
	}
	if err := f.set.Close(); err != nil {
		t.Fatalf("third Close: %v", err)
	}
}

// Close ends refusals that are waiting on a silent peer instead of waiting
// out their timeout.
func TestCloseEndsRefusals(t *testing.T) {
	refusing := make(chan struct{})
	f := start(t, Options[*echoConn]{MaxConnections: 1, RefuseTimeout: time.Minute, Refuse: func(nc net.Conn) {
		close(refusing)
		_, _ = nc.Read(make([]byte, 1)) // the peer never writes
	}})
	f.dial(t)
	silent, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	select {
	case <-refusing:
	case <-time.After(waitFor):
		t.Fatal("refusal did not start")
	}
	closed := make(chan struct{})
	go func() { f.set.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(waitFor):
		t.Fatal("Close waited for a refusal's timeout")
	}
}

// Close while Serve is blocked in Accept, and Serve after Close.
func TestCloseWhileAccepting(t *testing.T) {
	f := start(t, Options[*echoConn]{})
	if err := f.set.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-f.served:
		f.served <- err
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Serve did not return")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.set.Serve(ln); err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve after Close left its listener open: %v", err)
	}
}

// flakyListener fails Accept with temporary errors, then hands out conns,
// then fails for good.
type flakyListener struct {
	net.Listener
	mu        sync.Mutex
	temporary int
	permanent bool
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "accept: too many open files" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var errBroken = errors.New("listener broken")

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.temporary > 0 {
		l.temporary--
		l.mu.Unlock()
		return nil, timeoutErr{}
	}
	broken := l.permanent
	l.mu.Unlock()
	if broken {
		return nil, errBroken
	}
	return l.Listener.Accept()
}

func TestTemporaryAcceptErrorsBackOffAndPermanentOnesReturn(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	fl := &flakyListener{Listener: inner, temporary: 4}
	set := New(Options[*echoConn]{Protocol: "test", Logger: quiet(), New: func(nc net.Conn) *echoConn { return &echoConn{nc: nc} }})
	defer set.Close()
	served := make(chan error, 1)
	go func() { served <- set.Serve(fl) }()
	nc, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(waitFor))
	if line, err := bufio.NewReader(nc).ReadString('\n'); line != "HELLO\n" {
		t.Fatalf("after temporary errors: %q, %v", line, err)
	}
	fl.mu.Lock()
	fl.permanent = true
	fl.mu.Unlock()
	// The loop is blocked in the real Accept: one more connection gets it
	// to look at the flag.
	if c, err := net.Dial("tcp", inner.Addr().String()); err == nil {
		defer c.Close()
	}
	select {
	case err := <-served:
		if !errors.Is(err, errBroken) || !strings.HasPrefix(err.Error(), "test: accept:") {
			t.Fatalf("Serve returned %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Serve did not return on a permanent error")
	}
}
