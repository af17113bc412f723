package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/auth"
	"golang.org/x/crypto/bcrypt"
)

// testFailureDelay keeps refused logins quick in tests; the refusal still
// waits for it, which the tests check.
const testFailureDelay = 100 * time.Millisecond

// securityConfig is the example: orders.> readable by consumers,
// writable by producers and admins, created by admins; advisories open to
// everyone; open.> anybody's.
func securityConfig(t testing.TB, certs *testutil.Certs) Config {
	hash, err := bcrypt.GenerateFromPassword([]byte("rootpw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		BrokerName: "secure", DataDirectory: t.TempDir(),
		TransportConnectors: []Connector{
			{Name: "stomp", URI: "stomp://127.0.0.1:0"},
			{Name: "amqp", URI: "amqp://127.0.0.1:0"},
			{Name: "mqtt", URI: "mqtt://127.0.0.1:0"},
		},
		Users: []User{
			{Username: "alice", Password: "alicepw", Groups: auth.Groups{"producers"}},
			{Username: "bob", Password: "bobpw", Groups: auth.Groups{"consumers"}},
			{Username: "root", PasswordHash: string(hash), Groups: auth.Groups{"admins"}},
			{Username: "eve", Password: "evepw"},
		},
		AuthorizationEntries: []AuthorizationEntry{
			{Queue: "orders.>", Read: auth.Groups{"consumers"}, Write: auth.Groups{"producers", "admins"}, Admin: auth.Groups{"admins"}},
			{Topic: "orders.>", Read: auth.Groups{"consumers"}, Write: auth.Groups{"producers", "admins"}, Admin: auth.Groups{"admins"}},
			{Topic: "ActiveMQ.Advisory.>", Read: auth.Groups{"everyone"}, Write: auth.Groups{"everyone"}, Admin: auth.Groups{"everyone"}},
			{Queue: "open.>", Read: auth.Groups{"everyone"}, Write: auth.Groups{"everyone"}, Admin: auth.Groups{"everyone"}},
			{Topic: "open.>", Read: auth.Groups{"everyone"}, Write: auth.Groups{"everyone"}, Admin: auth.Groups{"everyone"}},
		},
		authFailureDelay: testFailureDelay,
	}
	if certs != nil {
		cfg.SSLContext = &SSLContext{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile}
		cfg.TransportConnectors = append(cfg.TransportConnectors,
			Connector{Name: "stomp+ssl", URI: "stomp+ssl://127.0.0.1:0"},
			Connector{Name: "ssl", URI: "ssl://127.0.0.1:0"},
			Connector{Name: "amqp+ssl", URI: "amqp+ssl://127.0.0.1:0"},
			Connector{Name: "mqtt+ssl", URI: "mqtt+ssl://127.0.0.1:0"},
		)
	}
	return cfg
}

func startConfig(t testing.TB, cfg Config, log *slog.Logger) *Server {
	t.Helper()
	if log == nil {
		log = quiet()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSecurityConfigParsing(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
users:
  - {username: alice, password: pw, groups: [producers]}
  - {username: root, passwordHash: "$2a$04$3gAtvCFGMFlLtxIsmCR.OumqazGM8E02mYe6Hp9NMTpwwHqe/xL0O", groups: "admins, producers"}
authorizationEntries:
  - {queue: "orders.>", read: consumers, write: "producers,admins", admin: admins}
  - {topic: "ActiveMQ.Advisory.>", read: everyone, write: everyone, admin: everyone}
sslContext:
  certFile: server.pem
  keyFile: server-key.pem
  caFile: ca.pem
  needClientAuth: true
transportConnectors:
  - {name: s, uri: "stomp+ssl://0.0.0.0:61612"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Users) != 2 || cfg.Users[1].Groups[1] != "producers" || len(cfg.AuthorizationEntries) != 2 ||
		cfg.AuthorizationEntries[0].Write[1] != "admins" || !cfg.SSLContext.NeedClientAuth || cfg.SSLContext.CAFile != "ca.pem" {
		t.Fatalf("parsed %+v", cfg)
	}
	if Default().AdminAddress != "127.0.0.1:8161" {
		t.Fatalf("the admin port must default to loopback, not %s", Default().AdminAddress)
	}
	bad := map[string]string{
		"users: [{username: a, password: x}, {username: a, password: y}]":      "users[1].username",
		"users: [{username: a, passwordHash: plain}]":                          "users[0].passwordHash",
		"users: [{username: a, password: x, passwordHash: x}]":                 "users[0]: password and passwordHash",
		"users: [{username: a, groups: 'x,,y'}]":                               "", // empty elements are dropped: accepted
		"authorizationEntries: [{read: a}]":                                    "authorizationEntries[0]: give exactly one",
		"authorizationEntries: [{queue: a, topic: b, read: a}]":                "authorizationEntries[0]: give exactly one",
		"authorizationEntries: [{queue: 'a.>.b', read: a}]":                    "authorizationEntries[0].queue",
		"authorizationEntries: [{topic: 'a*', read: a}]":                       "authorizationEntries[0].topic",
		"authorizationEntries: [{queue: a}]":                                   "grants nothing",
		"authorizationEntries: [{queue: a, reed: x}]":                          "reed",
		"transportConnectors: [{name: a, uri: 'amqp+ssl://h:5671'}]":           "transportConnectors[0].uri: amqp+ssl:// needs an sslContext",
		"sslContext: {keyFile: k}":                                             "sslContext.certFile",
		"sslContext: {certFile: c}":                                            "sslContext.keyFile",
		"sslContext: {certFile: c, keyFile: k, needClientAuth: true}":          "sslContext.caFile",
		"sslContext: {certFile: c, keyFile: k, bogus: 1}":                      "bogus",
		"transportConnectors: [{name: a, uri: 'wss://h:1'}]":                   "wss:// needs an sslContext",
		"transportConnectors: [{name: a, uri: 'wsx://h:1'}]":                   "unsupported scheme",
		"users: [{username: a, password: p, groups: {x: 1}}]":                  "group list",
		"users: [{username: a, password: p, groups: ['a b']}]":                 "users[0].groups[0]",
		"authorizationEntries: [{queue: q, read: x}, {topic: '', write: [y]}]": "authorizationEntries[1]",
	}
	for text, want := range bad {
		_, err := ParseConfig([]byte(text))
		if want == "" {
			if err != nil {
				t.Errorf("config %q: %v", text, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want one naming %q", text, err, want)
		}
	}
}

// A bad or missing certificate stops the start with an error naming the
// file, before any port opens.
func TestTLSStartupErrors(t *testing.T) {
	certs := testutil.NewCerts(t)
	garbage := certs.Dir + "/garbage.pem"
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := testutil.NewCerts(t)
	expired := testutil.NewExpiredCerts(t)
	for name, c := range map[string]struct {
		sc   SSLContext
		want string
	}{
		"missing cert":  {SSLContext{CertFile: certs.Dir + "/nope.pem", KeyFile: certs.KeyFile}, "sslContext.certFile: open " + certs.Dir + "/nope.pem"},
		"garbage cert":  {SSLContext{CertFile: garbage, KeyFile: certs.KeyFile}, "sslContext.certFile " + garbage},
		"missing key":   {SSLContext{CertFile: certs.CertFile, KeyFile: certs.Dir + "/nokey.pem"}, "sslContext.keyFile: open " + certs.Dir + "/nokey.pem"},
		"foreign key":   {SSLContext{CertFile: certs.CertFile, KeyFile: other.KeyFile}, "sslContext.keyFile " + other.KeyFile},
		"garbage CA":    {SSLContext{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: garbage}, "sslContext.caFile " + garbage},
		"missing CA":    {SSLContext{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.Dir + "/noca.pem"}, "sslContext.caFile: open"},
		"key as cert":   {SSLContext{CertFile: certs.KeyFile, KeyFile: certs.KeyFile}, "sslContext.certFile " + certs.KeyFile},
		"cert as a key": {SSLContext{CertFile: certs.CertFile, KeyFile: certs.CertFile}, "sslContext.keyFile " + certs.CertFile},
		"expired cert":  {SSLContext{CertFile: expired.CertFile, KeyFile: expired.KeyFile}, "sslContext.certFile " + expired.CertFile + ": certificate valid only from"},
	} {
		cfg := Config{BrokerName: "x", DataDirectory: t.TempDir(), SSLContext: &c.sc,
			TransportConnectors: []Connector{{Name: "s", URI: "stomp+ssl://127.0.0.1:0"}}}
		_, err := Start(context.Background(), cfg, quiet())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAnonymousAccessWarning(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	startConfig(t, Config{BrokerName: "anon", DataDirectory: t.TempDir(),
		TransportConnectors: []Connector{{Name: "s", URI: "stomp://127.0.0.1:0"}}}, log)
	if out := buf.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "WITHOUT credentials") {
		t.Fatalf("no loud warning about anonymous access in:\n%s", out)
	}
	buf = syncBuffer{}
	cfg := securityConfig(t, nil)
	startConfig(t, cfg, slog.New(slog.NewTextHandler(&buf, nil)))
	if out := buf.String(); strings.Contains(out, "WITHOUT credentials") {
		t.Fatalf("warned about anonymous access with users configured:\n%s", out)
	}
}

// dialTimeout bounds every client connection of these tests.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A TLS round trip on each protocol through the SDK, with a password, and
// the same over ssl:// (STOMP on ActiveMQ's native TLS scheme).
func TestTLSRoundTrip(t *testing.T) {
	certs := testutil.NewCerts(t)
	s := startConfig(t, securityConfig(t, certs), nil)
	for _, c := range []struct{ connector, scheme string }{
		{"stomp+ssl", "stomp+ssl"}, {"ssl", "ssl"}, {"amqp+ssl", "amqps"}, {"mqtt+ssl", "mqtt+ssl"},
	} {
		t.Run(c.connector, func(t *testing.T) {
			ctx := testCtx(t)
			uri := c.scheme + "://" + s.Addr(c.connector)
			conn, err := client.Dial(ctx, uri, client.WithTLS(certs.ClientTLS(false)), client.WithCredentials("root", "rootpw"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			dest := "topic://open.tls." + strings.ReplaceAll(c.connector, "+", "")
			sub, err := conn.Subscribe(ctx, dest)
			if err != nil {
				t.Fatal(err)
			}
			if err := conn.Send(ctx, dest, []byte("over TLS")); err != nil {
				t.Fatal(err)
			}
			m, err := sub.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Body()) != "over TLS" {
				t.Fatalf("got %q", m.Body())
			}
		})
	}
}

// Plain text to a TLS port is refused cleanly: the connection is closed,
// nothing answers in the plain protocol, and the broker keeps serving.
func TestPlainTextToTLSPort(t *testing.T) {
	certs := testutil.NewCerts(t)
	s := startConfig(t, securityConfig(t, certs), nil)
	hello := map[string][]byte{
		"stomp+ssl": []byte("CONNECT\naccept-version:1.2\nlogin:root\npasscode:rootpw\n\n\x00"),
		"amqp+ssl":  []byte("AMQP\x03\x01\x00\x00"),
		"mqtt+ssl":  {0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00},
	}
	for name, first := range hello {
		nc, err := net.DialTimeout("tcp", s.Addr(name), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Write(first); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		reply, err := readAll(nc)
		nc.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: the broker kept a plain-text connection open", name)
		}
		// Go's TLS server answers a non-TLS record with at most an alert
		// record (content type 21), never with the plain protocol.
		if len(reply) > 0 && reply[0] != 21 {
			t.Fatalf("%s: plain-text client got %q", name, reply)
		}
	}
	// still serving TLS
	ctx := testCtx(t)
	conn, err := client.Dial(ctx, "stomp+ssl://"+s.Addr("stomp+ssl"), client.WithTLS(certs.ClientTLS(false)), client.WithCredentials("root", "rootpw"))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}

func readAll(nc net.Conn) ([]byte, error) {
	var out []byte
	buf := make([]byte, 512)
	for {
		n, err := nc.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

// With needClientAuth, a client without a certificate is refused on every
// protocol, and one with a certificate signed by caFile is served.
func TestClientCertificateRequired(t *testing.T) {
	certs := testutil.NewCerts(t)
	cfg := securityConfig(t, certs)
	cfg.SSLContext.NeedClientAuth = true
	s := startConfig(t, cfg, nil)
	for _, c := range []struct{ connector, scheme string }{
		{"stomp+ssl", "stomp+ssl"}, {"amqp+ssl", "amqps"}, {"mqtt+ssl", "mqtt+ssl"},
	} {
		t.Run(c.connector, func(t *testing.T) {
			uri := c.scheme + "://" + s.Addr(c.connector)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// maxReconnectAttempts=0 with one URI: a single attempt, failing fast
			_, err := client.Dial(ctx, "failover:("+uri+")?startupMaxReconnectAttempts=0",
				client.WithTLS(certs.ClientTLS(false)), client.WithCredentials("root", "rootpw"))
			if err == nil {
				t.Fatal("a client without a certificate was served")
			}
			if !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("a client without a certificate: %v, want a TLS certificate error", err)
			}
			conn, err := client.Dial(testCtx(t), uri, client.WithTLS(certs.ClientTLS(true)), client.WithCredentials("root", "rootpw"))
			if err != nil {
				t.Fatalf("with a certificate: %v", err)
			}
			conn.Close()
		})
	}
	// and a raw TLS client without a certificate learns why
	tc, err := tls.Dial("tcp", s.Addr("stomp+ssl"), certs.ClientTLS(false))
	if err == nil {
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = tc.Write([]byte("CONNECT\naccept-version:1.2\n\n\x00"))
		if err == nil {
			_, err = tc.Read(make([]byte, 64))
		}
		tc.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client without a certificate got %v, want a TLS certificate alert", err)
	}
}

// rawStomp is a STOMP client that sees every frame, ERRORs included.
type rawStomp struct {
	t  *testing.T
	nc net.Conn
	r  *frame.Reader
	w  *frame.Writer
}

func dialRawStomp(t *testing.T, addr, login, pass string) (*rawStomp, *frame.Frame) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	c := &rawStomp{t: t, nc: nc, r: frame.NewReader(nc), w: frame.NewWriter(nc)}
	c.send(frame.New(frame.CONNECT, frame.AcceptVersion, "1.2", frame.Host, "x", frame.Login, login, frame.Passcode, pass))
	return c, c.read()
}

func (c *rawStomp) send(f *frame.Frame) {
	c.t.Helper()
	if err := c.w.Write(f); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawStomp) read() *frame.Frame {
	c.t.Helper()
	for {
		f, err := c.r.Read()
		if err != nil {
			c.t.Fatal(err)
		}
		if f != nil {
			return f
		}
	}
}

// STOMP: a wrong password gets ERROR after the failure delay and a closed
// connection; a refused SEND or SUBSCRIBE gets ERROR naming the destination
// with the receipt, and the connection goes on serving.
func TestStompAuthorization(t *testing.T) {
	s := startConfig(t, securityConfig(t, nil), nil)
	addr := s.Addr("stomp")

	start := time.Now()
	bad, f := dialRawStomp(t, addr, "alice", "wrong")
	if f.Command != frame.ERROR || !strings.Contains(f.Header.Get(frame.Message), "authentication failed") {
		t.Fatalf("wrong password: got %s %v", f.Command, f.Header)
	}
	if took := time.Since(start); took < testFailureDelay {
		t.Fatalf("refused after %v, before the failure delay", took)
	}
	if _, err := bad.r.Read(); err == nil {
		t.Fatal("the connection stayed open after a failed login")
	}

	// root creates orders.eu (admin); bob consumes it.
	root, f := dialRawStomp(t, addr, "root", "rootpw")
	if f.Command != frame.CONNECTED {
		t.Fatalf("root: %s %v", f.Command, f.Header)
	}
	root.send(frame.New(frame.SEND, frame.Destination, "/queue/orders.eu", frame.Receipt, "r0"))
	if f := root.read(); f.Command != frame.RECEIPT {
		t.Fatalf("root's send: %s %v", f.Command, f.Header)
	}
	bob, _ := dialRawStomp(t, addr, "bob", "bobpw")
	bob.send(frame.New(frame.SUBSCRIBE, frame.Destination, "/queue/orders.eu", frame.Id, "1", frame.Receipt, "s1"))
	if f := bob.read(); f.Command != frame.RECEIPT {
		t.Fatalf("bob's subscribe: %s %v", f.Command, f.Header)
	}
	if f := bob.read(); f.Command != frame.MESSAGE {
		t.Fatalf("bob: %s", f.Command)
	}

	eve, _ := dialRawStomp(t, addr, "eve", "evepw")
	alice, _ := dialRawStomp(t, addr, "alice", "alicepw")
	for i := range 3 {
		eve.send(frame.New(frame.SEND, frame.Destination, "/queue/orders.eu", frame.Receipt, "e"))
		f := eve.read()
		if f.Command != frame.ERROR || f.Header.Get(frame.ReceiptId) != "e" || f.Header.Get(frame.Destination) != "/queue/orders.eu" ||
			!strings.Contains(f.Header.Get(frame.Message), "User eve is not authorized to write to: queue://orders.eu") {
			t.Fatalf("eve's send %d: %s %v", i, f.Command, f.Header)
		}
		alice.send(frame.New(frame.SEND, frame.Destination, "/queue/orders.eu", frame.Receipt, "a"))
		if f := alice.read(); f.Command != frame.RECEIPT {
			t.Fatalf("alice's send: %s %v", f.Command, f.Header)
		}
		if f := bob.read(); f.Command != frame.MESSAGE {
			t.Fatalf("bob: %s", f.Command)
		}
	}
	// a refused subscription, a refused creation, then eve is still served
	eve.send(frame.New(frame.SUBSCRIBE, frame.Destination, "/queue/orders.eu", frame.Id, "x", frame.Receipt, "s"))
	if f := eve.read(); f.Command != frame.ERROR || !strings.Contains(f.Header.Get(frame.Message), "read from: queue://orders.eu") {
		t.Fatalf("eve's subscribe: %s %v", f.Command, f.Header)
	}
	alice.send(frame.New(frame.SEND, frame.Destination, "/queue/orders.new", frame.Receipt, "n"))
	if f := alice.read(); f.Command != frame.ERROR || !strings.Contains(f.Header.Get(frame.Message), "User alice is not authorized to create: queue://orders.new") {
		t.Fatalf("alice creating a queue: %s %v", f.Command, f.Header)
	}
	eve.send(frame.New(frame.SEND, frame.Destination, "/queue/open.x", frame.Receipt, "ok"))
	if f := eve.read(); f.Command != frame.RECEIPT {
		t.Fatalf("eve after refusals: %s %v", f.Command, f.Header)
	}
	// transacted sends are checked when sent, not at commit
	eve.send(frame.New(frame.BEGIN, frame.Transaction, "t1"))
	eve.send(frame.New(frame.SEND, frame.Destination, "/queue/orders.eu", frame.Transaction, "t1", frame.Receipt, "ts"))
	if f := eve.read(); f.Command != frame.ERROR {
		t.Fatalf("eve's transacted send: %s %v", f.Command, f.Header)
	}
	eve.send(frame.New(frame.COMMIT, frame.Transaction, "t1", frame.Receipt, "c"))
	if f := eve.read(); f.Command != frame.RECEIPT {
		t.Fatalf("eve's commit: %s %v", f.Command, f.Header)
	}
	_ = bob.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if f, err := bob.r.Read(); err == nil && f != nil {
		t.Fatalf("bob received %s %q after only refused sends", f.Command, f.Body)
	}
}
