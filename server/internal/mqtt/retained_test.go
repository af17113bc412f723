package mqtt

import (
	"fmt"
	"testing"

	"github.com/tethermq/tether/internal/testutil"
)

type retainedWant struct {
	topic, payload string
	qos            byte
}

// expectRetained subscribes to filter at qos and checks the retained
// messages that arrive, then that nothing else was retained: a live marker
// published afterwards is the very next message.
func expectRetained(t *testing.T, e *env, id, filter string, qos byte, want []retainedWant, marker string) {
	t.Helper()
	in := newInbox()
	c := e.client(t, id, true, nil)
	waitToken(t, c.Subscribe(filter, qos, in.handler))
	for _, w := range want {
		m := in.next(t)
		if m.Topic() != w.topic || string(m.Payload()) != w.payload || m.Qos() != w.qos || !m.Retained() {
			t.Fatalf("got %s %q qos %d retained %v, want retained %s %q qos %d",
				m.Topic(), m.Payload(), m.Qos(), m.Retained(), w.topic, w.payload, w.qos)
		}
	}
	waitToken(t, c.Publish(marker, 0, false, "marker"))
	if m := in.next(t); m.Topic() != marker || m.Retained() {
		t.Fatalf("got %s %q retained %v, want the live marker %s", m.Topic(), m.Payload(), m.Retained(), marker)
	}
	c.Disconnect(250)
}

func TestRetainedMessages(t *testing.T) {
	e := newEnv(t, Options{})
	live := newInbox()
	watcher := e.client(t, "watcher", true, nil)
	waitToken(t, watcher.Subscribe("r/#", 2, live.handler))

	p := e.client(t, "retainer", true, nil)
	for _, m := range []struct {
		topic, payload string
		qos            byte
	}{
		{"r/a", "A1", 1},
		{"r/a", "A2", 2}, // replaces A1
		{"r/b", "B", 0},  // QoS 0 retained messages are kept too
		{"r/c", "C", 2},
		{"r/c", "", 1}, // an empty retained message clears r/c
		{"other/x", "X", 1},
	} {
		waitToken(t, p.Publish(m.topic, m.qos, true, m.payload))
	}
	// Subscribers already there get the messages live, retain flag clear
	// [MQTT-3.3.1-9], including the empty one [MQTT-3.3.1-10].
	for _, want := range []string{"A1", "A2", "B", "C", ""} {
		if m := live.next(t); string(m.Payload()) != want || m.Retained() {
			t.Fatalf("live: got %q retained %v, want %q not retained", m.Payload(), m.Retained(), want)
		}
	}

	want := []retainedWant{{"r/a", "A2", 2}, {"r/b", "B", 0}}
	expectRetained(t, e, "late-1", "r/#", 2, want, "r/zz")
	// Delivered at min(retained QoS, subscription QoS).
	expectRetained(t, e, "late-2", "r/+", 1, []retainedWant{{"r/a", "A2", 1}, {"r/b", "B", 0}}, "r/zz")
	expectRetained(t, e, "late-3", "r/a", 0, []retainedWant{{"r/a", "A2", 0}}, "r/a")

	e.restart()
	expectRetained(t, e, "after-restart", "r/#", 2, want, "r/zz")
	expectRetained(t, e, "other", "#", 2, []retainedWant{{"other/x", "X", 1}, {"r/a", "A2", 2}, {"r/b", "B", 0}}, "r/zz")
}

// TestRetainedSurvivesManyConnectorRestarts reopens the connector on one
// broker more often than the broker's redelivery limit: the retained
// table's messages are redelivered at each reopen and must not end in the
// dead-letter queue.
func TestRetainedSurvivesManyConnectorRestarts(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.client(t, "retainer", true, nil)
	waitToken(t, p.Publish("keep/me", 1, true, "still here"))
	p.Disconnect(250)
	for range 9 { // MaxRedeliveries is 6
		e.srv.Close()
		if err := <-e.serveDone; err != nil {
			t.Fatal(err)
		}
		e.srv = New(e.b, e.opts)
		ln := listen(t, e.addr)
		srv := e.srv
		go func() { e.serveDone <- srv.Serve(ln) }()
		// A CONNACK proves the new connector loaded its tables.
		if ack := dialRaw(t, e.addr).connect(connectPacket("probe", true, 30)); ack.ReturnCode != 0 {
			t.Fatalf("CONNACK %d", ack.ReturnCode)
		}
	}
	expectRetained(t, e, "late", "keep/#", 1, []retainedWant{{"keep/me", "still here", 1}}, "keep/zz")
	for _, s := range e.b.Stats() {
		if s.Destination == "queue://ActiveMQ.DLQ" && s.Pending > 0 {
			t.Fatalf("retained message dead-lettered: %+v", s)
		}
	}
	e.restart()
	expectRetained(t, e, "later", "keep/#", 1, []retainedWant{{"keep/me", "still here", 1}}, "keep/zz")
}

// TestListenersShareState: two connectors on one broker (mqtt:// and
// mqtt+ssl://, say) see the same retained messages and sessions, and the
// broker's internal queues have one consumer each, not two competing.
func TestListenersShareState(t *testing.T) {
	e := newEnv(t, Options{})
	second := New(e.b, e.opts)
	ln := listen(t, fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)))
	done := make(chan error, 1)
	go func() { done <- second.Serve(ln) }()
	defer func() {
		second.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	other := &env{t: t, addr: ln.Addr().String(), srv: second, b: e.b}

	p := e.client(t, "retainer", true, nil)
	waitToken(t, p.Publish("shared/r", 1, true, "both"))
	p.Disconnect(250)
	expectRetained(t, other, "via-second", "shared/#", 1, []retainedWant{{"shared/r", "both", 1}}, "shared/zz")

	in := newInbox()
	c, _ := persistentClient(t, e, "roamer", in)
	waitToken(t, c.Subscribe("roam/t", 1, nil))
	c.Disconnect(250)
	waitGone(t, e)
	publishN(t, e, "roam/t", 1, 1, "kept")
	if _, present := persistentClient(t, other, "roamer", in); !present {
		t.Fatal("session not present through the second listener")
	}
	expectPayloads(t, in, "kept", 1, 1)

	for _, s := range e.b.Stats() {
		if s.Destination == "queue://"+retainedQueue && s.Consumers != 1 {
			t.Fatalf("retained table has %d consumers", s.Consumers)
		}
	}
}
