//go:build interop

package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
)

// stompjsDir holds the npm project of the browser STOMP client; .ci/run
// installs its node_modules with `npm ci`.
const stompjsDir = "testdata/stompjs"

// TestStompJSOverWebSocket drives the broker's ws:// connector with
// @stomp/stompjs, the STOMP client browsers use, run by node: it receives
// what a plain STOMP producer sent and sends what a plain STOMP consumer
// receives.
func TestStompJSOverWebSocket(t *testing.T) {
	if _, err := os.Stat(filepath.Join(stompjsDir, "node_modules", "@stomp", "stompjs")); err != nil {
		t.Fatalf("@stomp/stompjs is not installed: run `npm ci --prefix server/testdata/stompjs` (as .ci/run does): %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (apt-get install nodejs npm): %v", err)
	}
	_, addrs := startWS(t, map[string]string{"ws": "ws"})
	plain, err := gostomp.Dial("tcp", addrs["stomp"])
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Disconnect()
	const n = 3
	for i := range n {
		if err := plain.Send("/queue/to-js", "text/plain", []byte(fmt.Sprintf("go-%d", i)),
			gostomp.SendOpt.Receipt, gostomp.SendOpt.Header("color", "green")); err != nil {
			t.Fatal(err)
		}
	}
	// Larger than the connector's write buffer: the MESSAGE frame leaves
	// in several WebSocket messages, which stompjs must join.
	const bigLen = 300 << 10
	if err := plain.Send("/queue/to-js", "text/plain", bytes.Repeat([]byte("x"), bigLen),
		gostomp.SendOpt.Receipt, gostomp.SendOpt.Header("color", "big")); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.js", "ws://"+addrs["ws"]+"/", fmt.Sprint(n))
	cmd.Dir = stompjsDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("stompjs client: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	var connected, protocol string
	var received []struct{ Body, Color string }
	sent := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var ev struct {
			Connected, Protocol, Error string
			Received                   []struct{ Body, Color string }
			Sent                       int
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("stompjs output %q: %v", sc.Text(), err)
		}
		switch {
		case ev.Error != "":
			t.Fatalf("stompjs: %s", ev.Error)
		case ev.Connected != "":
			connected, protocol = ev.Connected, ev.Protocol
		case ev.Received != nil:
			received = ev.Received
		case ev.Sent > 0:
			sent = ev.Sent
		}
	}
	if connected != "1.2" || protocol != "v12.stomp" {
		t.Fatalf("stompjs connected with STOMP %q over subprotocol %q, want 1.2 over v12.stomp", connected, protocol)
	}
	if len(received) != n+1 || sent != n {
		t.Fatalf("stompjs received %v and sent %d, want %d and %d", received, sent, n+1, n)
	}
	if big := received[n]; big.Body != fmt.Sprintf("x*%d", bigLen) || big.Color != "big" {
		t.Fatalf("stompjs large message: %+v", big)
	}
	for i, m := range received[:n] {
		if m.Body != fmt.Sprintf("go-%d", i) || m.Color != "green" {
			t.Fatalf("stompjs message %d: %+v", i, m)
		}
	}

	sub, err := plain.Subscribe("/queue/from-js", gostomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		select {
		case m := <-sub.C:
			if m.Err != nil {
				t.Fatal(m.Err)
			}
			if want := fmt.Sprintf("js-%d é€", i); string(m.Body) != want || m.Header.Get("color") != "blue" {
				t.Fatalf("plain consumer got %q color=%q, want %q blue", m.Body, m.Header.Get("color"), want)
			}
		case <-time.After(wsWait):
			t.Fatalf("plain consumer: message %d missing", i)
		}
	}
	if strings.TrimSpace(stderr.String()) != "" {
		t.Logf("stompjs stderr: %s", stderr.String())
	}
}
