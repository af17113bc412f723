package mqtt

import (
	"fmt"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/internal/testutil"
)

// TestRetainedBeforeFanOut races a SUBSCRIBE against the retained PUBLISH
// it follows: the subscriber asks as soon as a watcher saw the live copy,
// and must always get the retained one. With the retained table updated
// after the fan-out this lost the race within a few rounds.
func TestRetainedBeforeFanOut(t *testing.T) {
	e := newEnv(t, Options{})
	pub := dialRaw(t, e.addr)
	pub.connect(connectPacket("race-pub", true, 30))
	watch := dialRaw(t, e.addr)
	watch.connect(connectPacket("race-watch", true, 30))
	watch.send(subscribePacket(1, "race/#", 0))
	expect[*packets.SubackPacket](watch, 1)
	sub := dialRaw(t, e.addr)
	sub.connect(connectPacket("race-sub", true, 30))

	const rounds = 300
	for i := range rounds {
		topic := fmt.Sprintf("race/%d", i)
		for _, qos := range []byte{0, 1} {
			want := fmt.Sprintf("r%d-q%d", i, qos)
			p := publishPacket(topic, qos, uint16(i+1), want)
			p.Retain = true
			pub.send(p)
			live := watch.publish()
			if live.TopicName != topic || string(live.Payload) != want {
				t.Fatalf("round %d: watcher got %s %q", i, live.TopicName, live.Payload)
			}
			id := uint16(2*i + int(qos) + 1)
			sub.send(subscribePacket(id, topic, 0))
			expect[*packets.SubackPacket](sub, id)
			got := sub.publish()
			if !got.Retain || got.TopicName != topic || string(got.Payload) != want {
				t.Fatalf("round %d QoS %d: subscriber got retain=%v %s %q, want the retained %q", i, qos, got.Retain, got.TopicName, got.Payload, want)
			}
			// Drop the subscription so the next round's retained copy is
			// the only PUBLISH the subscriber gets.
			unsub := packets.NewControlPacket(packets.Unsubscribe).(*packets.UnsubscribePacket)
			unsub.MessageID, unsub.Topics = id, []string{topic}
			sub.send(unsub)
			expect[*packets.UnsubackPacket](sub, id)
			if qos == 1 {
				expect[*packets.PubackPacket](pub, uint16(i+1))
			}
		}
	}
}

func pubrec(id uint16) packets.ControlPacket {
	return &packets.PubrecPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Pubrec}, MessageID: id}
}

func pubcomp(id uint16) packets.ControlPacket {
	return &packets.PubcompPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Pubcomp}, MessageID: id}
}

// subscribedRaw connects a raw persistent client subscribed to filter.
func subscribedRaw(t *testing.T, e *env, id, filter string, qos byte) *raw {
	t.Helper()
	r := dialRaw(t, e.addr)
	r.connect(connectPacket(id, false, 30))
	r.send(subscribePacket(1, filter, qos))
	expect[*packets.SubackPacket](r, 1)
	return r
}

// reconnect drops r's connection, waits until the server let it go, and
// connects again with the same persistent client id.
func reconnect(t *testing.T, e *env, r *raw, id string) *raw {
	t.Helper()
	r.nc.Close()
	waitGone(t, e)
	r = dialRaw(t, e.addr)
	if ack := r.connect(connectPacket(id, false, 30)); ack.ReturnCode != 0 || !ack.SessionPresent {
		t.Fatalf("reconnect: CONNACK %s", ack)
	}
	return r
}

// TestPubrelResentAfterReconnect: a PUBREL the client had not completed
// is sent again, with its packet id, when the persistent session comes
// back [MQTT-4.4.0-1], and the message is not delivered a second time.
func TestPubrelResentAfterReconnect(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("brokerRestart=%v", restart), func(t *testing.T) {
			e := newEnv(t, Options{})
			r := subscribedRaw(t, e, "q2-resume", "resume/t", 2)
			publishN(t, e, "resume/t", 2, 1, "m")
			first := r.publish()
			if first.Qos != 2 || string(first.Payload) != "m-0" {
				t.Fatalf("delivery %s", first)
			}
			r.send(pubrec(first.MessageID))
			expect[*packets.PubrelPacket](r, first.MessageID)
			// No PUBCOMP: the connection drops first.
			r.nc.Close()
			waitGone(t, e)
			if restart {
				e.restart()
			}
			r = dialRaw(t, e.addr)
			if ack := r.connect(connectPacket("q2-resume", false, 30)); !ack.SessionPresent {
				t.Fatalf("CONNACK %s: session not present", ack)
			}
			expect[*packets.PubrelPacket](r, first.MessageID)
			r.send(pubcomp(first.MessageID))
			testutil.Eventually(t, waitFor, func() bool { return e.outstanding() == 0 }, "PUBCOMP did not free the packet id")
			// The message itself is the client's since PUBREC: a marker
			// published now must be the next PUBLISH.
			publishN(t, e, "resume/t", 2, 1, "marker")
			if next := r.publish(); string(next.Payload) != "marker-0" || next.Dup {
				t.Fatalf("after the PUBREL got %s %q, want the marker", next, next.Payload)
			}
		})
	}
}

// TestUnackedPublishKeepsPacketID: a QoS 1 or 2 PUBLISH the client had
// not acknowledged comes back after the reconnect with DUP and its
// original packet id, so the client can recognise it (for QoS 2 that is
// what makes it exactly once).
func TestUnackedPublishKeepsPacketID(t *testing.T) {
	for _, qos := range []byte{1, 2} {
		t.Run(fmt.Sprintf("QoS%d", qos), func(t *testing.T) {
			e := newEnv(t, Options{})
			id := fmt.Sprintf("keep-id-%d", qos)
			r := subscribedRaw(t, e, id, "keep/t", qos)
			// Move the packet ids along so that a new id would differ.
			publishN(t, e, "keep/t", qos, 3, "m")
			var got []*packets.PublishPacket
			for range 3 {
				got = append(got, r.publish())
			}
			for _, p := range got[:2] {
				if qos == 1 {
					r.send(puback(p.MessageID))
					continue
				}
				r.send(pubrec(p.MessageID))
				expect[*packets.PubrelPacket](r, p.MessageID)
				r.send(pubcomp(p.MessageID))
			}
			last := got[2]
			testutil.Eventually(t, waitFor, func() bool { return e.outstanding() == 1 }, "first two not completed")
			r = reconnect(t, e, r, id)
			again := r.publish()
			if !again.Dup || again.MessageID != last.MessageID || string(again.Payload) != "m-2" || again.Qos != qos {
				t.Fatalf("redelivery %s %q, want DUP m-2 with packet id %d", again, again.Payload, last.MessageID)
			}
			if qos == 1 {
				r.send(puback(again.MessageID))
			} else {
				r.send(pubrec(again.MessageID))
				expect[*packets.PubrelPacket](r, again.MessageID)
				r.send(pubcomp(again.MessageID))
			}
			testutil.Eventually(t, waitFor, func() bool { return e.brokerInFlight() == 0 && e.outstanding() == 0 }, "redelivery not completed")
		})
	}
}

// TestRetainedInFlightResent: a retained message sent at QoS 1 has no
// broker delivery behind it; the session itself re-sends it.
func TestRetainedInFlightResent(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.client(t, "ret-pub", true, nil)
	waitToken(t, p.Publish("ret/t", 1, true, "kept"))
	p.Disconnect(250)
	r := subscribedRaw(t, e, "ret-resume", "ret/t", 1)
	got := r.publish()
	if !got.Retain || string(got.Payload) != "kept" {
		t.Fatalf("retained delivery %s", got)
	}
	r = reconnect(t, e, r, "ret-resume")
	again := r.publish()
	if !again.Dup || again.MessageID != got.MessageID || string(again.Payload) != "kept" {
		t.Fatalf("re-sent %s %q, want DUP with id %d", again, again.Payload, got.MessageID)
	}
	r.send(puback(again.MessageID))
	testutil.Eventually(t, waitFor, func() bool { return e.outstanding() == 0 }, "PUBACK did not free the id")
}

// TestMQTT31Connect: MQTT 3.1 (protocol level 3) has no empty client ids
// and no session-present flag.
func TestMQTT31Connect(t *testing.T) {
	e := newEnv(t, Options{})
	v3 := func(id string, clean bool) *packets.ConnectPacket {
		cp := connectPacket(id, clean, 30)
		cp.ProtocolName, cp.ProtocolVersion = "MQIsdp", 3
		return cp
	}
	r := dialRaw(t, e.addr)
	if ack := r.connect(v3("", true)); ack.ReturnCode != packets.ErrRefusedIDRejected {
		t.Fatalf("empty MQTT 3.1 client id: CONNACK %d, want 2", ack.ReturnCode)
	}
	r.expectClosed(waitFor)

	for range 2 {
		r := dialRaw(t, e.addr)
		if ack := r.connect(v3("v31-persistent", false)); ack.ReturnCode != 0 || ack.SessionPresent {
			t.Fatalf("MQTT 3.1 CONNACK %s: code %d, session present %v", ack, ack.ReturnCode, ack.SessionPresent)
		}
		r.send(packets.NewControlPacket(packets.Disconnect))
		r.expectClosed(waitFor)
		waitGone(t, e)
	}
	// The same session at 3.1.1 is present: it was kept.
	if ack := dialRaw(t, e.addr).connect(connectPacket("v31-persistent", false, 30)); !ack.SessionPresent {
		t.Fatal("MQTT 3.1.1 reconnect: session not present")
	}

	// paho at 3.1 sees the refusal as such.
	o := paho.NewClientOptions().AddBroker("tcp://" + e.addr).SetClientID("").SetProtocolVersion(3).
		SetAutoReconnect(false).SetConnectTimeout(waitFor)
	tok := paho.NewClient(o).Connect()
	if !tok.WaitTimeout(waitFor) {
		t.Fatal("paho connect timed out")
	}
	if tok.Error() == nil || tok.(*paho.ConnectToken).ReturnCode() != packets.ErrRefusedIDRejected {
		t.Fatalf("paho MQTT 3.1 with no client id: %v (code %d)", tok.Error(), tok.(*paho.ConnectToken).ReturnCode())
	}
}

// TestNulCharacterClosesConnection: U+0000 in any UTF-8 string closes the
// connection, with no CONNACK or SUBACK [MQTT-1.5.3-2].
func TestNulCharacterClosesConnection(t *testing.T) {
	e := newEnv(t, Options{})
	t.Run("client id", func(t *testing.T) {
		r := dialRaw(t, e.addr)
		r.send(connectPacket("nul\x00id", true, 30))
		r.expectClosed(waitFor)
	})
	t.Run("user name", func(t *testing.T) {
		r := dialRaw(t, e.addr)
		cp := connectPacket("nul-user", true, 30)
		cp.UsernameFlag, cp.Username = true, "us\x00er"
		r.send(cp)
		r.expectClosed(waitFor)
	})
	connected := func(t *testing.T, id string) *raw {
		r := dialRaw(t, e.addr)
		if ack := r.connect(connectPacket(id, true, 30)); ack.ReturnCode != 0 {
			t.Fatalf("CONNACK %d", ack.ReturnCode)
		}
		return r
	}
	t.Run("topic", func(t *testing.T) {
		r := connected(t, "nul-topic")
		r.send(publishPacket("a/\x00", 1, 1, "x"))
		r.expectClosed(waitFor)
	})
	t.Run("filter", func(t *testing.T) {
		r := connected(t, "nul-filter")
		r.send(subscribePacket(1, "a/\x00/#", 0))
		r.expectClosed(waitFor)
	})
	t.Run("unsubscribe filter", func(t *testing.T) {
		r := connected(t, "nul-unsub")
		u := packets.NewControlPacket(packets.Unsubscribe).(*packets.UnsubscribePacket)
		u.MessageID, u.Topics = 1, []string{"\x00"}
		r.send(u)
		r.expectClosed(waitFor)
	})
	t.Run("ill-formed UTF-8 filter", func(t *testing.T) {
		r := connected(t, "bad-utf8-filter")
		r.send(subscribePacket(1, "a/\xff", 0))
		r.expectClosed(waitFor)
	})
}

// TestWrongAcknowledgementTypeClosesConnection: acknowledging a packet id
// with the other QoS level's packet is a protocol violation.
func TestWrongAcknowledgementTypeClosesConnection(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		name string
		qos  byte
		ack  func(id uint16) packets.ControlPacket
	}{
		{"PUBCOMP for QoS 1", 1, pubcomp},
		{"PUBREC for QoS 1", 1, pubrec},
		{"PUBACK for QoS 2", 2, puback},
		{"PUBCOMP before PUBREC", 2, pubcomp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, e.addr)
			r.connect(connectPacket("wrong-ack", true, 30))
			r.send(subscribePacket(1, "wrong/t", tc.qos))
			expect[*packets.SubackPacket](r, 1)
			publishN(t, e, "wrong/t", tc.qos, 1, "w")
			p := r.publish()
			r.send(tc.ack(p.MessageID))
			r.expectClosed(waitFor)
			waitGone(t, e)
		})
	}
	// An acknowledgement of an id not in flight is not a violation: it may
	// be late.
	r := dialRaw(t, e.addr)
	r.connect(connectPacket("late-ack", true, 30))
	r.send(puback(77))
	r.send(pubcomp(78))
	r.send(packets.NewControlPacket(packets.Pingreq))
	if _, ok := r.read().(*packets.PingrespPacket); !ok {
		t.Fatal("connection did not survive an unknown packet id")
	}
}
