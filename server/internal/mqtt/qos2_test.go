package mqtt

import (
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/server/internal/broker"
)

func pubrel(id uint16) *packets.PubrelPacket {
	return &packets.PubrelPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Pubrel, Qos: 1}, MessageID: id}
}

// auditSub is a durable broker subscription: every message routed to it is
// stored, so counting its deliveries counts stored copies.
func auditSub(t *testing.T, e *env, topic string) chan *broker.Delivery {
	t.Helper()
	sess, err := e.b.NewSession(broker.SessionOptions{ClientID: "audit"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	ch := make(chan *broker.Delivery, 100)
	if _, err := sess.Subscribe(broker.ConsumerOptions{Dest: broker.Destination{Kind: broker.Topic, Name: topic},
		DurableName: "audit"}, func(d *broker.Delivery) { ch <- d }); err != nil {
		t.Fatal(err)
	}
	return ch
}

func expectBodies(t *testing.T, ch chan *broker.Delivery, bodies ...string) {
	t.Helper()
	for _, want := range bodies {
		if d := nextDelivery(t, ch); string(d.Message.Body) != want {
			t.Fatalf("broker got %q, want %q", d.Message.Body, want)
		}
	}
}

func TestQoS2RetransmissionStoredOnce(t *testing.T) {
	e := newEnv(t, Options{})
	audit := auditSub(t, e, "q2.t")

	r := dialRaw(t, e.addr)
	r.connect(connectPacket("q2-client", false, 30))
	r.send(publishPacket("q2/t", 2, 7, "once"))
	expect[*packets.PubrecPacket](r, 7)
	dup := publishPacket("q2/t", 2, 7, "once")
	dup.Dup = true
	r.send(dup) // retransmitted before PUBREL: same packet id
	expect[*packets.PubrecPacket](r, 7)
	r.send(pubrel(7))
	expect[*packets.PubcompPacket](r, 7)
	// The id is free again: a new message with it is a new message.
	r.send(publishPacket("q2/t", 2, 7, "reused"))
	expect[*packets.PubrecPacket](r, 7)
	r.send(pubrel(7))
	expect[*packets.PubcompPacket](r, 7)
	expectBodies(t, audit, "once", "reused")

	// Across a reconnect of the persistent session: the client did not
	// get (or did not keep) PUBREC and re-sends on its new connection.
	r.send(publishPacket("q2/t", 2, 9, "across"))
	expect[*packets.PubrecPacket](r, 9)
	r.nc.Close()
	r = dialRaw(t, e.addr)
	r.connect(connectPacket("q2-client", false, 30))
	dup = publishPacket("q2/t", 2, 9, "across")
	dup.Dup = true
	r.send(dup)
	expect[*packets.PubrecPacket](r, 9)
	r.send(pubrel(9))
	expect[*packets.PubcompPacket](r, 9)
	r.send(publishPacket("q2/t", 1, 10, "marker"))
	expect[*packets.PubackPacket](r, 10)
	expectBodies(t, audit, "across", "marker")

	// Pipelined: the retransmission arrives while the original may still
	// be on its way to the disk; it waits for the original's outcome.
	r.send(publishPacket("q2/t", 2, 11, "pipelined"))
	dup = publishPacket("q2/t", 2, 11, "pipelined")
	dup.Dup = true
	r.send(dup)
	r.send(pubrel(11))
	expect[*packets.PubrecPacket](r, 11)
	expect[*packets.PubrecPacket](r, 11)
	expect[*packets.PubcompPacket](r, 11)
	r.send(publishPacket("q2/t", 1, 12, "marker2"))
	expect[*packets.PubackPacket](r, 12)
	expectBodies(t, audit, "pipelined", "marker2")
}

// TestAcksInReceiveOrder pipelines QoS 1 and 2 publishes whose stores
// finish at different times (durable subscriber or none, retained or not)
// and checks that PUBACK/PUBREC/PUBCOMP come back in arrival order.
func TestAcksInReceiveOrder(t *testing.T) {
	e := newEnv(t, Options{})
	auditSub(t, e, "ord.stored")
	r := dialRaw(t, e.addr)
	r.connect(connectPacket("orderly", true, 30))
	type want struct {
		typ byte
		id  uint16
	}
	var wants []want
	for i := uint16(1); i <= 30; i++ {
		topic := []string{"ord/stored", "ord/nobody", "ord/retained"}[i%3]
		qos := byte(1 + i%2)
		p := publishPacket(topic, qos, i, "m")
		p.Retain = topic == "ord/retained"
		r.send(p)
		if qos == 1 {
			wants = append(wants, want{packets.Puback, i})
		} else {
			wants = append(wants, want{packets.Pubrec, i})
		}
		if i%5 == 0 {
			// Release the latest QoS 2 message, maybe before its PUBREC
			// left: PUBCOMP still comes after it.
			rel := i
			if qos == 1 {
				rel = i - 1
			}
			r.send(pubrel(rel))
			wants = append(wants, want{packets.Pubcomp, rel})
		}
	}
	for _, w := range wants {
		p := r.read()
		if typ := packetType(p); typ != w.typ || p.Details().MessageID != w.id {
			t.Fatalf("got %s, want %s %d", p, packets.PacketNames[w.typ], w.id)
		}
	}
}

func packetType(p packets.ControlPacket) byte {
	switch p.(type) {
	case *packets.PubackPacket:
		return packets.Puback
	case *packets.PubrecPacket:
		return packets.Pubrec
	case *packets.PubcompPacket:
		return packets.Pubcomp
	}
	return 0
}
