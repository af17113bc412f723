package stomp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/tethermq/tether/server/internal/broker"
)

// rawConn speaks STOMP by hand so tests can send what no client library would.
type rawConn struct {
	t    *testing.T
	nc   net.Conn
	r    *bufio.Reader
	body string // of the last frame readFrame returned
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (rc *rawConn) write(s string) {
	rc.t.Helper()
	if _, err := rc.nc.Write([]byte(s)); err != nil {
		rc.t.Fatal(err)
	}
}

// readFrame returns the command and headers of the next frame (skipping
// heart-beats), or an error when the connection closed first.
func (rc *rawConn) readFrame() (string, map[string]string, error) {
	_ = rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var cmd string
	for cmd == "" {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		cmd = strings.TrimRight(line, "\r\n")
	}
	h := map[string]string{}
	for {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		if _, dup := h[k]; !dup {
			h[k] = v
		}
	}
	body, err := rc.r.ReadString(0)
	if err != nil {
		return "", nil, err
	}
	rc.body = strings.TrimSuffix(body, "\x00")
	return cmd, h, nil
}

// expect reads the next frame and fails the test unless it is cmd, with
// the given receipt-id for a RECEIPT.
func (rc *rawConn) expect(cmd, receipt string) map[string]string {
	rc.t.Helper()
	got, h, err := rc.readFrame()
	if err != nil || got != cmd || (receipt != "" && h["receipt-id"] != receipt) {
		rc.t.Fatalf("want %s %s, got %s %v %v", cmd, receipt, got, h, err)
	}
	return h
}

// expectErrorAndClose asserts an ERROR frame with a message header, then EOF.
func (rc *rawConn) expectErrorAndClose(wantMsg string) {
	rc.t.Helper()
	cmd, h, err := rc.readFrame()
	if err != nil {
		rc.t.Fatalf("want ERROR, got %v", err)
	}
	if cmd != "ERROR" || !strings.Contains(h["message"], wantMsg) {
		rc.t.Fatalf("want ERROR containing %q, got %s %v", wantMsg, cmd, h)
	}
	_ = rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(rc.r); err != nil && !errors.Is(err, io.EOF) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			rc.t.Fatal("connection not closed after ERROR")
		}
	}
}

func (rc *rawConn) connect(extra string) {
	rc.t.Helper()
	rc.write("CONNECT\naccept-version:1.2\nhost:x\n" + extra + "\n\x00")
	cmd, h, err := rc.readFrame()
	if err != nil || cmd != "CONNECTED" {
		rc.t.Fatalf("connect: %s %v %v", cmd, h, err)
	}
}

// stillServes checks that another client can send and receive.
func stillServes(t *testing.T, tb *testBroker) {
	t.Helper()
	c := tb.dial()
	q := fmt.Sprintf("/queue/alive-%d", time.Now().UnixNano())
	s := subscribe(t, c, q, gostomp.AckAuto)
	send(t, c, q, "ok")
	if m := recv(t, s); string(m.Body) != "ok" {
		t.Fatalf("got %q", m.Body)
	}
}

func TestBadInput(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{MaxFrameSize: 4096, Authenticate: func(u, p string) error {
		if u == "admin" && p == "secret" {
			return nil
		}
		return errors.New("no")
	}})
	tb.login, tb.passcode = "admin", "secret"
	good := "login:admin\npasscode:secret\n"
	// A persistent message stored before the abuse must survive it.
	p := tb.dial(gostomp.ConnOpt.Login("admin", "secret"))
	send(t, p, "/queue/keep", "kept", "persistent", "true")

	cases := []struct {
		name, frames, want string
		connected          bool
	}{
		{"garbage", "\x01\x02garbage\n\n\x00", "unknown command", false},
		{"unknown command", "FROB\n\n\x00", "unknown command", true},
		{"missing destination", "SEND\ncontent-length:1\n\nx\x00", "missing destination", true},
		{"oversized frame", "SEND\ndestination:/queue/big\ncontent-length:100000\n\n", "maximum frame size", true},
		{"oversized without content-length", "SEND\ndestination:/queue/big\n\n" + strings.Repeat("x", 5000) + "\x00", "maximum frame size", true},
		{"oversized header", "SEND\ndestination:/queue/big\nh:" + strings.Repeat("x", 5000) + "\n\n\x00", "maximum frame size", true},
		{"bad escape", "SEND\ndestination:/queue/x\nh:a\\tb\n\n\x00", "undefined header escape", true},
		{"negative content-length", "SEND\ndestination:/queue/x\ncontent-length:-1\n\n\x00", "content-length", true},
		{"header without colon", "SEND\ndestination\n\n\x00", "malformed", true},
		{"ack without id", "ACK\n\n\x00", "bad id", true},
		{"bad priority", "SEND\ndestination:/queue/x\npriority:high\n\n\x00", "priority", true},
		{"unknown ack mode", "SUBSCRIBE\nid:1\ndestination:/queue/x\nack:sometimes\n\n\x00", "ack mode", true},
		{"bad selector", "SUBSCRIBE\nid:1\ndestination:/queue/x\nselector:a = \n\n\x00", "selector", true},
		{"commit unknown tx", "COMMIT\ntransaction:nope\nreceipt:r\n\n\x00", "unknown transaction", true},
		{"frame before CONNECT", "SEND\ndestination:/queue/x\n\n\x00", "expected CONNECT", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, tb.addr)
			if tc.connected {
				rc.connect(good)
			}
			rc.write(tc.frames)
			rc.expectErrorAndClose(tc.want)
			stillServes(t, tb)
		})
	}
	t.Run("wrong credentials", func(t *testing.T) {
		rc := dialRaw(t, tb.addr)
		rc.write("CONNECT\naccept-version:1.2\nlogin:admin\npasscode:wrong\n\n\x00")
		rc.expectErrorAndClose("authentication failed")
		stillServes(t, tb)
	})
	t.Run("unsupported version", func(t *testing.T) {
		rc := dialRaw(t, tb.addr)
		rc.write("CONNECT\naccept-version:2.0\n\n\x00")
		rc.expectErrorAndClose("supported protocol versions")
	})
	c := tb.dial(gostomp.ConnOpt.Login("admin", "secret"))
	s := subscribe(t, c, "/queue/keep", gostomp.AckAuto)
	if m := recv(t, s); string(m.Body) != "kept" {
		t.Fatalf("stored message lost: %q", m.Body)
	}
}

func TestMaximumConnections(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{MaxConnections: 2})
	a, b := dialRaw(t, tb.addr), dialRaw(t, tb.addr)
	a.connect("")
	b.connect("")
	c := dialRaw(t, tb.addr)
	c.write("CONNECT\naccept-version:1.2\n\n\x00")
	c.expectErrorAndClose("maximum connections (2) reached")
	a.nc.Close()
	// Once a slot is free, a new client is served.
	deadline := time.Now().Add(5 * time.Second)
	for tb.srv.Connections() > 1 {
		if time.Now().After(deadline) {
			t.Fatal("closed connection not released")
		}
		time.Sleep(5 * time.Millisecond)
	}
	d := dialRaw(t, tb.addr)
	d.connect("")
}

func TestSilentClientIsDropped(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{HeartBeatGrace: 1.5})
	rc := dialRaw(t, tb.addr)
	rc.write("CONNECT\naccept-version:1.2\nheart-beat:100,0\n\n\x00")
	cmd, h, err := rc.readFrame()
	if err != nil || cmd != "CONNECTED" || h["heart-beat"] != "0,100" {
		t.Fatalf("CONNECTED: %s %v %v", cmd, h, err)
	}
	start := time.Now()
	_ = rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(rc.r)
	if err != nil {
		t.Fatalf("want EOF after the grace period, got %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("dropped after %v", d)
	}
}

func TestServerHeartBeats(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	rc := dialRaw(t, tb.addr)
	rc.write("CONNECT\naccept-version:1.2\nheart-beat:0,50\n\n\x00")
	if cmd, _, err := rc.readFrame(); err != nil || cmd != "CONNECTED" {
		t.Fatalf("%s %v", cmd, err)
	}
	_ = rc.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	for range 3 {
		b, err := rc.r.ReadByte()
		if err != nil || b != '\n' {
			t.Fatalf("heart-beat: %q %v", b, err)
		}
	}
}

func TestReceiptsAndVersion10(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	rc := dialRaw(t, tb.addr)
	rc.write("CONNECT\n\n\x00")
	cmd, h, err := rc.readFrame()
	if err != nil || cmd != "CONNECTED" || h["version"] != "1.0" {
		t.Fatalf("%s %v %v", cmd, h, err)
	}
	rc.write("SUBSCRIBE\ndestination:/queue/v10\nack:client\nreceipt:s1\n\n\x00")
	if cmd, h, _ := rc.readFrame(); cmd != "RECEIPT" || h["receipt-id"] != "s1" {
		t.Fatalf("%s %v", cmd, h)
	}
	rc.write("SEND\ndestination:/queue/v10\nreceipt:r1\n\nhello\x00")
	got := map[string]bool{}
	var msgID string
	for range 2 {
		cmd, h, err := rc.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		got[cmd] = true
		if cmd == "MESSAGE" {
			msgID = h["message-id"]
		}
	}
	if !got["RECEIPT"] || !got["MESSAGE"] {
		t.Fatalf("got %v", got)
	}
	rc.write("ACK\nmessage-id:" + msgID + "\nreceipt:a1\n\n\x00")
	if cmd, h, _ := rc.readFrame(); cmd != "RECEIPT" || h["receipt-id"] != "a1" {
		t.Fatalf("%s %v", cmd, h)
	}
	rc.write("DISCONNECT\nreceipt:bye\n\n\x00")
	if cmd, h, _ := rc.readFrame(); cmd != "RECEIPT" || h["receipt-id"] != "bye" {
		t.Fatalf("%s %v", cmd, h)
	}
}
