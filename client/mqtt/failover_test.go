package mqtt_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/adaptertest"
)

// fast makes reconnects quick and deterministic for tests.
const fast = adaptertest.FastReconnect

func dialConn(t testing.TB, uri string, opts ...client.Option) (*client.Conn, *adaptertest.Events) {
	t.Helper()
	return adaptertest.DialConn(t, uri, opts...)
}

// TestFailoverBrokerRestartMidStream stops and restarts the broker (same
// port, same data directory) while a producer and a consumer run over
// failover:(mqtt://...). MQTT's contract is at-least-once: every confirmed
// send is received, and duplicates (re-sent publishes, redeliveries whose
// PUBACK was lost) are counted and reported, not failed.
func TestFailoverBrokerRestartMidStream(t *testing.T) {
	b := startBroker(t, "restart")
	st := adaptertest.RestartMidStream(t, b.Broker, "mqtt", "topic://orders",
		[]client.Option{client.WithClientID("orders-consumer")}, client.AckIndividual)
	duplicates := 0
	for body := range st.Confirmed {
		switch n := st.Received[body]; {
		case n == 0:
			t.Errorf("%s confirmed but never received", body)
		case n > 1:
			duplicates += n - 1
		}
	}
	t.Logf("at-least-once over MQTT: %d confirmed, all received, %d duplicates", len(st.Confirmed), duplicates)
}

// TestFailoverBetweenTwoBrokers: the first broker goes away for good; the
// client resumes on the second with its subscription, and a send made
// during the outage completes there. What MQTT cannot express is refused
// through the client API as ErrUnsupported.
func TestFailoverBetweenTwoBrokers(t *testing.T) {
	a, b := startBroker(t, "a"), startBroker(t, "b")
	c, ev := dialConn(t, "failover:("+a.uri()+","+b.uri()+")?"+fast, client.WithClientID("roamer"))
	ctx := testCtx(t, 30*time.Second)
	sub, err := c.Subscribe(ctx, "topic://prices.*")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, "topic://prices.eur", []byte("on-a"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.Next(ctx); err != nil || string(m.Body()) != "on-a" || m.Destination() != "topic://prices.eur" {
		t.Fatalf("%v %v", m, err)
	}
	a.Stop()
	if err := c.Send(ctx, "topic://prices.eur", []byte("on-b"), client.Persistent()); err != nil {
		t.Fatalf("send during failover: %v", err)
	}
	m, err := sub.Next(ctx)
	if err != nil || string(m.Body()) != "on-b" {
		t.Fatalf("after failover: %v %v", m, err)
	}
	if got := c.URI(); got != b.uri() {
		t.Errorf("connected to %s, want %s", got, b.uri())
	}
	ev.WaitCount(t, client.EventResumed, 1)
	for what, err := range map[string]error{
		"queue":   c.Send(ctx, "orders", []byte("x")),
		"group":   c.Send(ctx, "topic://t", []byte("x"), client.Group("g")),
		"headers": c.Send(ctx, "topic://t", []byte("x"), client.Headers(map[string]string{"k": "v"})),
	} {
		if !errors.Is(err, client.ErrUnsupported) {
			t.Errorf("%s over MQTT: %v, want ErrUnsupported", what, err)
		}
	}
	if _, err := c.Subscribe(ctx, "topic://t", client.Selector("a = 1")); !errors.Is(err, client.ErrUnsupported) {
		t.Errorf("selector over MQTT: %v, want ErrUnsupported", err)
	}
	if _, err := c.Begin(ctx); !errors.Is(err, client.ErrUnsupported) {
		t.Errorf("Begin over MQTT: %v, want ErrUnsupported", err)
	}
}

// TestPipelinedSends: SendAsync over MQTT keeps many QoS 1 publishes in
// flight (coalesced by the connection's writer) and each is confirmed, in
// order.
func TestPipelinedSends(t *testing.T) {
	b := startBroker(t, "pipelined")
	adaptertest.PipelinedInOrder(t, b.uri(), "topic://pipelined", 2000, client.AckIndividual)
}
