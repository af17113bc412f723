package mqtt_test

import (
	"context"
	"crypto/tls"
	"errors"
	"github.com/tethermq/tether/internal/testutil"
	"testing"
	"time"

	"github.com/tethermq/tether/client/mqtt"
	"github.com/tethermq/tether/failover/session"
	"github.com/tethermq/tether/server"
)

func persistentMsg(d session.Destination, body string) *session.Outgoing {
	return &session.Outgoing{Destination: d, Body: []byte(body), Persistent: true, Priority: -1}
}

// TestPublishConfirmSubscribeAck: a QoS 1 publish confirmed by PUBACK
// reaches a wildcard subscription with its topic mapped back, and an acked
// message is not delivered again to the next session of the client id.
func TestPublishConfirmSubscribeAck(t *testing.T) {
	b := startBroker(t, "basic")
	cfg := session.Config{ClientID: "reader"}
	s := dial(t, b.uri(), cfg)
	ctx := testCtx(t, 10*time.Second)
	in := newInbox()
	if err := s.Subscribe(ctx, session.SubscribeSpec{ID: "s1", Destination: topic("sensors.*"), Ack: session.AckIndividual, Priority: -1}, in.Deliver); err != nil {
		t.Fatal(err)
	}
	pub := dial(t, b.uri(), session.Config{})
	send(t, pub, &session.Outgoing{Destination: topic("sensors.t1"), Body: []byte("21.5"), Persistent: true, Priority: -1, DuplicateID: "ignored"})
	d := in.Next(t)
	if string(d.Body) != "21.5" || d.Destination != topic("sensors.t1") || !d.Persistent || d.Redelivered ||
		d.SubscriptionID != "s1" || d.MessageID == "" || d.DuplicateID != "" {
		t.Errorf("delivery %+v", d)
	}
	if err := s.Ack(ctx, d, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The persistent session keeps the subscription; the marker sent while
	// away comes first and alone: the acked message is gone.
	send(t, pub, persistentMsg(topic("sensors.t1"), "marker"))
	s2 := dial(t, b.uri(), cfg)
	in2 := newInbox()
	if err := s2.Subscribe(ctx, session.SubscribeSpec{ID: "s1", Destination: topic("sensors.*"), Ack: session.AckIndividual, Priority: -1}, in2.Deliver); err != nil {
		t.Fatal(err)
	}
	if d := in2.Next(t); string(d.Body) != "marker" {
		t.Errorf("got %q, want the marker", d.Body)
	}
}

// TestUnackedIsRedeliveredAfterReconnect is MQTT's form of nack: there is
// no NACK (refused with a typed error), and a message left unacked comes
// back, flagged DUP, when the client id reconnects. It arrives before the
// subscription is made again and waits for it.
func TestUnackedIsRedeliveredAfterReconnect(t *testing.T) {
	b := startBroker(t, "redeliver")
	cfg := session.Config{ClientID: "worker"}
	ctx := testCtx(t, 10*time.Second)
	spec := session.SubscribeSpec{ID: "w", Destination: topic("jobs"), Ack: session.AckIndividual, Priority: -1}
	s := dial(t, b.uri(), cfg)
	in := newInbox()
	if err := s.Subscribe(ctx, spec, in.Deliver); err != nil {
		t.Fatal(err)
	}
	send(t, s, persistentMsg(topic("jobs"), "job"))
	first := in.Next(t)
	var ue *session.UnsupportedError
	if err := s.Nack(ctx, first, ""); !errors.As(err, &ue) {
		t.Errorf("nack: %v, want an *UnsupportedError", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	s2 := dial(t, b.uri(), cfg)
	in2 := newInbox()
	if err := s2.Subscribe(ctx, spec, in2.Deliver); err != nil {
		t.Fatal(err)
	}
	again := in2.Next(t)
	if string(again.Body) != "job" || !again.Redelivered || again.MessageID == first.MessageID {
		t.Errorf("redelivery %+v (first %s)", again, first.MessageID)
	}
	if err := s2.Ack(ctx, again, ""); err != nil {
		t.Fatal(err)
	}
}

// TestAckClientIsCumulative: an ack in AckClient mode sends PUBACK for every
// earlier delivery of the subscription; the rest come back after reconnect.
func TestAckClientIsCumulative(t *testing.T) {
	b := startBroker(t, "client-ack")
	cfg := session.Config{ClientID: "batcher"}
	ctx := testCtx(t, 10*time.Second)
	spec := session.SubscribeSpec{ID: "b", Destination: topic("batch"), Ack: session.AckClient, Priority: -1}
	s := dial(t, b.uri(), cfg)
	in := newInbox()
	if err := s.Subscribe(ctx, spec, in.Deliver); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"a", "b", "c", "d"} {
		send(t, s, persistentMsg(topic("batch"), body))
	}
	var got []*session.Delivery
	for range 4 {
		got = append(got, in.Next(t))
	}
	if err := s.Ack(ctx, got[2], ""); err != nil { // a, b and c
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := dial(t, b.uri(), cfg)
	in2 := newInbox()
	if err := s2.Subscribe(ctx, spec, in2.Deliver); err != nil {
		t.Fatal(err)
	}
	if d := in2.Next(t); string(d.Body) != "d" || !d.Redelivered {
		t.Errorf("after the cumulative ack: %q redelivered=%v, want d redelivered", d.Body, d.Redelivered)
	}
}

// TestQoS0AndAutoAck: a non-persistent unconfirmed send goes at QoS 0 and
// resolves at once; an auto-ack subscription needs no ack.
func TestQoS0AndAutoAck(t *testing.T) {
	b := startBroker(t, "qos0")
	s := dial(t, b.uri(), session.Config{})
	ctx := testCtx(t, 10*time.Second)
	in := newInbox()
	if err := s.Subscribe(ctx, session.SubscribeSpec{ID: "a", Destination: topic("ticks"), Priority: -1}, in.Deliver); err != nil {
		t.Fatal(err)
	}
	conf, err := s.Send(ctx, &session.Outgoing{Destination: topic("ticks"), Body: []byte("t"), Priority: -1})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-conf:
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Error("an unconfirmed send's Confirmation is not resolved at once")
	}
	if d := in.Next(t); string(d.Body) != "t" || d.Persistent {
		t.Errorf("delivery %+v", d)
	}
	if err := s.Unsubscribe(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Subscribe(ctx, session.SubscribeSpec{ID: "a2", Destination: topic("ticks"), Priority: -1}, in.Deliver); err != nil {
		t.Errorf("subscribing again after unsubscribe: %v", err)
	}
}

// TestRefusals: what MQTT 3.1.1 cannot express is refused with a typed
// error, and the session stays usable.
func TestRefusals(t *testing.T) {
	b := startBroker(t, "refuse")
	s := dial(t, b.uri(), session.Config{})
	ctx := testCtx(t, 10*time.Second)
	unsupported := func(what string, err error) {
		t.Helper()
		var ue *session.UnsupportedError
		if !errors.As(err, &ue) || ue.Protocol != "mqtt" || !errors.Is(err, session.ErrUnsupported) {
			t.Errorf("%s: %v, want an mqtt *UnsupportedError", what, err)
		}
	}
	sendErr := func(m *session.Outgoing) error {
		_, err := s.Send(ctx, m)
		return err
	}
	base := func() *session.Outgoing { return persistentMsg(topic("t"), "x") }
	with := func(f func(*session.Outgoing)) *session.Outgoing { m := base(); f(m); return m }
	rt := topic("replies")
	unsupported("queue send", sendErr(persistentMsg(q("orders"), "x")))
	unsupported("headers", sendErr(with(func(m *session.Outgoing) { m.Headers = map[string]string{"k": "v"} })))
	unsupported("group", sendErr(with(func(m *session.Outgoing) { m.GroupID = "g" })))
	unsupported("group seq", sendErr(with(func(m *session.Outgoing) { m.GroupSeq = -1 })))
	unsupported("priority", sendErr(with(func(m *session.Outgoing) { m.Priority = 9 })))
	unsupported("expiry", sendErr(with(func(m *session.Outgoing) { m.Expires = time.Now().Add(time.Hour) })))
	unsupported("correlation id", sendErr(with(func(m *session.Outgoing) { m.CorrelationID = "c" })))
	unsupported("reply-to", sendErr(with(func(m *session.Outgoing) { m.ReplyTo = &rt })))
	unsupported("transactional send", sendErr(with(func(m *session.Outgoing) { m.Tx = "tx" })))
	if err := sendErr(persistentMsg(topic("a.*"), "x")); err == nil {
		t.Error("a publish to a wildcard was accepted")
	}

	sub := func(spec session.SubscribeSpec) error {
		if spec.ID == "" {
			spec.ID = "s"
		}
		if spec.Destination == (session.Destination{}) {
			spec.Destination = topic("t")
		}
		return s.Subscribe(ctx, spec, newInbox().Deliver)
	}
	unsupported("queue subscribe", sub(session.SubscribeSpec{Destination: q("orders"), Priority: -1}))
	unsupported("selector", sub(session.SubscribeSpec{Selector: "a = 1", Priority: -1}))
	unsupported("exclusive", sub(session.SubscribeSpec{Exclusive: true, Priority: -1}))
	unsupported("consumer priority", sub(session.SubscribeSpec{Priority: 3}))
	unsupported("subscription headers", sub(session.SubscribeSpec{Priority: -1, Headers: map[string]string{"activemq.noLocal": "true"}}))
	unsupported("prefetch", sub(session.SubscribeSpec{Prefetch: 10, Priority: -1}))
	unsupported("durable on a clean session", sub(session.SubscribeSpec{Durable: "d", Priority: -1}))
	if err := sub(session.SubscribeSpec{ID: "wide", Destination: topic("a.>"), Priority: -1}); err != nil {
		t.Fatal(err)
	}
	unsupported("overlapping filter", sub(session.SubscribeSpec{ID: "narrow", Destination: topic("a.*.c"), Priority: -1}))
	unsupported("begin", s.Begin(ctx, "tx"))
	unsupported("commit", s.Commit(ctx, "tx"))
	unsupported("abort", s.Abort(ctx, "tx"))

	send(t, s, persistentMsg(topic("t"), "still fine"))
}

// TestBadCredentials: a CONNACK refusal is a *BrokerError for "connect".
func TestBadCredentials(t *testing.T) {
	b := startBroker(t, "auth", server.User{Username: "app", Password: "secret"})
	ctx := testCtx(t, 10*time.Second)
	_, err := mqtt.Dialer{}.Dial(ctx, target(t, b.uri(), session.Config{Login: "app", Passcode: "wrong"}))
	var be *session.BrokerError
	if !errors.As(err, &be) || be.Op != "connect" {
		t.Fatalf("err = %v, want a connect *BrokerError", err)
	}
	s := dial(t, b.uri(), session.Config{Login: "app", Passcode: "secret"})
	send(t, s, persistentMsg(topic("t"), "in"))
}

// TestDoneOnBrokerClose: the broker going away closes Done, resolves a
// pending confirmation with ErrConnectionLost and fails later operations.
func TestDoneOnBrokerClose(t *testing.T) {
	b := startBroker(t, "close")
	s := dial(t, b.uri(), session.Config{ClientID: "gone"})
	b.Stop()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the broker closed")
	}
	if !errors.Is(s.Err(), session.ErrConnectionLost) {
		t.Errorf("Err = %v", s.Err())
	}
	ctx := testCtx(t, 5*time.Second)
	if _, err := s.Send(ctx, &session.Outgoing{Destination: topic("t"), Persistent: true, Confirm: true, Priority: -1}); !errors.Is(err, session.ErrConnectionLost) {
		t.Errorf("send after the loss: %v", err)
	}
	if err := s.Subscribe(ctx, session.SubscribeSpec{ID: "s", Destination: topic("t"), Priority: -1}, newInbox().Deliver); !errors.Is(err, session.ErrConnectionLost) {
		t.Errorf("subscribe after the loss: %v", err)
	}
}

// TestCloseIsClean: after Close, Done is closed, Err is nil, and the
// confirmations asked for before it are resolved.
func TestCloseIsClean(t *testing.T) {
	b := startBroker(t, "clean")
	s := dial(t, b.uri(), session.Config{})
	ctx := testCtx(t, 5*time.Second)
	conf, err := s.Send(ctx, &session.Outgoing{Destination: topic("t"), Body: []byte("x"), Persistent: true, Confirm: true, Priority: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-conf:
		if err != nil {
			t.Errorf("confirmation asked for before Close: %v", err)
		}
	default:
		t.Error("a confirmation asked for before Close is unresolved after it")
	}
	if s.Err() != nil {
		t.Errorf("Err after Close = %v", s.Err())
	}
}

// TestHandshakeDeadline: a peer that accepts TCP and never answers fails the
// dial when its context ends.
func TestHandshakeDeadline(t *testing.T) {
	addr := silentPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	s, err := mqtt.Dialer{}.Dial(ctx, target(t, "mqtt://"+addr, session.Config{}))
	if err == nil {
		s.Close(ctx)
		t.Fatal("dial succeeded against a silent peer")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %v", d)
	}
}

// TestCheck validates component URIs without the network.
func TestCheck(t *testing.T) {
	good := []string{"mqtt://h", "mqtt+ssl://h:8883", "mqtt://h:1?cleanSession=true&keepAlive=30&tcpNoDelay=false&connectionTimeout=100"}
	bad := []string{"mqtt://user:pw@h", "mqtt://", "mqtt://h:70000", "amqp://h", "mqtt://h?bogus=1", "mqtt://h?keepAlive=-1", "mqtt://h?cleanSession=maybe"}
	for _, s := range good {
		if err := (mqtt.Dialer{}).Check(target(t, s, session.Config{}).URI); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range bad {
		if err := (mqtt.Dialer{}).Check(target(t, s, session.Config{}).URI); err == nil {
			t.Errorf("%s: accepted", s)
		}
	}
}

// TestKeepAlive: the client pings an idle broker and stays connected; a
// broker that stops answering (but keeps the TCP connection) is declared
// dead once a ping goes unanswered. MQTT's keep-alive counts in seconds.
func TestKeepAlive(t *testing.T) {
	b := startBroker(t, "beats")
	p := startProxy(t, b.Addr())
	s := dial(t, "mqtt://"+p.Addr(), session.Config{HeartBeatSend: 500 * time.Millisecond, HeartBeatReceive: 500 * time.Millisecond})
	select {
	case <-s.Done():
		t.Fatalf("idle session died: %v", s.Err())
	case <-time.After(2500 * time.Millisecond): // the broker drops a client silent for 1.5 keep-alives
	}
	p.Muted.Store(true)
	start := time.Now()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a silent broker was not detected")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("silence detected after %v, want at most keep-alive + ping timeout", d)
	}
	if !errors.Is(s.Err(), session.ErrConnectionLost) {
		t.Errorf("Err = %v", s.Err())
	}
}

// TestTLS: mqtt+ssl:// runs the same session over TLS, verifying the
// broker's certificate against the configured roots and the URI's host.
func TestTLS(t *testing.T) {
	b := startBroker(t, "tls")
	addr, roots := testutil.TLSFront(t, b.Addr())
	s := dial(t, "mqtt+ssl://"+addr, session.Config{TLS: &tls.Config{RootCAs: roots}})
	send(t, s, persistentMsg(topic("secure"), "over tls"))

	ctx := testCtx(t, 5*time.Second)
	if _, err := (mqtt.Dialer{}).Dial(ctx, target(t, "mqtt+ssl://"+addr, session.Config{})); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
}
