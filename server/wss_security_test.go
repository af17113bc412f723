package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/tethermq/tether/internal/testutil"
)

// wss:// serves STOMP over WebSocket with the broker's sslContext, and the
// broker's users and authorizationEntries apply to it as to any connector.
func TestWSSWithSSLContextAndACLs(t *testing.T) {
	certs := testutil.NewCerts(t)
	cfg := securityConfig(t, certs)
	cfg.TransportConnectors = append(cfg.TransportConnectors, Connector{Name: "wss", URI: "wss://127.0.0.1:0"})
	s := startConfig(t, cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wsWait)
	defer cancel()
	dial := func() *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "wss://"+s.Addr("wss")+"/", &websocket.DialOptions{
			Subprotocols: []string{"v12.stomp"},
			HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: certs.ClientTLS(false)}},
		})
		if err != nil {
			t.Fatalf("dial wss: %v", err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}

	// A wrong password is refused with an ERROR.
	bad := dial()
	wsWrite(t, bad, "CONNECT\naccept-version:1.2\nhost:secure\nlogin:alice\npasscode:nope\n\n\x00")
	if f := readFrames(t, bad, 1); !strings.HasPrefix(f[0], "ERROR") {
		t.Fatalf("wrong password over wss: %q", f[0])
	}

	// eve may not write to orders.>; root (admins: write and create) may, on
	// the same broker.
	eve := dial()
	wsWrite(t, eve, "CONNECT\naccept-version:1.2\nhost:secure\nlogin:eve\npasscode:evepw\n\n\x00",
		"SEND\ndestination:/queue/orders.eu\nreceipt:r1\n\nnot allowed\x00")
	f := readFrames(t, eve, 2)
	if !strings.HasPrefix(f[0], "CONNECTED") || !strings.HasPrefix(f[1], "\nERROR") && !strings.HasPrefix(f[1], "ERROR") {
		t.Fatalf("eve over wss: %q", f)
	}
	root := dial()
	wsWrite(t, root, "CONNECT\naccept-version:1.2\nhost:secure\nlogin:root\npasscode:rootpw\n\n\x00",
		"SEND\ndestination:/queue/orders.eu\nreceipt:r2\n\nallowed\x00")
	f = readFrames(t, root, 2)
	if !strings.HasPrefix(f[0], "CONNECTED") || !strings.Contains(f[1], "RECEIPT") || !strings.Contains(f[1], "receipt-id:r2") {
		t.Fatalf("root over wss: %q", f)
	}
}
