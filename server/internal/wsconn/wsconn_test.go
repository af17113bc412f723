package wsconn

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"

	"github.com/coder/websocket"
)

const waitFor = 10 * time.Second

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

var testProtocols = []Protocol{
	{Name: "stomp", Subprotocols: []string{"v12.stomp", "v11.stomp", "v10.stomp"}, Default: true},
	{Name: "mqtt", Subprotocols: []string{"mqtt", "mqttv3.1"}, BinaryOnly: true},
}

// start serves s on a loopback port and returns its address; the test's
// cleanup closes it.
func start(t *testing.T, o Options) (*Server, string) {
	t.Helper()
	if o.Protocols == nil {
		o.Protocols = testProtocols
	}
	o.Logger = testLogger()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(waitFor):
			t.Error("Serve did not return after Close")
		}
	})
	return s, ln.Addr().String()
}

// accept takes the next connection of protocol name.
func accept(t *testing.T, s *Server, name string) *Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := s.Listener(name).Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("accept %s: %v", name, r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c.(*Conn)
	case <-time.After(waitFor):
		s.Listener(name).Close() // ends the Accept goroutine
		t.Fatalf("no %s connection within %v", name, waitFor)
		return nil
	}
}

func dial(t *testing.T, url string, o *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, o)
	if c != nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

func TestSubprotocolNegotiation(t *testing.T) {
	s, addr := start(t, Options{})
	for _, tc := range []struct {
		offer      []string
		want, path string
		proto      string
	}{
		{[]string{"v10.stomp", "v11.stomp", "v12.stomp"}, "v12.stomp", "/", "stomp"},
		{[]string{"v10.stomp"}, "v10.stomp", "/stomp", "stomp"},
		{[]string{"mqtt"}, "mqtt", "/mqtt", "mqtt"},
		{[]string{"mqttv3.1"}, "mqttv3.1", "/", "mqtt"},
		{nil, "", "/", "stomp"}, // no subprotocol: the default, as ActiveMQ
	} {
		t.Run(strings.Join(tc.offer, ",")+tc.path, func(t *testing.T) {
			c, _, err := dial(t, "ws://"+addr+tc.path, &websocket.DialOptions{Subprotocols: tc.offer})
			if err != nil {
				t.Fatal(err)
			}
			if c.Subprotocol() != tc.want {
				t.Fatalf("negotiated %q, want %q", c.Subprotocol(), tc.want)
			}
			sc := accept(t, s, tc.proto)
			if sc.Subprotocol() != tc.want {
				t.Fatalf("server side %q, want %q", sc.Subprotocol(), tc.want)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	_, addr := start(t, Options{})
	t.Run("unknown subprotocol", func(t *testing.T) {
		_, resp, err := dial(t, "ws://"+addr+"/", &websocket.DialOptions{Subprotocols: []string{"amqp", "xmpp"}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("dial: %v, response %v; want HTTP 400", err, resp)
		}
	})
	t.Run("plain HTTP", func(t *testing.T) {
		cl := &http.Client{Timeout: waitFor}
		resp, err := cl.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusUpgradeRequired || !strings.Contains(string(body), "WebSocket upgrade") {
			t.Fatalf("HTTP %d %q, want 426 with an explanation", resp.StatusCode, body)
		}
	})
	t.Run("raw STOMP on the WebSocket port", func(t *testing.T) {
		nc, err := net.DialTimeout("tcp", addr, waitFor)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(waitFor))
		if _, err := nc.Write([]byte("CONNECT\naccept-version:1.2\n\n\x00")); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(nc) // the server answers and closes
		if err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 400") {
			t.Fatalf("got %q, %v; want an HTTP 400 and a close", b, err)
		}
	})
	t.Run("no default", func(t *testing.T) {
		_, addr := start(t, Options{Protocols: []Protocol{{Name: "mqtt", Subprotocols: []string{"mqtt"}, BinaryOnly: true}}})
		_, resp, err := dial(t, "ws://"+addr+"/", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("dial without subprotocol: %v, %v; want HTTP 400", err, resp)
		}
	})
}

// TestStream: message boundaries vanish on the way in; each Write is one
// message on the way out, text for UTF-8 on a text protocol.
func TestStream(t *testing.T) {
	s, addr := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, _, err := dial(t, "ws://"+addr+"/", &websocket.DialOptions{Subprotocols: []string{"v12.stomp"}})
	if err != nil {
		t.Fatal(err)
	}
	sc := accept(t, s, "stomp")
	sc.SetReadDeadline(time.Now().Add(waitFor))
	for _, part := range []string{"SEND\ndestin", "ation:/queue/a\n\nbody\x00SE", "ND\n\n\x00"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	want := "SEND\ndestination:/queue/a\n\nbody\x00SEND\n\n\x00"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(sc, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
	if _, err := sc.Write([]byte("MESSAGE\n\nhello\x00")); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Write([]byte{'M', 0xff, 0}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		typ  websocket.MessageType
		body string
	}{{websocket.MessageText, "MESSAGE\n\nhello\x00"}, {websocket.MessageBinary, "M\xff\x00"}} {
		typ, b, err := c.Read(ctx)
		if err != nil || typ != w.typ || string(b) != w.body {
			t.Fatalf("client read %v %q %v, want %v %q", typ, b, err, w.typ, w.body)
		}
	}
}

func TestBinaryOnlyRefusesText(t *testing.T) {
	s, addr := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, _, err := dial(t, "ws://"+addr+"/mqtt", &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
	if err != nil {
		t.Fatal(err)
	}
	sc := accept(t, s, "mqtt")
	sc.SetReadDeadline(time.Now().Add(waitFor))
	if err := c.Write(ctx, websocket.MessageBinary, []byte{0x10}); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("oops")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	if n, err := sc.Read(b); n != 1 || err != nil {
		t.Fatalf("first read %d %v", n, err)
	}
	if _, err := sc.Read(b); err == nil {
		t.Fatal("a text message was accepted on a binary-only protocol")
	}
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusUnsupportedData {
		t.Fatalf("client saw %v, want close status %d", err, websocket.StatusUnsupportedData)
	}
	if !sc.isClosed() {
		t.Fatal("conn not closed")
	}
}

func TestReadDeadline(t *testing.T) {
	s, addr := start(t, Options{})
	if _, _, err := dial(t, "ws://"+addr+"/", &websocket.DialOptions{Subprotocols: []string{"mqtt"}}); err != nil {
		t.Fatal(err)
	}
	sc := accept(t, s, "mqtt")
	sc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := sc.Read(make([]byte, 4))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read after the deadline: %v, want a timeout", err)
	}
}

// TestPeerCloseIsEOF: the client's closing handshake ends the stream.
func TestPeerCloseIsEOF(t *testing.T) {
	s, addr := start(t, Options{})
	c, _, err := dial(t, "ws://"+addr+"/", &websocket.DialOptions{Subprotocols: []string{"v11.stomp"}})
	if err != nil {
		t.Fatal(err)
	}
	sc := accept(t, s, "stomp")
	sc.SetReadDeadline(time.Now().Add(waitFor))
	go c.Close(websocket.StatusNormalClosure, "bye")
	if _, err := sc.Read(make([]byte, 4)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after the peer closed: %v, want EOF", err)
	}
}

// TestWSS serves wss:// with a certificate made for the test.
func TestWSS(t *testing.T) {
	cfg, roots := testutil.SelfSigned(t)
	s, addr := start(t, Options{TLS: cfg})
	hc := &http.Client{Timeout: waitFor, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	c, _, err := dial(t, "wss://"+addr+"/mqtt", &websocket.DialOptions{Subprotocols: []string{"mqtt"}, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	sc := accept(t, s, "mqtt")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageBinary, []byte{0xc0, 0}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 2)
	sc.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.ReadFull(sc, b); err != nil || b[0] != 0xc0 {
		t.Fatalf("read %x %v", b, err)
	}
	// A client that does not trust the certificate fails the handshake.
	if _, _, err := dial(t, "wss://"+addr+"/mqtt", &websocket.DialOptions{Subprotocols: []string{"mqtt"},
		HTTPClient: &http.Client{Timeout: waitFor}}); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{},
		{Protocols: []Protocol{{Name: "a", Default: true}, {Name: "b", Default: true}}},
		{Protocols: []Protocol{{Name: "a"}, {Name: "a"}}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}

}

// TestCloseDropsSilentPeers: a peer that never answers the closing
// handshake holds Server.Close for CloseGrace, not the library's 10 s.
func TestCloseDropsSilentPeers(t *testing.T) {
	s, err := New(Options{Protocols: testProtocols, CloseGrace: 300 * time.Millisecond, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	// The client never reads, so it never answers the close frame.
	if _, _, err := dial(t, "ws://"+ln.Addr().String()+"/", &websocket.DialOptions{Subprotocols: []string{"v12.stomp"}}); err != nil {
		t.Fatal(err)
	}
	sc := accept(t, s, "stomp")
	sc.Close()
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v with a silent peer", d)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
