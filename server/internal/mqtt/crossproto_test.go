package mqtt

import (
	"context"
	"testing"

	"github.com/tethermq/tether/server/internal/broker"
)

// collectUntil gathers topics from in until the marker topic arrives.
func collectUntil(t *testing.T, in inbox, marker string) []string {
	t.Helper()
	var got []string
	for {
		m := in.next(t)
		if m.Topic() == marker {
			return got
		}
		got = append(got, m.Topic())
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWildcardSubscriptions(t *testing.T) {
	e := newEnv(t, Options{})
	cases := []struct {
		filter string
		want   []string
	}{
		{"a/+/c", []string{"a/b/c", "a/x/c"}},
		{"a/#", []string{"a/b/c", "a/b/d", "a/x/c", "a", "a/b/c/d"}},
		{"+/b/#", []string{"a/b/c", "a/b/d", "a/b/c/d"}},
		{"#", []string{"a/b/c", "a/b/d", "a/x/c", "a", "a/b/c/d", "b/c", "dot.ted/x"}},
		{"$SYS/#", []string{"$SYS/uptime"}},
		{"dot.ted/+", []string{"dot.ted/x"}},
	}
	inboxes := make([]inbox, len(cases))
	for i, tc := range cases {
		inboxes[i] = newInbox()
		c := e.client(t, "wild-"+string(rune('a'+i)), true, nil)
		waitToken(t, c.Subscribe(tc.filter, 1, inboxes[i].handler))
		waitToken(t, c.Subscribe("end", 1, inboxes[i].handler))
	}
	p := e.client(t, "wild-pub", true, nil)
	for _, topic := range []string{"a/b/c", "a/b/d", "a/x/c", "a", "a/b/c/d", "b/c", "$SYS/uptime", "dot.ted/x", "end"} {
		waitToken(t, p.Publish(topic, 1, false, topic))
	}
	for i, tc := range cases {
		// '#' also matches "end", which the marker logic stops at.
		if got := collectUntil(t, inboxes[i], "end"); !equal(got, tc.want) {
			t.Errorf("%s received %v, want %v", tc.filter, got, tc.want)
		}
	}
}

// TestCrossProtocol: an MQTT subscriber sees messages sent inside the
// broker (as STOMP or AMQP would), at the documented QoS, and a broker
// topic subscriber sees MQTT publishes with their persistence and QoS.
func TestCrossProtocol(t *testing.T) {
	e := newEnv(t, Options{})
	in := newInbox()
	c := e.client(t, "mqtt-side", true, nil)
	waitToken(t, c.Subscribe("a/+/c", 2, in.handler))

	sess, err := e.b.NewSession(broker.SessionOptions{ClientID: "stomp-side"})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	send := func(name, body string, persistent bool) {
		t.Helper()
		if err := wait(context.Background(), func(done func(error)) {
			sess.Send(context.Background(), &broker.Message{Dest: broker.Destination{Kind: broker.Topic, Name: name},
				Body: []byte(body), Persistent: persistent, Priority: broker.DefaultPriority}, "", done)
		}); err != nil {
			t.Fatal(err)
		}
	}
	send("a.b.c", "persistent", true)
	send("a.x.c", "transient", false)
	for _, want := range []struct {
		topic, body string
		qos         byte
	}{{"a/b/c", "persistent", 1}, {"a/x/c", "transient", 0}} {
		m := in.next(t)
		if m.Topic() != want.topic || string(m.Payload()) != want.body || m.Qos() != want.qos {
			t.Fatalf("got %s %q qos %d, want %s %q qos %d", m.Topic(), m.Payload(), m.Qos(), want.topic, want.body, want.qos)
		}
	}

	// Broker wildcard characters in an MQTT topic level are literal there.
	literal := brokerSub(t, e.b, broker.ConsumerOptions{Dest: broker.Destination{Kind: broker.Topic, Name: "lit.+.#"}})
	waitToken(t, c.Publish("lit/*/>", 1, false, "literal"))
	if d := nextDelivery(t, literal); string(d.Message.Body) != "literal" {
		t.Fatalf("got %q", d.Message.Body)
	}

	exact := brokerSub(t, e.b, broker.ConsumerOptions{Dest: broker.Destination{Kind: broker.Topic, Name: "a.b.c"}})
	wild := brokerSub(t, e.b, broker.ConsumerOptions{Dest: broker.Destination{Kind: broker.Topic, Name: "a.>"}})
	waitToken(t, c.Publish("a/b/c", 1, false, "from-mqtt"))
	waitToken(t, c.Publish("a/b/c", 0, false, "from-mqtt-0"))
	for _, ch := range []chan *broker.Delivery{exact, wild} {
		for _, want := range []struct {
			body, qos  string
			persistent bool
		}{{"from-mqtt", "1", true}, {"from-mqtt-0", "0", false}} {
			d := nextDelivery(t, ch)
			m := d.Message
			q, _ := m.Header(qosHeader)
			if m.Dest.Name != "a.b.c" || string(m.Body) != want.body || m.Persistent != want.persistent || q != want.qos || m.Priority != broker.DefaultPriority {
				t.Fatalf("broker got %s %q persistent=%v qos=%q prio=%d", m.Dest, m.Body, m.Persistent, q, m.Priority)
			}
		}
	}
}
