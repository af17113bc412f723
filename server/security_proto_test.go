package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

func dialAMQP(t *testing.T, addr, user, pass string) (*goamqp.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := goamqp.Dial(ctx, "amqp://"+addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypePlain(user, pass)})
	if err == nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, err
}

func unauthorizedCondition(err error) bool {
	var le *goamqp.LinkError
	var ae *goamqp.Error
	switch {
	case errors.As(err, &le) && le.RemoteErr != nil:
		return le.RemoteErr.Condition == goamqp.ErrCondUnauthorizedAccess
	case errors.As(err, &ae):
		return ae.Condition == goamqp.ErrCondUnauthorizedAccess
	}
	return false
}

// AMQP: a wrong password fails SASL (outcome auth) after the failure delay;
// a producer link to a destination the user may not write is detached with
// amqp:unauthorized-access, an anonymous-relay transfer to it rejected with
// the same condition, a consumer link refused likewise, and the connection
// and session go on serving.
func TestAMQPAuthorization(t *testing.T) {
	s := startConfig(t, securityConfig(t, nil), nil)
	addr := s.Addr("amqp")
	ctx := testCtx(t)

	start := time.Now()
	if _, err := dialAMQP(t, addr, "alice", "wrong"); err == nil || !strings.Contains(err.Error(), "SASL") {
		t.Fatalf("wrong password: %v", err)
	}
	if took := time.Since(start); took < testFailureDelay {
		t.Fatalf("refused after %v, before the failure delay", took)
	}

	// root creates orders.eu; bob consumes it.
	root, err := dialAMQP(t, addr, "root", "rootpw")
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := root.NewSession(ctx, nil)
	if snd, err := rs.NewSender(ctx, "queue://orders.eu", nil); err != nil {
		t.Fatal(err)
	} else if err := snd.Send(ctx, goamqp.NewMessage([]byte("from root")), nil); err != nil {
		t.Fatal(err)
	}
	bob, err := dialAMQP(t, addr, "bob", "bobpw")
	if err != nil {
		t.Fatal(err)
	}
	bs, _ := bob.NewSession(ctx, nil)
	rcv, err := bs.NewReceiver(ctx, "queue://orders.eu", &goamqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	expect := func(body string) {
		t.Helper()
		m, err := rcv.Receive(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(m.GetData()); got != body {
			t.Fatalf("bob got %q, want %q", got, body)
		}
		_ = rcv.AcceptMessage(ctx, m)
	}
	expect("from root")

	eve, err := dialAMQP(t, addr, "eve", "evepw")
	if err != nil {
		t.Fatal(err)
	}
	es, err := eve.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := es.NewSender(ctx, "queue://orders.eu", nil); !unauthorizedCondition(err) {
		t.Fatalf("eve's producer link: %v, want amqp:unauthorized-access", err)
	}
	if _, err := es.NewReceiver(ctx, "queue://orders.eu", nil); !unauthorizedCondition(err) {
		t.Fatalf("eve's consumer link: %v, want amqp:unauthorized-access", err)
	}
	relay, err := es.NewSender(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	to := "queue://orders.eu"
	m := goamqp.NewMessage([]byte("from eve"))
	m.Properties = &goamqp.MessageProperties{To: &to}
	if err := relay.Send(ctx, m, nil); !unauthorizedCondition(err) {
		t.Fatalf("eve's relayed transfer: %v, want rejected with amqp:unauthorized-access", err)
	}
	// eve's session still works for what she may do
	open, err := es.NewSender(ctx, "queue://open.amqp", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := open.Send(ctx, goamqp.NewMessage([]byte("fine")), nil); err != nil {
		t.Fatalf("eve after refusals: %v", err)
	}
	// alice may write orders.eu, bob receives hers and never eve's
	alice, err := dialAMQP(t, addr, "alice", "alicepw")
	if err != nil {
		t.Fatal(err)
	}
	as, _ := alice.NewSession(ctx, nil)
	asnd, err := as.NewSender(ctx, "queue://orders.eu", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := asnd.Send(ctx, goamqp.NewMessage([]byte("from alice")), nil); err != nil {
		t.Fatal(err)
	}
	expect("from alice")
	// alice may not create a queue
	if _, err := as.NewSender(ctx, "queue://orders.new", nil); !unauthorizedCondition(err) {
		t.Fatalf("alice creating a queue: %v", err)
	}
}

func dialMQTT(t *testing.T, addr, id, user, pass string) (paho.Client, paho.Token) {
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false)
	if user != "" {
		o.SetUsername(user).SetPassword(pass)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("MQTT connect: no answer")
	}
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(100) })
	}
	return c, tok
}

// MQTT: a wrong password gets CONNACK 4 and no credentials at all CONNACK
// 5, both after the failure delay; a refused subscription gets SUBACK 0x80
// beside the granted ones; a refused PUBLISH is acknowledged and dropped;
// the connection goes on serving.
func TestMQTTAuthorization(t *testing.T) {
	s := startConfig(t, securityConfig(t, nil), nil)
	addr := s.Addr("mqtt")

	start := time.Now()
	_, tok := dialMQTT(t, addr, "w", "alice", "wrong")
	if code := tok.(*paho.ConnectToken).ReturnCode(); code != packets.ErrRefusedBadUsernameOrPassword {
		t.Fatalf("wrong password: CONNACK %d (%v), want 4", code, tok.Error())
	}
	if took := time.Since(start); took < testFailureDelay {
		t.Fatalf("refused after %v, before the failure delay", took)
	}
	_, tok = dialMQTT(t, addr, "n", "", "")
	if code := tok.(*paho.ConnectToken).ReturnCode(); code != packets.ErrRefusedNotAuthorised {
		t.Fatalf("no credentials: CONNACK %d (%v), want 5", code, tok.Error())
	}

	// root creates the topic orders.eu (admin) by publishing to it
	root, tok := dialMQTT(t, addr, "root", "root", "rootpw")
	if tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if pt := root.Publish("orders/eu", 1, false, "creates it"); !pt.WaitTimeout(10*time.Second) || pt.Error() != nil {
		t.Fatal(pt.Error())
	}
	got := make(chan string, 10)
	bob, tok := dialMQTT(t, addr, "bob", "bob", "bobpw")
	if tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	st := bob.Subscribe("orders/eu", 1, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) })
	if !st.WaitTimeout(10*time.Second) || st.(*paho.SubscribeToken).Result()["orders/eu"] != 1 {
		t.Fatalf("bob's subscription: %v %v", st.Error(), st.(*paho.SubscribeToken).Result())
	}

	eve, tok := dialMQTT(t, addr, "eve", "eve", "evepw")
	if tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	st = eve.SubscribeMultiple(map[string]byte{"orders/#": 1, "open/x": 1}, func(paho.Client, paho.Message) {})
	if !st.WaitTimeout(10 * time.Second) {
		t.Fatal("eve's subscription: no SUBACK")
	}
	if r := st.(*paho.SubscribeToken).Result(); r["orders/#"] != 0x80 || r["open/x"] != 1 {
		t.Fatalf("eve's SUBACK: %v, want orders/# 0x80 and open/x 1", r)
	}
	for _, qos := range []byte{0, 1, 2} {
		if pt := eve.Publish("orders/eu", qos, false, "from eve"); !pt.WaitTimeout(10*time.Second) || pt.Error() != nil {
			t.Fatalf("eve's QoS %d publish: %v (a refused publish is acknowledged and dropped)", qos, pt.Error())
		}
	}
	if pt := eve.Publish("orders/eu", 1, true, "retained by eve"); !pt.WaitTimeout(10*time.Second) || pt.Error() != nil {
		t.Fatal(pt.Error())
	}
	alice, tok := dialMQTT(t, addr, "alice", "alice", "alicepw")
	if tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if pt := alice.Publish("orders/eu", 1, false, "from alice"); !pt.WaitTimeout(10*time.Second) || pt.Error() != nil {
		t.Fatal(pt.Error())
	}
	select {
	case m := <-got:
		if m != "from alice" {
			t.Fatalf("bob got %q first: an unauthorized publish was delivered", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob got nothing")
	}
	if !eve.IsConnectionOpen() {
		t.Fatal("eve was disconnected")
	}
	// nothing of eve's was retained either: a new subscriber of bob's gets no retained message
	late := make(chan string, 1)
	st = bob.Subscribe("orders/+", 1, func(_ paho.Client, m paho.Message) {
		if m.Retained() {
			late <- string(m.Payload())
		}
	})
	if !st.WaitTimeout(10 * time.Second) {
		t.Fatal("no SUBACK")
	}
	// flush: a round trip on eve's connection after the retained publish
	if pt := eve.Publish("open/x", 1, false, "ping"); !pt.WaitTimeout(10*time.Second) || pt.Error() != nil {
		t.Fatal(pt.Error())
	}
	select {
	case m := <-late:
		t.Fatalf("eve's unauthorized retained message %q was stored", m)
	default:
	}
}
