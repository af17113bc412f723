package network_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server"
	"github.com/tethermq/tether/server/network"
)

// testBroker is an in-process refbroker on a loopback port.
type testBroker struct {
	name     string
	port     int
	dir      string
	memLimit server.ByteSize // 0: the default
	users    []server.User   // none: anonymous access
	logs     *logBuffer      // when set, also receives the broker's log
	srv      *server.Server
}

func (b *testBroker) uri() string { return fmt.Sprintf("tcp://127.0.0.1:%d", b.port) }

func testLogger(t testing.TB, name string) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("TETHER_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("broker", name)
}

// newBroker prepares a broker; start runs it with the given connectors.
func newBroker(t *testing.T, name string) *testBroker {
	return &testBroker{name: name, port: testutil.FreePort(t), dir: t.TempDir()}
}

func (b *testBroker) start(t *testing.T, ncs ...network.Options) *testBroker {
	t.Helper()
	cfg := server.Default()
	cfg.BrokerName = b.name
	cfg.DataDirectory = b.dir
	cfg.AdminAddress = ""
	cfg.TransportConnectors = []server.Connector{{Name: "native", URI: b.uri()}}
	cfg.NetworkConnectors = ncs
	cfg.MemoryLimit = b.memLimit
	cfg.Users = b.users
	logger := testLogger(t, b.name)
	if b.logs != nil {
		logger = slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelInfo})).With("broker", b.name)
	}
	srv, err := server.Start(context.Background(), cfg, logger)
	if err != nil {
		t.Fatalf("start %s: %v", b.name, err)
	}
	b.srv = srv
	t.Cleanup(func() { srv.Close() })
	return b
}

// nc is a network connector with the defaults and uri.
func nc(uri string, edit ...func(*network.Options)) network.Options {
	o := network.Defaults()
	o.URI = uri
	for _, e := range edit {
		e(&o)
	}
	return o
}

func staticTo(bs ...*testBroker) string {
	s := "static:("
	for i, b := range bs {
		if i > 0 {
			s += ","
		}
		s += b.uri()
	}
	return s + ")?initialReconnectDelay=100&maxReconnectDelay=1000"
}

// waitBridge waits until b has an established bridge to remote.
func waitBridge(t *testing.T, b *testBroker, remote string) {
	t.Helper()
	testutil.Eventually(t, 20*time.Second, func() bool {
		for _, bi := range b.srv.NetworkBridges() {
			if bi.Remote == remote {
				return true
			}
		}
		return false
	}, "%s bridged to %s", b.name, remote)
}

func dial(t *testing.T, b *testBroker) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, b.uri())
	if err != nil {
		t.Fatalf("dial %s: %v", b.name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sendN(t *testing.T, c *client.Conn, dest string, from, to int, opts ...client.SendOption) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := from; i < to; i++ {
		if err := c.Send(ctx, dest, []byte(strconv.Itoa(i)), opts...); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

// tally counts received message bodies across consumers.
type tally struct {
	mu   sync.Mutex
	seen map[string]int
	by   map[string]int // per consumer label
}

func newTally() *tally { return &tally{seen: map[string]int{}, by: map[string]int{}} }

func (tl *tally) add(label, body string) {
	tl.mu.Lock()
	tl.seen[body]++
	tl.by[label]++
	tl.mu.Unlock()
}

func (tl *tally) distinct() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.seen)
}

func (tl *tally) count(label string) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.by[label]
}

// check fails on a duplicate or a missing body among 0..n-1.
func (tl *tally) check(t *testing.T, n int) {
	t.Helper()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for i := range n {
		if c := tl.seen[strconv.Itoa(i)]; c != 1 {
			t.Errorf("message %d received %d times", i, c)
		}
	}
	if len(tl.seen) != n {
		t.Errorf("%d distinct messages, want %d", len(tl.seen), n)
	}
}

// consume receives from dest on c until ctx ends or limit messages (0: no
// limit), acking each, counting into tl under label.
func consume(ctx context.Context, t *testing.T, c *client.Conn, dest, label string, tl *tally, limit int) <-chan struct{} {
	t.Helper()
	sub, err := c.Subscribe(ctx, dest, client.AckIndividual)
	if err != nil {
		t.Fatalf("subscribe %s on %s: %v", dest, label, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = sub.Unsubscribe(uctx)
		}()
		for n := 0; limit == 0 || n < limit; n++ {
			m, err := sub.Next(ctx)
			if err != nil {
				return
			}
			if err := m.Ack(ctx); err != nil {
				return
			}
			tl.add(label, string(m.Body()))
		}
	}()
	return done
}

// logBuffer collects log output for a test to look into.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf = append(l.buf, p...)
	l.mu.Unlock()
	return len(p), nil
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(string(l.buf), s)
}
