//go:build interop

package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/jackc/pgx/v5"
	"github.com/tethermq/tether/internal/pgtest"
	"github.com/tethermq/tether/internal/testutil"
)

// stompTo connects go-stomp over a connection with a deadline, so that no
// test can hang on a frame that never comes (go-stomp has no timeouts).
func stompTo(t *testing.T, addr string, opts ...func(*gostomp.Conn) error) (*gostomp.Conn, net.Conn) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(45 * time.Second))
	conn, err := gostomp.Connect(nc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return conn, nc
}

func jdbcConfig(t *testing.T, name, url string) Config {
	return Config{
		BrokerName: name, DataDirectory: t.TempDir(),
		TransportConnectors: []Connector{{Name: "stomp", URI: fmt.Sprintf("stomp://127.0.0.1:%d", testutil.FreePort(t))}},
		PersistenceAdapter: &PersistenceAdapter{JDBC: &JDBCAdapter{URL: url,
			LockKeepAlivePeriod: Duration(250 * time.Millisecond), LockAcquireSleepInterval: Duration(1500 * time.Millisecond)}},
	}
}

// TestJDBCMasterSlaveInProcess: two brokers on one database; the second
// waits as a slave, takes over when the first stops, and finds every
// message the first confirmed.
func TestJDBCMasterSlaveInProcess(t *testing.T) {
	c := pgtest.Start(t)
	url := c.CreateDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := Start(ctx, jdbcConfig(t, "a", url), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	bCfg := jdbcConfig(t, "b", url)
	type started struct {
		s   *Server
		err error
	}
	bDone := make(chan started, 1)
	go func() {
		s, err := Start(ctx, bCfg, quiet())
		bDone <- started{s, err}
	}()

	conn, nc := stompTo(t, a.Addr("stomp"))
	const n = 300
	for i := range n {
		if err := conn.Send("/queue/jdbc", "text/plain", []byte(strconv.Itoa(i)),
			gostomp.SendOpt.Receipt, gostomp.SendOpt.Header("persistent", "true")); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	nc.Close()
	// Consume and ack a third on a. The connection is dropped under the
	// subscription afterwards (go-stomp's Unsubscribe waits on a full
	// channel): what a left unacked goes back to the queue.
	conn, nc = stompTo(t, a.Addr("stomp"))
	// A small prefetch keeps go-stomp's reader from blocking on a full
	// subscription channel (it would hold up the receipt below).
	sub, err := conn.Subscribe("/queue/jdbc", gostomp.AckClientIndividual, gostomp.SubscribeOpt.Header("activemq.prefetchSize", "2"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n / 3 {
		var m *gostomp.Message
		select {
		case m = <-sub.C:
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d not received", i)
		}
		if m.Err != nil || string(m.Body) != strconv.Itoa(i) {
			t.Fatalf("message %d: %v %q", i, m.Err, m.Body)
		}
		if err := conn.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	// Acks carry no receipt: a persistent send with one, after them on
	// the same connection, returns once they are stored too.
	if err := conn.Send("/queue/marker", "text/plain", []byte("m"), gostomp.SendOpt.Receipt,
		gostomp.SendOpt.Header("persistent", "true")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	select {
	case r := <-bDone:
		t.Fatalf("b became master while a serves: %v", r.err)
	default:
	}
	if a.Role() != RoleMaster {
		t.Fatalf("a is %s", a.Role())
	}
	a.Close()
	var b *Server
	select {
	case r := <-bDone:
		if r.err != nil {
			t.Fatal(r.err)
		}
		b = r.s
	case <-time.After(10 * time.Second):
		t.Fatal("b did not take over")
	}
	defer b.Close()
	conn, _ = stompTo(t, b.Addr("stomp"))
	sub, err = conn.Subscribe("/queue/jdbc", gostomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	for i := n / 3; i < n; i++ {
		select {
		case m := <-sub.C:
			if m.Err != nil || string(m.Body) != strconv.Itoa(i) {
				t.Fatalf("message %d on b: %v %q", i, m.Err, m.Body)
			}
			if err := conn.Ack(m); err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d not received on b", i)
		}
	}
	if u := b.st.Usage(); u.DiskBytes <= 0 {
		t.Fatalf("usage %+v", u)
	}
}

// TestJDBCStartupErrors: a broker that cannot use its database says so at
// start, naming the setting, instead of waiting as a slave.
func TestJDBCStartupErrors(t *testing.T) {
	c := pgtest.Start(t)
	good := c.CreateDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	future := c.CreateDB(t)
	s, err := Start(ctx, jdbcConfig(t, "f", future), quiet())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	pc, err := pgx.Connect(ctx, future)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	if _, err := pc.Exec(ctx, "UPDATE tether_schema SET version = version + 1 WHERE component = 'store'"); err != nil {
		t.Fatal(err)
	}

	cases := []struct{ name, url, want string }{
		{"unreachable", fmt.Sprintf("postgres://tether:x@127.0.0.1:%d/db?sslmode=disable&connect_timeout=2", testutil.FreePort(t)), "server unreachable"},
		{"wrong password", strings.Replace(good, pgtest.Password, "wrong", 1), "login refused"},
		{"missing database", c.URL("nosuchdb"), "does not exist"},
		{"schema from the future", future, "newer than this broker"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(ctx, jdbcConfig(t, "x", tc.url), quiet())
			if err == nil {
				s.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), "persistenceAdapter.jdbc.url") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q: want it to name persistenceAdapter.jdbc.url and say %q", err, tc.want)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("waited instead of failing: %v", err)
			}
		})
	}
}

// TestJDBCBacklogBeyondMemory: a persistent backlog many times memoryLimit
// stays in the database and is paged in as consumers take it, in order,
// across a restart in the middle of the drain.
func TestJDBCBacklogBeyondMemory(t *testing.T) {
	c := pgtest.Start(t)
	url := c.CreateDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := jdbcConfig(t, "big", url)
	cfg.MemoryLimit = 1 << 20
	s, err := Start(ctx, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	const n, size = 4000, 2048 // 8 MiB: eight times memoryLimit
	body := func(i int) []byte {
		b := make([]byte, size)
		copy(b, fmt.Sprintf("%06d", i))
		return b
	}
	conn, nc := stompTo(t, s.Addr("stomp"))
	start := time.Now()
	for i := range n {
		if err := conn.Send("/queue/big", "application/octet-stream", body(i), gostomp.SendOpt.Receipt,
			gostomp.SendOpt.Header("persistent", "true")); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	sendRate := float64(n) / time.Since(start).Seconds()
	nc.Close()

	drain := func(from, to int) time.Duration {
		t.Helper()
		conn, nc := stompTo(t, s.Addr("stomp"))
		defer nc.Close()
		sub, err := conn.Subscribe("/queue/big", gostomp.AckClientIndividual, gostomp.SubscribeOpt.Header("activemq.prefetchSize", "10"))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for i := from; i < to; i++ {
			select {
			case m := <-sub.C:
				if m.Err != nil || string(m.Body[:6]) != fmt.Sprintf("%06d", i) || len(m.Body) != size {
					t.Fatalf("message %d: %v %q", i, m.Err, m.Body[:min(6, len(m.Body))])
				}
				if err := conn.Ack(m); err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("message %d not received", i)
			}
		}
		took := time.Since(start)
		if err := conn.Send("/queue/marker", "text/plain", []byte("m"), gostomp.SendOpt.Receipt,
			gostomp.SendOpt.Header("persistent", "true")); err != nil {
			t.Fatal(err)
		}
		return took
	}
	took := drain(0, n/2)
	s.Close()
	if s, err = Start(ctx, cfg, quiet()); err != nil {
		t.Fatal(err)
	}
	drain(n/2, n)
	t.Logf("PostgreSQL store, memoryLimit 1 MiB: %d persistent 2 KiB sends with receipts at %.0f/s (one producer); drained %d at %.0f/s (paged in from the database); the rest after a restart",
		n, sendRate, n/2, float64(n/2)/took.Seconds())
}

// TestJDBCDurablesAndDuplicatesSurviveRestart: a durable topic
// subscription and a destination's duplicate-detection window live in the
// database like messages do.
func TestJDBCDurablesAndDuplicatesSurviveRestart(t *testing.T) {
	c := pgtest.Start(t)
	url := c.CreateDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := jdbcConfig(t, "d", url)
	s, err := Start(ctx, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	dial := func(clientID string) (*gostomp.Conn, net.Conn) {
		t.Helper()
		opts := []func(*gostomp.Conn) error{}
		if clientID != "" {
			opts = append(opts, gostomp.ConnOpt.Header("client-id", clientID))
		}
		return stompTo(t, s.Addr("stomp"), opts...)
	}
	durable := gostomp.SubscribeOpt.Header("activemq.subscriptionName", "sub1")
	conn, nc := dial("c1")
	if _, err := conn.Subscribe("/topic/news", gostomp.AckClientIndividual, durable); err != nil {
		t.Fatal(err)
	}
	// Subscribed once the server answers something after the SUBSCRIBE; then
	// the connection goes and the subscription stays, offline.
	if err := conn.Send("/queue/marker", "text/plain", []byte("m"), gostomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	nc.Close()

	prod, pnc := dial("")
	send := func(dest, body, dupID string) {
		t.Helper()
		opts := []func(*frame.Frame) error{gostomp.SendOpt.Receipt, gostomp.SendOpt.Header("persistent", "true")}
		if dupID != "" {
			opts = append(opts, gostomp.SendOpt.Header("_AMQ_DUPL_ID", dupID))
		}
		if err := prod.Send(dest, "text/plain", []byte(body), opts...); err != nil {
			t.Fatalf("send %s: %v", body, err)
		}
	}
	for i := range 20 {
		send("/topic/news", strconv.Itoa(i), "")
	}
	send("/queue/once", "first", "dup-1")
	pnc.Close()

	s.Close()
	if s, err = Start(ctx, cfg, quiet()); err != nil {
		t.Fatal(err)
	}
	prod, pnc = dial("")
	defer pnc.Close()
	send("/queue/once", "again", "dup-1") // a re-send after the restart: dropped
	send("/queue/once", "second", "dup-2")

	conn, nc = dial("c1")
	defer nc.Close()
	sub, err := conn.Subscribe("/topic/news", gostomp.AckAuto, durable, gostomp.SubscribeOpt.Header("activemq.prefetchSize", "5"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		select {
		case m := <-sub.C:
			if m.Err != nil || string(m.Body) != strconv.Itoa(i) {
				t.Fatalf("durable message %d: %v %q", i, m.Err, m.Body)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("durable message %d not received", i)
		}
	}
	q, err := conn.Subscribe("/queue/once", gostomp.AckAuto, gostomp.SubscribeOpt.Header("activemq.prefetchSize", "5"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first", "second"} {
		select {
		case m := <-q.C:
			if m.Err != nil || string(m.Body) != want {
				t.Fatalf("queue: got %v %q, want %q", m.Err, m.Body, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q not received", want)
		}
	}
}
