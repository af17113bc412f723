package amqp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"github.com/tethermq/tether/internal/testutil"
	"testing"
	"time"

	"github.com/tethermq/tether/client/amqp"
	"github.com/tethermq/tether/failover/session"
)

// TestSendConfirmReceiveAck: a confirmed send carries every mapped field to
// a subscriber, and an acked message is not delivered again to the next
// session.
func TestSendConfirmReceiveAck(t *testing.T) {
	b := startBroker(t, "basic")
	s := dial(t, b.uri(), session.Config{})
	in := newInbox()
	ctx := testCtx(t, 10*time.Second)
	if err := s.Subscribe(ctx, session.SubscribeSpec{ID: "s1", Destination: q("orders"), Ack: session.AckIndividual, Priority: -1}, in.Deliver); err != nil {
		t.Fatal(err)
	}
	replyTo := q("replies")
	out := &session.Outgoing{
		Destination: q("orders"), Body: []byte("hello"), Persistent: true, Priority: 7,
		Expires: time.Now().Add(time.Hour), GroupID: "g1", GroupSeq: -1, CorrelationID: "c-1",
		ReplyTo: &replyTo, DuplicateID: "dup-1", Headers: map[string]string{"kind": "greeting"},
	}
	send(t, s, out)
	d := in.Next(t)
	if string(d.Body) != "hello" || !d.Persistent || d.Priority != 7 || d.GroupID != "g1" || d.GroupSeq != -1 ||
		d.CorrelationID != "c-1" || d.ReplyTo == nil || *d.ReplyTo != replyTo || d.DuplicateID != "dup-1" ||
		d.Destination != q("orders") || d.SubscriptionID != "s1" || d.Redelivered || d.DeliveryCount != 1 || d.MessageID == "" {
		t.Errorf("delivery %+v", d)
	}
	if v, _ := d.Headers.Get("kind"); v != "greeting" {
		t.Errorf("headers %v", d.Headers)
	}
	if until := time.Until(d.Expires); until < 59*time.Minute || until > time.Hour+time.Minute {
		t.Errorf("expires in %v", until)
	}
	if err := s.Ack(ctx, d, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// A new session sees the marker first: the acked message is gone.
	s2 := dial(t, b.uri(), session.Config{})
	send(t, s2, msg(q("orders"), "marker"))
	in2 := newInbox()
	if err := s2.Subscribe(ctx, session.SubscribeSpec{ID: "s2", Destination: q("orders"), Ack: session.AckIndividual, Priority: -1}, in2.Deliver); err != nil {
		t.Fatal(err)
	}
	if d := in2.Next(t); string(d.Body) != "marker" {
		t.Errorf("got %q, want the marker", d.Body)
	}
}

// TestNackRedelivers: Nack (Modified, delivery-failed) brings the message
// back counted and flagged.
func TestNackRedelivers(t *testing.T) {
	b := startBroker(t, "nack")
	s := dial(t, b.uri(), session.Config{})
	in := newInbox()
	ctx := testCtx(t, 10*time.Second)
	if err := s.Subscribe(ctx, session.SubscribeSpec{ID: "s", Destination: q("work"), Ack: session.AckIndividual, Priority: -1, Prefetch: 1}, in.Deliver); err != nil {
		t.Fatal(err)
	}
	send(t, s, &session.Outgoing{Destination: q("work"), Body: []byte("job"), Persistent: true, Priority: -1})
	first := in.Next(t)
	if err := s.Nack(ctx, first, ""); err != nil {
		t.Fatal(err)
	}
	again := in.Next(t)
	if string(again.Body) != "job" || !again.Redelivered || again.DeliveryCount != 2 || again.MessageID != first.MessageID {
		t.Errorf("redelivery %+v (first id %s)", again, first.MessageID)
	}
	if err := s.Ack(ctx, again, ""); err != nil {
		t.Fatal(err)
	}
}

// TestAckClientIsCumulative: in AckClient mode an ack settles every earlier
// delivery of the subscription; unacked ones come back to the next session.
func TestAckClientIsCumulative(t *testing.T) {
	b := startBroker(t, "client-ack")
	s := dial(t, b.uri(), session.Config{})
	ctx := testCtx(t, 10*time.Second)
	for _, body := range []string{"a", "b", "c", "d"} {
		send(t, s, msg(q("batch"), body))
	}
	in := newInbox()
	if err := s.Subscribe(ctx, session.SubscribeSpec{ID: "s", Destination: q("batch"), Ack: session.AckClient, Priority: -1}, in.Deliver); err != nil {
		t.Fatal(err)
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
	s2 := dial(t, b.uri(), session.Config{})
	in2 := newInbox()
	if err := s2.Subscribe(ctx, session.SubscribeSpec{ID: "s", Destination: q("batch"), Ack: session.AckClient, Priority: -1}, in2.Deliver); err != nil {
		t.Fatal(err)
	}
	d := in2.Next(t)
	if string(d.Body) != "d" || !d.Redelivered {
		t.Errorf("after the cumulative ack: %q redelivered=%v, want d redelivered", d.Body, d.Redelivered)
	}
}

// TestAutoAckAndSelector: an auto-ack subscription with a selector gets only
// the matching messages and needs no ack.
func TestAutoAckAndSelector(t *testing.T) {
	b := startBroker(t, "selector")
	s := dial(t, b.uri(), session.Config{})
	ctx := testCtx(t, 10*time.Second)
	in := newInbox()
	spec := session.SubscribeSpec{ID: "red", Destination: topic("paint"), Selector: "color = 'red'", Priority: -1}
	if err := s.Subscribe(ctx, spec, in.Deliver); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"blue", "red", "green", "red"} {
		send(t, s, &session.Outgoing{Destination: topic("paint"), Body: []byte(c), Priority: -1, Headers: map[string]string{"color": c}})
	}
	for range 2 {
		if d := in.Next(t); string(d.Body) != "red" {
			t.Errorf("selector let %q through", d.Body)
		}
	}
	if err := s.Unsubscribe(ctx, "red"); err != nil {
		t.Fatal(err)
	}
	if err := s.Subscribe(ctx, session.SubscribeSpec{ID: "bad", Destination: topic("paint"), Selector: "color = ", Priority: -1}, in.Deliver); err == nil {
		t.Error("a malformed selector was accepted")
	} else if be := (*session.BrokerError)(nil); !errors.As(err, &be) || be.Op != "subscribe" {
		t.Errorf("malformed selector: %v, want a *BrokerError", err)
	}
}

// TestDurableSubscription: a durable subscription keeps what is published
// while its subscriber is away, and Unsubscribe keeps it too.
func TestDurableSubscription(t *testing.T) {
	b := startBroker(t, "durable")
	ctx := testCtx(t, 20*time.Second)
	cfg := session.Config{ClientID: "reader-app"}
	spec := session.SubscribeSpec{ID: "d", Destination: topic("news"), Ack: session.AckIndividual, Durable: "news-reader", Priority: -1}

	s := dial(t, b.uri(), cfg)
	if err := s.Subscribe(ctx, spec, newInbox().Deliver); err != nil {
		t.Fatal(err)
	}
	if err := s.Unsubscribe(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	pub := dial(t, b.uri(), session.Config{})
	send(t, pub, &session.Outgoing{Destination: topic("news"), Body: []byte("while away"), Persistent: true, Priority: -1})

	s2 := dial(t, b.uri(), cfg)
	in := newInbox()
	if err := s2.Subscribe(ctx, spec, in.Deliver); err != nil {
		t.Fatal(err)
	}
	d := in.Next(t)
	if string(d.Body) != "while away" {
		t.Fatalf("got %q", d.Body)
	}
	if err := s2.Ack(ctx, d, ""); err != nil {
		t.Fatal(err)
	}
	if err := s2.Subscribe(ctx, session.SubscribeSpec{ID: "x", Destination: q("news"), Durable: "n", Priority: -1}, in.Deliver); err == nil {
		t.Error("a durable queue subscription was accepted")
	}
}

// TestRefusals: what AMQP cannot express is refused with a typed error, and
// the broker's refusals are *BrokerErrors.
func TestRefusals(t *testing.T) {
	b := startBroker(t, "refuse")
	s := dial(t, b.uri(), session.Config{})
	ctx := testCtx(t, 10*time.Second)
	unsupported := func(what string, err error) {
		t.Helper()
		var ue *session.UnsupportedError
		if !errors.As(err, &ue) || ue.Protocol != "amqp" {
			t.Errorf("%s: %v, want an amqp *UnsupportedError", what, err)
		}
	}
	unsupported("begin", s.Begin(ctx, "tx1"))
	unsupported("commit", s.Commit(ctx, "tx1"))
	unsupported("abort", s.Abort(ctx, "tx1"))
	_, err := s.Send(ctx, &session.Outgoing{Destination: q("q"), Tx: "tx1", Priority: -1})
	unsupported("transactional send", err)
	unsupported("exclusive", s.Subscribe(ctx, session.SubscribeSpec{ID: "e", Destination: q("q"), Exclusive: true, Priority: -1}, newInbox().Deliver))
	unsupported("consumer priority", s.Subscribe(ctx, session.SubscribeSpec{ID: "p", Destination: q("q"), Priority: 5}, newInbox().Deliver))
	unsupported("subscription headers", s.Subscribe(ctx, session.SubscribeSpec{ID: "h", Destination: q("q"), Priority: -1,
		Headers: map[string]string{"activemq.noLocal": "true"}}, newInbox().Deliver))

	if _, err := s.Send(ctx, &session.Outgoing{Destination: q("q"), Priority: -1, Headers: map[string]string{"_AMQ_DUPL_ID": "x"}}); err == nil {
		t.Error("a reserved header was accepted")
	}
	// Sending to a wildcard is refused by the broker at attach.
	_, err = s.Send(ctx, &session.Outgoing{Destination: topic("prices.>"), Priority: -1, Confirm: true})
	var be *session.BrokerError
	if !errors.As(err, &be) || be.Op != "send" {
		t.Errorf("send to a wildcard: %v, want a *BrokerError", err)
	}
	// The session is still usable after refusals.
	send(t, s, msg(q("q"), "still fine"))
}

// TestDoneOnBrokerClose: the broker going away closes Done, resolves
// confirmations with ErrConnectionLost and fails later operations.
func TestDoneOnBrokerClose(t *testing.T) {
	b := startBroker(t, "close")
	s := dial(t, b.uri(), session.Config{})
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
	if _, err := s.Send(ctx, msg(q("q"), "x")); !errors.Is(err, session.ErrConnectionLost) {
		t.Errorf("send after the loss: %v", err)
	}
	if err := s.Subscribe(ctx, session.SubscribeSpec{ID: "s", Destination: q("q"), Priority: -1}, newInbox().Deliver); !errors.Is(err, session.ErrConnectionLost) {
		t.Errorf("subscribe after the loss: %v", err)
	}
}

// TestCloseIsClean: after Close, Done is closed and Err is nil.
func TestCloseIsClean(t *testing.T) {
	b := startBroker(t, "clean")
	s := dial(t, b.uri(), session.Config{})
	ctx := testCtx(t, 5*time.Second)
	conf, err := s.Send(ctx, &session.Outgoing{Destination: q("q"), Body: []byte("x"), Persistent: true, Confirm: true, Priority: -1})
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
	if err := s.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestHandshakeDeadline: a peer that accepts TCP and never answers fails the
// dial when its context ends.
func TestHandshakeDeadline(t *testing.T) {
	addr := silentPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	s, err := amqp.Dialer{}.Dial(ctx, target(t, "amqp://"+addr, session.Config{}))
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
	good := []string{"amqp://h", "amqps://h:5671", "amqp://h:1?amqp.idleTimeout=0&amqp.vhost=v&transport.tcpNoDelay=false&amqp.maxFrameSize=4096&transport.connectTimeout=100&transport.tcpKeepAlive=true"}
	bad := []string{"amqp://user:pw@h", "amqp://", "amqp://h:0", "stomp://h", "amqp://h?bogus=1", "amqp://h?amqp.maxFrameSize=10", "amqp://h?amqp.idleTimeout=-1"}
	for _, s := range good {
		if err := (amqp.Dialer{}).Check(target(t, s, session.Config{}).URI); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range bad {
		if err := (amqp.Dialer{}).Check(target(t, s, session.Config{}).URI); err == nil {
			t.Errorf("%s: accepted", s)
		}
	}
}

// TestHeartBeats: with a 100 ms receive heart-beat the broker keeps an idle
// session alive with empty frames, and a broker that goes silent (but
// keeps the TCP connection) is declared dead within two intervals or so.
func TestHeartBeats(t *testing.T) {
	b := startBroker(t, "beats")
	p := startProxy(t, b.Addr())
	s := dial(t, "amqp://"+p.Addr(), session.Config{HeartBeatSend: 100 * time.Millisecond, HeartBeatReceive: 100 * time.Millisecond})
	select {
	case <-s.Done():
		t.Fatalf("idle session died: %v", s.Err())
	case <-time.After(600 * time.Millisecond): // six intervals of idleness
	}
	p.Muted.Store(true)
	start := time.Now()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a silent broker was not detected")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("silence detected after %v, want about 200ms", d)
	}
	if !errors.Is(s.Err(), session.ErrConnectionLost) {
		t.Errorf("Err = %v", s.Err())
	}
}

// TestTLS: amqps:// runs the same session over TLS, verifying the broker's
// certificate against the configured roots and the URI's host.
func TestTLS(t *testing.T) {
	b := startBroker(t, "tls")
	addr, roots := testutil.TLSFront(t, b.Addr())
	s := dial(t, "amqps://"+addr, session.Config{TLS: &tls.Config{RootCAs: roots}})
	send(t, s, msg(q("secure"), "over tls"))

	ctx := testCtx(t, 5*time.Second)
	if _, err := (amqp.Dialer{}).Dial(ctx, target(t, "amqps://"+addr, session.Config{})); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
}

// TestAckAfterUnsubscribe: acking a message whose subscription is gone is
// an error for that ack only; the session lives on.
func TestAckAfterUnsubscribe(t *testing.T) {
	b := startBroker(t, "late-ack")
	s := dial(t, b.uri(), session.Config{})
	ctx := testCtx(t, 10*time.Second)
	in := newInbox()
	if err := s.Subscribe(ctx, session.SubscribeSpec{ID: "s", Destination: q("late"), Ack: session.AckIndividual, Priority: -1}, in.Deliver); err != nil {
		t.Fatal(err)
	}
	send(t, s, msg(q("late"), "x"))
	d := in.Next(t)
	if err := s.Unsubscribe(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, d, ""); err == nil || errors.Is(err, session.ErrConnectionLost) {
		t.Errorf("ack after unsubscribe: %v", err)
	}
	select {
	case <-s.Done():
		t.Fatalf("the session died: %v", s.Err())
	default:
	}
	send(t, s, msg(q("late"), "still alive"))
}

// TestUnconfirmedSend: without Confirm the transfer is pre-settled and the
// Confirmation resolves at once; the message still arrives.
func TestUnconfirmedSend(t *testing.T) {
	b := startBroker(t, "presettled")
	s := dial(t, b.uri(), session.Config{})
	ctx := testCtx(t, 10*time.Second)
	in := newInbox()
	if err := s.Subscribe(ctx, session.SubscribeSpec{ID: "s", Destination: topic("ticks"), Priority: -1}, in.Deliver); err != nil {
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
}
