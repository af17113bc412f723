package amqp_test

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
// failover:(amqp://...): every confirmed send is received exactly once,
// thanks to the duplicate ids the broker drops and the SDK's dedupe of
// redelivered messages whose ack was in doubt.
func TestFailoverBrokerRestartMidStream(t *testing.T) {
	b := startBroker(t, "restart")
	st := adaptertest.RestartMidStream(t, b.Broker, "amqp", "queue://orders", nil, client.AckIndividual, client.Prefetch(10))
	for body := range st.Confirmed {
		if st.Received[body] != 1 {
			t.Errorf("%s received %d times", body, st.Received[body])
		}
	}
}

// TestFailoverBetweenTwoBrokers: the first broker goes away for good; the
// client resumes on the second with its topic subscription, and a send
// made during the outage completes there.
func TestFailoverBetweenTwoBrokers(t *testing.T) {
	a, b := startBroker(t, "a"), startBroker(t, "b")
	c, ev := dialConn(t, "failover:("+a.uri()+","+b.uri()+")?"+fast)
	ctx := testCtx(t, 30*time.Second)
	if got := c.URI(); got != a.uri() {
		t.Fatalf("connected to %s, want %s", got, a.uri())
	}
	sub, err := c.Subscribe(ctx, "topic://prices")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, "topic://prices", []byte("on-a")); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.Next(ctx); err != nil || string(m.Body()) != "on-a" {
		t.Fatalf("%v %v", m, err)
	}
	a.Stop()
	if err := c.Send(ctx, "topic://prices", []byte("on-b")); err != nil {
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
	if _, err := c.Begin(ctx); !errorsIsUnsupported(err) {
		t.Errorf("Begin over AMQP: %v, want ErrUnsupported", err)
	}
}

func errorsIsUnsupported(err error) bool { return errors.Is(err, client.ErrUnsupported) }

// TestPipelinedSends: SendAsync over AMQP keeps many transfers in flight
// (coalesced by the connection's writer) and each is confirmed, in order.
func TestPipelinedSends(t *testing.T) {
	b := startBroker(t, "pipelined")
	adaptertest.PipelinedInOrder(t, b.uri(), "queue://pipelined", 2000, client.AckIndividual, client.Prefetch(100))
}
