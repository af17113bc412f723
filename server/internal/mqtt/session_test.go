package mqtt

import (
	"fmt"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/internal/testutil"
)

// persistentClient connects a cleanSession=false client whose messages,
// including those of resumed subscriptions (which have no handler in a new
// paho client), land in in.
func persistentClient(t *testing.T, e *env, id string, in inbox) (paho.Client, bool) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + e.addr).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(false).SetConnectTimeout(waitFor).SetDefaultPublishHandler(in.handler)
	c := paho.NewClient(o)
	tok := c.Connect()
	waitToken(t, tok)
	t.Cleanup(func() {
		if c.IsConnected() {
			c.Disconnect(250)
		}
	})
	return c, tok.(*paho.ConnectToken).SessionPresent()
}

func publishN(t *testing.T, e *env, topic string, qos byte, n int, prefix string) {
	t.Helper()
	p := e.client(t, "pub-"+prefix, true, nil)
	for i := range n {
		waitToken(t, p.Publish(topic, qos, false, fmt.Sprintf("%s-%d", prefix, i)))
	}
	p.Disconnect(250)
}

func expectPayloads(t *testing.T, in inbox, prefix string, n int, qos byte) {
	t.Helper()
	for i := range n {
		m := in.next(t)
		if want := fmt.Sprintf("%s-%d", prefix, i); string(m.Payload()) != want || m.Qos() != qos {
			t.Fatalf("got %q at QoS %d, want %q at QoS %d", m.Payload(), m.Qos(), want, qos)
		}
	}
}

// waitGone waits until the server has torn every connection down, so that
// a durable subscription is inactive before messages are published.
func waitGone(t *testing.T, e *env) {
	t.Helper()
	testutil.Eventually(t, waitFor, func() bool { return e.srv.Connections() == 0 }, "connections still open: %d", e.srv.Connections())
}

func TestPersistentSessionAcrossReconnect(t *testing.T) {
	e := newEnv(t, Options{})
	in := newInbox()
	c, present := persistentClient(t, e, "durable-1", in)
	if present {
		t.Fatal("session present on the first connection")
	}
	waitToken(t, c.Subscribe("ps/#", 1, nil))
	waitToken(t, c.Subscribe("ps0/#", 0, nil))
	c.Disconnect(250)
	waitGone(t, e)

	publishN(t, e, "ps/x", 1, 5, "away") // kept by the durable subscription
	publishN(t, e, "ps/y", 2, 2, "away2")

	c, present = persistentClient(t, e, "durable-1", in)
	if !present {
		t.Fatal("session not present on reconnect")
	}
	expectPayloads(t, in, "away", 5, 1)
	expectPayloads(t, in, "away2", 2, 1) // min(2, subscription QoS 1)
	// The QoS 0 subscription is part of the session too, live again.
	publishN(t, e, "ps0/z", 0, 1, "live")
	expectPayloads(t, in, "live", 1, 0)
	if s, ok := e.subscriptionStats(durableName("ps/#")); !ok || s.Consumers != 1 {
		t.Fatalf("durable subscription %+v (found %v), want one consumer", s, ok)
	}

	// Unsubscribing deletes the durable subscription and its record entry.
	waitToken(t, c.Unsubscribe("ps/#"))
	if _, ok := e.subscriptionStats(durableName("ps/#")); ok {
		t.Fatal("durable subscription still there after UNSUBSCRIBE")
	}
	c.Disconnect(250)
	waitGone(t, e)
	publishN(t, e, "ps/x", 1, 1, "gone")
	_, present = persistentClient(t, e, "durable-1", in)
	if !present {
		t.Fatal("session (with its QoS 0 subscription left) not present")
	}
	publishN(t, e, "ps0/z", 0, 1, "still")
	expectPayloads(t, in, "still", 1, 0) // the next message: nothing from ps/#
}

func TestPersistentSessionAcrossBrokerRestart(t *testing.T) {
	e := newEnv(t, Options{})
	in := newInbox()
	c, _ := persistentClient(t, e, "durable-2", in)
	waitToken(t, c.Subscribe("restart/+/t", 2, nil))
	c.Disconnect(250)
	waitGone(t, e)
	publishN(t, e, "restart/a/t", 2, 3, "q2")
	publishN(t, e, "restart/b/t", 1, 2, "q1")

	e.restart()
	_, present := persistentClient(t, e, "durable-2", in)
	if !present {
		t.Fatal("session not present after a broker restart")
	}
	expectPayloads(t, in, "q2", 3, 2)
	expectPayloads(t, in, "q1", 2, 1)
}

// TestPersistentSessionRedeliversUnacked: messages delivered but not
// acknowledged when the connection died are sent again, flagged DUP.
func TestPersistentSessionRedeliversUnacked(t *testing.T) {
	e := newEnv(t, Options{})
	r := dialRaw(t, e.addr)
	r.connect(connectPacket("durable-3", false, 30))
	r.send(subscribePacket(1, "unacked/t", 1))
	expect[*packets.SubackPacket](r, 1)
	publishN(t, e, "unacked/t", 1, 1, "m")
	first := r.publish()
	if first.Dup || string(first.Payload) != "m-0" {
		t.Fatalf("first delivery %s", first)
	}
	r.nc.Close() // no PUBACK
	waitGone(t, e)

	r = dialRaw(t, e.addr)
	if ack := r.connect(connectPacket("durable-3", false, 30)); !ack.SessionPresent {
		t.Fatal("session not present")
	}
	again := r.publish()
	if !again.Dup || string(again.Payload) != "m-0" || again.Qos != 1 {
		t.Fatalf("redelivery %s, want DUP m-0 at QoS 1", again)
	}
	r.send(puback(again.MessageID))
	testutil.Eventually(t, waitFor, func() bool { return e.brokerInFlight() == 0 }, "PUBACK did not reach the broker")
}

func TestCleanSessionDiscardsPersistentOne(t *testing.T) {
	e := newEnv(t, Options{})
	in := newInbox()
	c, _ := persistentClient(t, e, "durable-4", in)
	waitToken(t, c.Subscribe("clean/#", 1, nil))
	c.Disconnect(250)
	waitGone(t, e)
	publishN(t, e, "clean/x", 1, 2, "old")

	r := dialRaw(t, e.addr)
	if ack := r.connect(connectPacket("durable-4", true, 30)); ack.SessionPresent || ack.ReturnCode != 0 {
		t.Fatalf("clean CONNACK %s", ack)
	}
	if _, ok := e.subscriptionStats(durableName("clean/#")); ok {
		t.Fatal("durable subscription survived a clean session")
	}
	r.send(packets.NewControlPacket(packets.Disconnect))
	r.expectClosed(waitFor)
	waitGone(t, e)

	c, present := persistentClient(t, e, "durable-4", in)
	if present {
		t.Fatal("session present after a clean session discarded it")
	}
	// Had the durable subscription survived, re-creating it would deliver
	// its backlog before the marker.
	waitToken(t, c.Subscribe("clean/#", 1, nil))
	publishN(t, e, "clean/x", 1, 1, "marker")
	expectPayloads(t, in, "marker", 1, 1)
}

// TestResubscribeAtAnotherQoSKeepsBacklog: in a persistent session the
// durable subscription's name does not include the QoS, so changing the
// QoS resumes it; the unacknowledged message comes back (DUP) at the new
// QoS instead of being dropped with an old subscription.
func TestResubscribeAtAnotherQoSKeepsBacklog(t *testing.T) {
	e := newEnv(t, Options{})
	r := dialRaw(t, e.addr)
	r.connect(connectPacket("qos-changer", false, 30))
	r.send(subscribePacket(1, "chg/t", 1))
	expect[*packets.SubackPacket](r, 1)
	publishN(t, e, "chg/t", 2, 1, "c")
	first := r.publish()
	if string(first.Payload) != "c-0" || first.Qos != 1 || first.Dup {
		t.Fatalf("first delivery %s", first)
	}
	r.send(subscribePacket(2, "chg/t", 2)) // no PUBACK for the first delivery
	var again *packets.PublishPacket
	for range 2 { // SUBACK and the redelivery, in either order
		switch p := r.read().(type) {
		case *packets.SubackPacket:
			if p.MessageID != 2 || len(p.ReturnCodes) != 1 || p.ReturnCodes[0] != 2 {
				t.Fatalf("SUBACK %s codes %v", p, p.ReturnCodes)
			}
		case *packets.PublishPacket:
			again = p
		default:
			t.Fatalf("unexpected %s", p)
		}
	}
	if again == nil || string(again.Payload) != "c-0" || again.Qos != 2 || !again.Dup {
		t.Fatalf("redelivery %v, want DUP c-0 at QoS 2", again)
	}
	r.send(&packets.PubrecPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Pubrec}, MessageID: again.MessageID})
	expect[*packets.PubrelPacket](r, again.MessageID)
	r.send(&packets.PubcompPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Pubcomp}, MessageID: again.MessageID})
	// The late PUBACK of the first delivery frees its packet id; its
	// consumer is gone, so it acknowledges nothing in the broker.
	r.send(puback(first.MessageID))
	testutil.Eventually(t, waitFor, func() bool { return e.brokerInFlight() == 0 && e.outstanding() == 0 }, "QoS 2 handshake did not complete")
	if s, ok := e.subscriptionStats(durableName("chg/t")); !ok || s.Consumers != 1 || s.Pending != 0 {
		t.Fatalf("durable subscription %+v (found %v)", s, ok)
	}
}
