//go:build interop

package stomp

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/tethermq/tether/server/internal/broker"
)

// pythonStompScript sends five messages with Debian's python3-stomp (stomp.py,
// STOMP 1.2), then receives five that the Go side queued for it, acking
// each, and prints what it received.
const pythonStompScript = `
import sys, time, threading, stomp
host, port = sys.argv[1], int(sys.argv[2])
got, done = [], threading.Event()
class L(stomp.ConnectionListener):
    def on_message(self, frame):
        got.append(frame.body)
        conn.ack(frame.headers['ack'])
        if len(got) == 5:
            done.set()
    def on_error(self, frame):
        print('ERROR', frame.headers.get('message'), flush=True)
        sys.exit(1)
conn = stomp.Connection12([(host, port)], heartbeats=(1000, 1000))
conn.set_listener('', L())
conn.connect('admin', 'secret', wait=True)
for i in range(5):
    conn.send('/queue/from-python', 'py-%d' % i, headers={'persistent': 'true', 'color': 'blue'}, receipt='r%d' % i)
conn.subscribe('/queue/to-python', id='s1', ack='client-individual')
if not done.wait(10):
    print('TIMEOUT', got, flush=True)
    sys.exit(1)
print('GOT', ','.join(got), flush=True)
conn.disconnect()
`

func TestPythonStompClient(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{Authenticate: func(u, p string) error {
		if u == "admin" && p == "secret" {
			return nil
		}
		return errBadCreds
	}})
	tb.login, tb.passcode = "admin", "secret"
	c := tb.dial()
	for i := range 5 {
		send(t, c, "/queue/to-python", "go-"+string(rune('0'+i)))
	}
	host, port, _ := strings.Cut(tb.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "-c", pythonStompScript, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("python3-stomp: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "GOT go-0,go-1,go-2,go-3,go-4") {
		t.Fatalf("python3-stomp output: %s", out)
	}
	s := subscribe(t, c, "/queue/from-python", gostomp.AckAuto)
	for i := range 5 {
		m := recv(t, s)
		if string(m.Body) != "py-"+string(rune('0'+i)) || m.Header.Get("color") != "blue" || m.Header.Get("persistent") != "true" {
			t.Fatalf("from python: %q %v", m.Body, m.Header)
		}
	}
}
