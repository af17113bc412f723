package mqtt

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/server/internal/broker"
)

// roundTrip proves a paho client still works.
func roundTrip(t *testing.T, e *env, id string) {
	t.Helper()
	in := newInbox()
	c := e.client(t, id, true, nil)
	waitToken(t, c.Subscribe("alive/"+id, 1, in.handler))
	waitToken(t, c.Publish("alive/"+id, 1, false, "yes"))
	if m := in.next(t); string(m.Payload()) != "yes" {
		t.Fatalf("got %q", m.Payload())
	}
}

// TestBadInputClosesOnlyThatConnection sends garbage and protocol
// violations on separate connections while a well-behaved client keeps
// working: each offender is closed, nothing else is affected.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	e := newEnv(t, Options{MaxFrameSize: 4096})
	in := newInbox()
	good := e.client(t, "good", true, nil)
	waitToken(t, good.Subscribe("good/t", 1, in.handler))

	afterConnect := func(id string, bad func(*raw)) func(*raw) {
		return func(r *raw) {
			if ack := r.connect(connectPacket(id, true, 30)); ack.ReturnCode != 0 {
				t.Fatalf("%s: CONNACK %d", id, ack.ReturnCode)
			}
			bad(r)
		}
	}
	badSub := subscribePacket(1, "x", 0)
	badSub.Qoss[0] = 3
	for name, bad := range map[string]func(*raw){
		"garbage instead of CONNECT": func(r *raw) { r.sendBytes([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) },
		"endless length":             func(r *raw) { r.sendBytes([]byte{0x10, 0xff, 0xff, 0xff, 0xff, 0xff}) },
		"PUBLISH before CONNECT":     func(r *raw) { r.send(publishPacket("a", 0, 0, "x")) },
		"unknown protocol name": func(r *raw) {
			cp := connectPacket("x", true, 30)
			cp.ProtocolName = "HTTP"
			r.send(cp)
		},
		"will topic with a wildcard": func(r *raw) {
			r.send(withWill(connectPacket("w", true, 30), "will/+", "x", 0, false))
		},
		"will QoS without a will": func(r *raw) {
			cp := connectPacket("w", true, 30)
			cp.WillQos = 1
			r.send(cp)
		},
		"garbage after CONNECT":  afterConnect("g1", func(r *raw) { r.sendBytes([]byte{0x00, 0x03, 0xde, 0xad, 0xbe}) }),
		"second CONNECT":         afterConnect("g2", func(r *raw) { r.send(connectPacket("g2", true, 30)) }),
		"wildcard PUBLISH topic": afterConnect("g3", func(r *raw) { r.send(publishPacket("good/+", 0, 0, "x")) }),
		"'#' PUBLISH topic":      afterConnect("g4", func(r *raw) { r.send(publishPacket("good/#", 1, 1, "x")) }),
		"QoS 1 without id":       afterConnect("g5", func(r *raw) { r.send(publishPacket("good/t", 1, 0, "x")) }),
		"SUBSCRIBE QoS 3":        afterConnect("g6", func(r *raw) { r.send(badSub) }),
		"frame too large":        afterConnect("g7", func(r *raw) { r.send(publishPacket("good/t", 0, 0, strings.Repeat("x", 5000))) }),
		"truncated SUBSCRIBE": afterConnect("g8", func(r *raw) {
			r.sendBytes([]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x09, 'a', 'b'})
		}),
	} {
		t.Run(name, func(t *testing.T) {
			r := dialRaw(t, e.addr)
			bad(r)
			r.expectClosed(waitFor)
		})
	}
	waitToken(t, good.Publish("good/t", 1, false, "still fine"))
	if m := in.next(t); string(m.Payload()) != "still fine" {
		t.Fatalf("got %q", m.Payload())
	}
	roundTrip(t, e, "newcomer")
}

func TestConnectRefusals(t *testing.T) {
	e := newEnv(t, Options{})
	for name, tc := range map[string]struct {
		cp   *packets.ConnectPacket
		code byte
	}{
		"empty client id needs clean session": {connectPacket("", false, 30), packets.ErrRefusedIDRejected},
		"MQTT 5":                              {func() *packets.ConnectPacket { cp := connectPacket("v5", true, 30); cp.ProtocolVersion = 5; return cp }(), packets.ErrRefusedBadProtocolVersion},
	} {
		t.Run(name, func(t *testing.T) {
			r := dialRaw(t, e.addr)
			if ack := r.connect(tc.cp); ack.ReturnCode != tc.code {
				t.Fatalf("CONNACK %d, want %d", ack.ReturnCode, tc.code)
			}
			r.expectClosed(waitFor)
		})
	}
	// An empty client id with a clean session is fine.
	r := dialRaw(t, e.addr)
	if ack := r.connect(connectPacket("", true, 30)); ack.ReturnCode != 0 {
		t.Fatalf("CONNACK %d", ack.ReturnCode)
	}
	// MQTT 3.1 clients too.
	cp := connectPacket("old-timer", true, 30)
	cp.ProtocolName, cp.ProtocolVersion = "MQIsdp", 3
	if ack := dialRaw(t, e.addr).connect(cp); ack.ReturnCode != 0 {
		t.Fatalf("MQTT 3.1 CONNACK %d", ack.ReturnCode)
	}
}

func TestInvalidFilterRefusedInSuback(t *testing.T) {
	e := newEnv(t, Options{})
	r := dialRaw(t, e.addr)
	r.connect(connectPacket("filters", true, 30))
	sub := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
	sub.MessageID, sub.Topics, sub.Qoss = 3, []string{"ok/+", "bad/#/x", "bad+", "ok2"}, []byte{2, 1, 1, 0}
	r.send(sub)
	ack := expect[*packets.SubackPacket](r, 3)
	if want := []byte{2, subackFailure, subackFailure, 0}; string(ack.ReturnCodes) != string(want) {
		t.Fatalf("SUBACK codes %v, want %v", ack.ReturnCodes, want)
	}
}

// TestNoPubackWhenStoreFails: the broker cannot store the message, so the
// client gets no PUBACK (it will re-send after reconnecting) and the
// connection closes. ActiveMQ sends the PUBACK anyway; we must not.
func TestNoPubackWhenStoreFails(t *testing.T) {
	e := newEnv(t, Options{})
	auditSub(t, e, "fail.t") // a durable subscriber: the message must be stored
	r := dialRaw(t, e.addr)
	r.connect(connectPacket("unlucky", true, 30))
	r.send(publishPacket("fail/t", 1, 1, "ok"))
	expect[*packets.PubackPacket](r, 1)
	e.st.Close() // every later commit fails
	r.send(publishPacket("fail/t", 1, 2, "lost"))
	r.expectClosed(waitFor) // fails on any packet, PUBACK included
}

func TestTakeOver(t *testing.T) {
	e := newEnv(t, Options{})
	first := dialRaw(t, e.addr)
	first.connect(withWill(connectPacket("twin", true, 30), "twin/will", "bye", 0, false))
	second := dialRaw(t, e.addr)
	if ack := second.connect(connectPacket("twin", true, 30)); ack.ReturnCode != 0 {
		t.Fatalf("CONNACK %d", ack.ReturnCode)
	}
	first.expectClosed(waitFor)
	second.send(packets.NewControlPacket(packets.Pingreq))
	if p, ok := second.read().(*packets.PingrespPacket); !ok {
		t.Fatalf("got %s, want PINGRESP", p)
	}
}

func TestMaxConnections(t *testing.T) {
	e := newEnv(t, Options{MaxConnections: 1})
	first := dialRaw(t, e.addr)
	first.connect(connectPacket("one", true, 30))
	// Over the limit, CONNECT is answered with CONNACK 3, server
	// unavailable, and the connection closes.
	second := dialRaw(t, e.addr)
	if ack := second.connect(connectPacket("two", true, 30)); ack.ReturnCode != packets.ErrRefusedServerUnavailable {
		t.Fatalf("CONNACK %d, want 3", ack.ReturnCode)
	}
	second.expectClosed(waitFor)
	if n := e.srv.Connections(); n != 1 {
		t.Fatalf("Connections = %d, want 1", n)
	}
	// A first packet that is not a CONNECT gets no answer.
	third := dialRaw(t, e.addr)
	third.send(packets.NewControlPacket(packets.Pingreq))
	third.expectClosed(waitFor)
	// Close returns once; a second Close returns at once.
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	first.expectClosed(waitFor)
	done := make(chan error, 1)
	go func() { done <- e.srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("second Close did not return")
	}
}

// TestPacketIDsExhausted: with every packet id in use, further messages
// wait (in order) for a PUBACK instead of reusing an id, and control
// packets still flow.
func TestPacketIDsExhausted(t *testing.T) {
	e := newEnvTweaked(t, Options{}, func(s *Server) { s.maxInflight = 2 })
	r := dialRaw(t, e.addr)
	r.connect(connectPacket("slow", true, 30))
	r.send(subscribePacket(1, "ids/t", 1))
	expect[*packets.SubackPacket](r, 1)

	sess, err := e.b.NewSession(broker.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for i := range 5 {
		if err := wait(context.Background(), func(done func(error)) {
			sess.Send(context.Background(), &broker.Message{Dest: broker.Destination{Kind: broker.Topic, Name: "ids.t"},
				Body: []byte(fmt.Sprint(i)), Persistent: true, Priority: broker.DefaultPriority}, "", done)
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The five deliveries were queued before the PINGREQ's answer.
	r.send(packets.NewControlPacket(packets.Pingreq))
	p0, p1 := r.publish(), r.publish()
	if _, ok := r.read().(*packets.PingrespPacket); !ok {
		t.Fatal("a third PUBLISH went out with only two packet ids")
	}
	if string(p0.Payload) != "0" || string(p1.Payload) != "1" || p0.MessageID == p1.MessageID {
		t.Fatalf("first two: %s %s", p0, p1)
	}
	// Each PUBACK frees one id, which the next waiting message takes.
	window := []*packets.PublishPacket{p0, p1}
	for want := 2; want < 5; want++ {
		r.send(puback(window[0].MessageID))
		q := r.publish()
		if string(q.Payload) != fmt.Sprint(want) {
			t.Fatalf("got %q, want %d", q.Payload, want)
		}
		window = append(window[1:], q)
	}
}
