package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSendThenReceiveJSON(t *testing.T) {
	uri := startBroker(t)
	out := tether(t, "", "send", "--uri", uri, "-H", "color=blue", "-H", "size=L", "--group", "g7",
		"--persistent", "--count", "3", "queue://cli.orders", "hello").mustSucceed(t)
	if !strings.Contains(out.stdout, "sent 3 message(s)") {
		t.Fatalf("send output: %q", out.stdout)
	}
	got := tether(t, "", "receive", "--uri", uri, "--count", "3", "--timeout", "10s", "--ack", "individual",
		"--output", "json", "queue://cli.orders").mustSucceed(t)
	sc := bufio.NewScanner(strings.NewReader(got.stdout))
	n := 0
	for sc.Scan() {
		var m jsonMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v: %q", n+1, err, sc.Text())
		}
		if m.Body != "hello" || m.Headers["color"] != "blue" || m.Headers["size"] != "L" ||
			m.Group != "g7" || !m.Persistent || m.Destination != "queue://cli.orders" {
			t.Fatalf("message %d: %+v", n+1, m)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("got %d JSON lines, want 3:\n%s", n, got.stdout)
	}
	// Acked: nothing is left.
	left := tether(t, "", "receive", "--uri", uri, "--timeout", "300ms", "--output", "count", "queue://cli.orders").mustSucceed(t)
	if strings.TrimSpace(left.stdout) != "0" {
		t.Fatalf("left on the queue: %q", left.stdout)
	}
}

func TestSendBodyFromFileAndStdinReceiveBodies(t *testing.T) {
	uri := startBroker(t)
	path := filepath.Join(t.TempDir(), "body.txt")
	if err := os.WriteFile(path, []byte("from a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	tether(t, "", "send", "--uri", uri, "-q", "--file", path, "cli.bodies").mustSucceed(t)
	tether(t, "from stdin", "send", "--uri", uri, "-q", "--file", "-", "--confirm=false", "cli.bodies").mustSucceed(t)
	got := tether(t, "", "receive", "--uri", uri, "--count", "2", "--timeout", "10s", "cli.bodies").mustSucceed(t)
	if got.stdout != "from a file\nfrom stdin\n" {
		t.Fatalf("bodies: %q", got.stdout)
	}
	if !strings.Contains(got.stderr, "received 2 message(s)") {
		t.Fatalf("summary: %q", got.stderr)
	}
}

func TestReceiveTimeout(t *testing.T) {
	uri := startBroker(t)
	// Fewer than --count before the timeout is a failure...
	o := tether(t, "", "receive", "--uri", uri, "--count", "1", "--timeout", "200ms", "queue://cli.empty")
	if o.code != exitFailed || !strings.Contains(o.stderr, "received 0 of 1") {
		t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
	}
	// ...while without a count the timeout is the normal end.
	o = tether(t, "", "receive", "--uri", uri, "--timeout", "200ms", "--output", "count", "queue://cli.empty").mustSucceed(t)
	if strings.TrimSpace(o.stdout) != "0" {
		t.Fatalf("count: %q", o.stdout)
	}
}

func TestNoBrokerFailsAfterConnectTimeout(t *testing.T) {
	// Nothing listens on the port: the failover reconnect loop would retry
	// forever; --connect-timeout turns that into an error.
	o := tether(t, "", "send", "--uri", "stomp://127.0.0.1:1", "--connect-timeout", "300ms", "queue://x", "body")
	if o.code != exitFailed || !strings.Contains(o.stderr, "no broker answered within 300ms") {
		t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
	}
}
