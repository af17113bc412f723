//go:build interop

package server

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/tethermq/tether/internal/testutil"
)

// protonScript sends three durable messages with Debian's Qpid Proton
// (python3-qpid-proton), then receives the three the Go side queued for it.
const protonScript = `
import sys
from proton import Message
from proton.utils import BlockingConnection
url = sys.argv[1]
conn = BlockingConnection(url, timeout=10)
snd = conn.create_sender("queue://from-proton")
for i in range(3):
    snd.send(Message(body="proton-%d" % i, durable=True, properties={"color": "green"}, group_id="pg", group_sequence=i+1))
rcv = conn.create_receiver("queue://to-proton", credit=10)
got = []
for i in range(3):
    m = rcv.receive(timeout=10)
    got.append(m.body if isinstance(m.body, str) else m.body.decode())
    rcv.accept()
print("GOT", ",".join(got), flush=True)
conn.close()
`

func TestQpidProtonClient(t *testing.T) {
	_, addr := startAll(t)
	c, err := gostomp.Dial("tcp", addr["stomp"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	for _, b := range []string{"go-0", "go-1", "go-2"} {
		if err := c.Send("/queue/to-proton", "text/plain", []byte(b), gostomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "-c", protonScript, "amqp://"+addr["amqp"]).CombinedOutput()
	if err != nil {
		t.Fatalf("qpid-proton: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "GOT go-0,go-1,go-2") {
		t.Fatalf("qpid-proton output: %s", out)
	}
	s, err := c.Subscribe("/queue/from-proton", gostomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		select {
		case m := <-s.C:
			want := "proton-" + string(rune('0'+i))
			if m.Err != nil || string(m.Body) != want || m.Header.Get("color") != "green" ||
				m.Header.Get("JMSXGroupID") != "pg" || m.Header.Get("persistent") != "true" {
				t.Fatalf("from proton: %q %v (%v)", m.Body, m.Header, m.Err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no message from proton")
		}
	}
}

func TestMosquittoClients(t *testing.T) {
	srv, addr := startAll(t)
	host, port, _ := strings.Cut(addr["mqtt"], ":")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub := exec.CommandContext(ctx, "mosquitto_sub", "-h", host, "-p", port, "-t", "sensors/#", "-q", "1", "-C", "3", "-v", "-i", "mosq-sub")
	var out strings.Builder
	sub.Stdout, sub.Stderr = &out, &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		for _, st := range srv.Broker().Stats() {
			if st.Destination == "topic://sensors.>" && st.Consumers > 0 {
				return true
			}
		}
		return false
	}, "mosquitto_sub subscribed")
	for i, topic := range []string{"sensors/a", "sensors/b/c", "other/x", "sensors/d"} {
		msg := "m" + string(rune('0'+i))
		pub := exec.CommandContext(ctx, "mosquitto_pub", "-h", host, "-p", port, "-t", topic, "-m", msg, "-q", "1", "-i", "mosq-pub")
		if b, err := pub.CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, b)
		}
	}
	// other/x does not match sensors/#; -C 3 ends the subscriber after three.
	if err := sub.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v\n%s", err, out.String())
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{"sensors/a m0", "sensors/b/c m1", "sensors/d m3"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("mosquitto_sub got %q, want %q", got, want)
	}
}
