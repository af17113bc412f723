package server

import (
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
	paho "github.com/eclipse/paho.mqtt.golang"
	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/internal/testutil"
)

// received is what a consumer of any protocol saw, normalised.
type received struct {
	body    string
	headers map[string]string
	group   string
	seq     string
}

type endpoint interface {
	send(t *testing.T, dest, body string, headers map[string]string, group string, seq int)
	recv(t *testing.T) received
}

// --- STOMP (go-stomp) ---

type stompEnd struct {
	c   *gostomp.Conn
	sub *gostomp.Subscription
}

func newStomp(t *testing.T, addr, subDest string) *stompEnd {
	c, err := gostomp.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect() })
	e := &stompEnd{c: c}
	if subDest != "" {
		if e.sub, err = c.Subscribe(subDest, gostomp.AckAuto); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *stompEnd) send(t *testing.T, dest, body string, headers map[string]string, group string, seq int) {
	opts := []func(*gostompFrame) error{gostomp.SendOpt.Receipt}
	for k, v := range headers {
		opts = append(opts, gostomp.SendOpt.Header(k, v))
	}
	if group != "" {
		opts = append(opts, gostomp.SendOpt.Header("JMSXGroupID", group), gostomp.SendOpt.Header("JMSXGroupSeq", strconv.Itoa(seq)))
	}
	if err := e.c.Send(dest, "text/plain", []byte(body), opts...); err != nil {
		t.Fatal(err)
	}
}

func (e *stompEnd) recv(t *testing.T) received {
	select {
	case m := <-e.sub.C:
		if m.Err != nil {
			t.Fatal(m.Err)
		}
		r := received{body: string(m.Body), headers: map[string]string{}, group: m.Header.Get("JMSXGroupID"), seq: m.Header.Get("JMSXGroupSeq")}
		for i := 0; i < m.Header.Len(); i++ {
			k, v := m.Header.GetAt(i)
			r.headers[k] = v
		}
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("STOMP: no message")
	}
	return received{}
}

// --- AMQP (go-amqp) ---

type amqpEnd struct {
	conn *goamqp.Conn
	sess *goamqp.Session
	rcv  *goamqp.Receiver
}

func newAMQP(t *testing.T, addr, subAddr string) *amqpEnd {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := goamqp.Dial(ctx, "amqp://"+addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	sess, err := conn.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &amqpEnd{conn: conn, sess: sess}
	if subAddr != "" {
		if e.rcv, err = sess.NewReceiver(ctx, subAddr, &goamqp.ReceiverOptions{Credit: 10}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *amqpEnd) send(t *testing.T, dest, body string, headers map[string]string, group string, seq int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := e.sess.NewSender(ctx, dest, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	m := goamqp.NewMessage([]byte(body))
	m.ApplicationProperties = map[string]any{}
	for k, v := range headers {
		m.ApplicationProperties[k] = v
	}
	m.Header = &goamqp.MessageHeader{Durable: true}
	if group != "" {
		g, sq := group, uint32(seq)
		m.Properties = &goamqp.MessageProperties{GroupID: &g, GroupSequence: &sq}
	}
	if err := s.Send(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
}

func (e *amqpEnd) recv(t *testing.T) received {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := e.rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatalf("AMQP receive: %v", err)
	}
	_ = e.rcv.AcceptMessage(ctx, m)
	r := received{body: string(m.GetData()), headers: map[string]string{}}
	if m.Value != nil {
		r.body = m.Value.(string)
	}
	for k, v := range m.ApplicationProperties {
		r.headers[k] = v.(string)
	}
	if m.Properties != nil && m.Properties.GroupID != nil {
		r.group = *m.Properties.GroupID
		if m.Properties.GroupSequence != nil {
			r.seq = strconv.Itoa(int(*m.Properties.GroupSequence))
		}
	}
	return r
}

// --- MQTT (paho) ---

type mqttEnd struct {
	c   paho.Client
	got chan received
}

func newMQTT(t *testing.T, addr, id, filter string) *mqttEnd {
	e := &mqttEnd{got: make(chan received, 10)}
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(true).SetAutoReconnect(false)
	e.c = paho.NewClient(o)
	if tok := e.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	t.Cleanup(func() { e.c.Disconnect(100) })
	if filter != "" {
		tok := e.c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
			e.got <- received{body: string(m.Payload())}
		})
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("mqtt subscribe: %v", tok.Error())
		}
	}
	return e
}

func (e *mqttEnd) send(t *testing.T, dest, body string, _ map[string]string, _ string, _ int) {
	tok := e.c.Publish(dest, 1, false, body)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt publish: %v", tok.Error())
	}
}

func (e *mqttEnd) recv(t *testing.T) received {
	select {
	case r := <-e.got:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("MQTT: no message")
	}
	return received{}
}

// TestCrossProtocolMatrix sends over one protocol and receives over
// another; headers/properties and groups survive where both protocols
// have them.
func TestCrossProtocolMatrix(t *testing.T) {
	srv, addr := startAll(t)
	consumersOn := func(dest string) int {
		n := 0
		for _, st := range srv.Broker().Stats() {
			if st.Destination == dest {
				n += st.Consumers
			}
		}
		return n
	}
	hdrs := map[string]string{"color": "blue"}
	cases := []struct {
		name           string
		from, to       func(t *testing.T) endpoint
		sendDest       string
		headers, group bool
		subscribed     string // the broker destination the receiver consumes
	}{
		{"STOMP->AMQP", func(t *testing.T) endpoint { return newStomp(t, addr["stomp"], "") },
			func(t *testing.T) endpoint { return newAMQP(t, addr["amqp"], "queue://m1") }, "/queue/m1", true, true, "queue://m1"},
		{"AMQP->STOMP", func(t *testing.T) endpoint { return newAMQP(t, addr["amqp"], "") },
			func(t *testing.T) endpoint { return newStomp(t, addr["stomp"], "/queue/m2") }, "queue://m2", true, true, "queue://m2"},
		{"MQTT->STOMP", func(t *testing.T) endpoint { return newMQTT(t, addr["mqtt"], "p3", "") },
			func(t *testing.T) endpoint { return newStomp(t, addr["stomp"], "/topic/m3.x") }, "m3/x", false, false, "topic://m3.x"},
		{"STOMP->MQTT", func(t *testing.T) endpoint { return newStomp(t, addr["stomp"], "") },
			func(t *testing.T) endpoint { return newMQTT(t, addr["mqtt"], "s4", "m4/+") }, "/topic/m4.y", false, false, "topic://m4.*"},
		{"AMQP->MQTT", func(t *testing.T) endpoint { return newAMQP(t, addr["amqp"], "") },
			func(t *testing.T) endpoint { return newMQTT(t, addr["mqtt"], "s5", "m5/#") }, "topic://m5.z", false, false, "topic://m5.>"},
		{"MQTT->AMQP", func(t *testing.T) endpoint { return newMQTT(t, addr["mqtt"], "p6", "") },
			func(t *testing.T) endpoint { return newAMQP(t, addr["amqp"], "topic://m6.>") }, "m6/a/b", false, false, "topic://m6.>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			to := c.to(t) // subscribe first: topics keep nothing for absent subscribers
			testutil.Eventually(t, 5*time.Second, func() bool { return consumersOn(c.subscribed) > 0 }, "subscription on %s", c.subscribed)
			from := c.from(t)
			group := ""
			if c.group {
				group = "g-" + c.name
			}
			from.send(t, c.sendDest, "hello "+c.name, hdrs, group, 3)
			r := to.recv(t)
			if r.body != "hello "+c.name {
				t.Fatalf("body %q", r.body)
			}
			if c.headers && r.headers["color"] != "blue" {
				t.Errorf("header color lost: %v", r.headers)
			}
			if c.group && (r.group != group || r.seq != "3") {
				t.Errorf("group %q seq %q, want %q 3", r.group, r.seq, group)
			}
		})
	}
}

type gostompFrame = frame.Frame

// TestCrossProtocolTypedProperties: typed AMQP application properties
// (docs/amqp.md's mapping table) reach a STOMP consumer as text, an AMQP
// consumer with their types, and an MQTT consumer as the body alone;
// STOMP headers, which have no types, reach AMQP as strings.
func TestCrossProtocolTypedProperties(t *testing.T) {
	srv, addr := startAll(t)
	uuid := goamqp.UUID{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	typed := map[string]any{
		"int": int32(7), "bool": true, "long": int64(1) << 40, "double": 1.5, "string": "text",
		"null": nil, "uuid": uuid, "binary": []byte{0xca, 0xfe},
	}
	asText := map[string]string{
		"int": "7", "bool": "true", "long": "1099511627776", "double": "1.5", "string": "text",
		"uuid": "12345678-9abc-def0-0123-456789abcdef", "binary": "CAFE",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	stompRcv := newStomp(t, addr["stomp"], "/topic/typed")
	amqpRcv := newAMQP(t, addr["amqp"], "topic://typed")
	mqttRcv := newMQTT(t, addr["mqtt"], "typed-mqtt", "typed")
	subscribers := func() int {
		n := 0
		for _, st := range srv.Broker().Stats() {
			if st.Destination == "topic://typed" {
				n += st.Consumers
			}
		}
		return n
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return subscribers() == 3 }, "3 subscribers on topic://typed")
	p := newAMQP(t, addr["amqp"], "")
	snd, err := p.sess.NewSender(ctx, "topic://typed", nil)
	if err != nil {
		t.Fatal(err)
	}
	in := &goamqp.Message{ApplicationProperties: typed, Data: [][]byte{[]byte("typed body")}}
	if err := snd.Send(ctx, in, nil); err != nil {
		t.Fatal(err)
	}

	t.Run("AMQP->STOMP", func(t *testing.T) {
		r := stompRcv.recv(t)
		for k, want := range asText {
			if r.headers[k] != want {
				t.Errorf("header %s = %q, want %q", k, r.headers[k], want)
			}
		}
		if v, ok := r.headers["null"]; ok {
			t.Errorf("null property arrived as %q, want no header", v)
		}
		if r.body != "typed body" {
			t.Errorf("body %q", r.body)
		}
	})
	t.Run("AMQP->AMQP", func(t *testing.T) {
		m, err := amqpRcv.rcv.Receive(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = amqpRcv.rcv.AcceptMessage(ctx, m)
		if !reflect.DeepEqual(m.ApplicationProperties, typed) {
			t.Errorf("properties %#v, want %#v", m.ApplicationProperties, typed)
		}
	})
	t.Run("AMQP->MQTT", func(t *testing.T) {
		if r := mqttRcv.recv(t); r.body != "typed body" {
			t.Errorf("body %q", r.body)
		}
	})
	t.Run("STOMP->AMQP", func(t *testing.T) {
		q := newAMQP(t, addr["amqp"], "queue://typed-back")
		newStomp(t, addr["stomp"], "").send(t, "/queue/typed-back", "back", map[string]string{"int": "7", "bool": "true"}, "", 0)
		m, err := q.rcv.Receive(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = q.rcv.AcceptMessage(ctx, m)
		if m.ApplicationProperties["int"] != "7" || m.ApplicationProperties["bool"] != "true" {
			t.Errorf("properties %#v, want the strings \"7\" and \"true\"", m.ApplicationProperties)
		}
	})
}

// TestAMQPTemporaryReplyQueueFromSTOMP: an AMQP requester receives on a
// dynamic (temporary) queue and names it in reply-to; a STOMP responder
// answers to that reply-to.
func TestAMQPTemporaryReplyQueueFromSTOMP(t *testing.T) {
	_, addr := startAll(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	responder := newStomp(t, addr["stomp"], "/queue/requests")
	req := newAMQP(t, addr["amqp"], "")
	replies, err := req.sess.NewReceiver(ctx, "", &goamqp.ReceiverOptions{DynamicAddress: true, Credit: 1})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := req.sess.NewSender(ctx, "queue://requests", nil)
	if err != nil {
		t.Fatal(err)
	}
	replyTo := replies.Address()
	if err := snd.Send(ctx, &goamqp.Message{Properties: &goamqp.MessageProperties{ReplyTo: &replyTo}, Value: "ping"}, nil); err != nil {
		t.Fatal(err)
	}
	r := responder.recv(t)
	if r.body != "ping" || r.headers["reply-to"] != replyTo {
		t.Fatalf("request %q reply-to %q, want ping to %q", r.body, r.headers["reply-to"], replyTo)
	}
	responder.send(t, r.headers["reply-to"], "pong", nil, "", 0)
	m, err := replies.Receive(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.GetData()) != "pong" {
		t.Fatalf("reply %q", m.GetData())
	}
}
