package mqtt

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/internal/testutil"
)

func withWill(cp *packets.ConnectPacket, topic, msg string, qos byte, retain bool) *packets.ConnectPacket {
	cp.WillFlag, cp.WillTopic, cp.WillMessage, cp.WillQos, cp.WillRetain = true, topic, []byte(msg), qos, retain
	return cp
}

func TestWillPublishedOnAbnormalDisconnect(t *testing.T) {
	e := newEnv(t, Options{})
	in := newInbox()
	sub := e.client(t, "will-watcher", true, nil)
	waitToken(t, sub.Subscribe("will/#", 2, in.handler))

	r := dialRaw(t, e.addr)
	r.connect(withWill(connectPacket("dies", true, 30), "will/dies", "gone", 1, true))
	r.nc.Close() // no DISCONNECT
	m := in.next(t)
	if m.Topic() != "will/dies" || string(m.Payload()) != "gone" || m.Qos() != 1 {
		t.Fatalf("will: got %s %q qos %d", m.Topic(), m.Payload(), m.Qos())
	}
	// A retained will is retained (the will has no PUBACK to wait for, so
	// the table update may land just after the live message).
	testutil.Eventually(t, waitFor, func() bool { return e.retainedPayload("will/dies") == "gone" }, "will not retained")
	expectRetained(t, e, "late", "will/dies", 2, []retainedWant{{"will/dies", "gone", 1}}, "will/dies")
}

func TestNoWillAfterDisconnect(t *testing.T) {
	e := newEnv(t, Options{})
	in := newInbox()
	sub := e.client(t, "will-watcher", true, nil)
	waitToken(t, sub.Subscribe("will/#", 0, in.handler))

	r := dialRaw(t, e.addr)
	r.connect(withWill(connectPacket("polite", true, 30), "will/polite", "gone", 0, false))
	r.send(packets.NewControlPacket(packets.Disconnect))
	r.expectClosed(waitFor)
	// Once the connection is torn down a will would already be routed, so
	// the marker published afterwards must be the next message.
	testutil.Eventually(t, waitFor, func() bool { return e.srv.Connections() == 1 }, "connection not torn down")
	waitToken(t, sub.Publish("will/marker", 0, false, "marker"))
	if m := in.next(t); m.Topic() != "will/marker" {
		t.Fatalf("got %s %q: will published after DISCONNECT", m.Topic(), m.Payload())
	}
}

// TestKeepAliveEnforced: a client that promised keep-alive 1 s and goes
// silent is dropped after 1.5 s (and not much earlier), and its will is
// published; a client that keeps talking stays.
func TestKeepAliveEnforced(t *testing.T) {
	e := newEnv(t, Options{})
	in := newInbox()
	sub := e.client(t, "ka-watcher", true, func(o *paho.ClientOptions) { o.SetKeepAlive(time.Second) })
	waitToken(t, sub.Subscribe("ka/#", 1, in.handler))

	r := dialRaw(t, e.addr)
	start := time.Now()
	if ack := r.connect(withWill(connectPacket("silent", true, 1), "ka/silent", "timed out", 1, false)); ack.ReturnCode != 0 {
		t.Fatalf("CONNACK %d", ack.ReturnCode)
	}
	r.expectClosed(5 * time.Second)
	if d := time.Since(start); d < 1400*time.Millisecond {
		t.Fatalf("dropped after %v, before 1.5 x keep-alive", d)
	}
	if m := in.next(t); m.Topic() != "ka/silent" || string(m.Payload()) != "timed out" {
		t.Fatalf("got %s %q, want the will", m.Topic(), m.Payload())
	}
	// paho pinged all along (keep-alive 1 s, more than 1.5 s ago).
	if !sub.IsConnected() {
		t.Fatal("a client that pings was dropped")
	}
}

func TestConnectTimeout(t *testing.T) {
	e := newEnv(t, Options{ConnectTimeout: 300 * time.Millisecond})
	r := dialRaw(t, e.addr)
	r.expectClosed(5 * time.Second) // never sent CONNECT
}

// TestDefaultKeepAlive: a client asking for no keep-alive gets the
// connector's default (ActiveMQ's transport.defaultKeepAlive).
func TestDefaultKeepAlive(t *testing.T) {
	e := newEnv(t, Options{DefaultKeepAlive: 400 * time.Millisecond})
	r := dialRaw(t, e.addr)
	start := time.Now()
	r.connect(connectPacket("no-keepalive", true, 0))
	r.expectClosed(5 * time.Second)
	if d := time.Since(start); d < 550*time.Millisecond {
		t.Fatalf("dropped after %v, before 1.5 x the default keep-alive", d)
	}
}
