package amqp

import (
	"fmt"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tethermq/tether/internal/testutil"
)

// Durable messages are on disk once accepted: they survive a restart of
// the broker on the same store; non-durable ones do not.
func TestDurableMessagesSurviveRestart(t *testing.T) {
	e := startEnv(t, Options{}, "")
	c := e.dial(nil)
	snd := e.sender(e.session(c), "keep", nil)
	for i := range 3 {
		send(t, snd, &goamqp.Message{Header: &goamqp.MessageHeader{Durable: true}, Data: [][]byte{[]byte(fmt.Sprint("durable-", i))}})
		send(t, snd, goamqp.NewMessage([]byte(fmt.Sprint("volatile-", i))))
	}
	c.Close()
	e.restart()

	rcv := e.receiver(e.client(), "keep", &goamqp.ReceiverOptions{Credit: 10})
	for i := range 3 {
		m := receive(t, rcv)
		if got, want := string(m.GetData()), fmt.Sprint("durable-", i); got != want {
			t.Fatalf("after restart got %q, want %q", got, want)
		}
		if m.Header == nil || !m.Header.Durable {
			t.Errorf("redelivered durable message lost its durable flag")
		}
		accept(t, rcv, m)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		st := e.stats("keep")
		return st.Enqueued == 3 && st.Dequeued == 3 && st.Pending == 0
	}, "only the 3 durable messages should survive the restart: %+v", e.stats("keep"))
}

// A durable topic subscription (durable, never-expiring source named after
// the link) keeps messages published while its receiver is away.
func TestDurableTopicSubscription(t *testing.T) {
	e := startEnv(t, Options{}, "")
	opts := &goamqp.ReceiverOptions{
		Name: "audit", SourceDurability: goamqp.DurabilityUnsettledState, SourceExpiryPolicy: goamqp.ExpiryPolicyNever, Credit: 5,
	}
	c1 := e.dial(&goamqp.ConnOptions{ContainerID: "auditor"})
	e.receiver(e.session(c1), "topic://events", opts)
	c1.Close() // connection gone, link never detached: the subscription stays

	pub := e.sender(e.client(), "topic://events", nil)
	send(t, pub, goamqp.NewMessage([]byte("while away")))

	c2 := e.dial(&goamqp.ConnOptions{ContainerID: "auditor"})
	rcv := e.receiver(e.session(c2), "topic://events", opts)
	m := receive(t, rcv)
	if string(m.GetData()) != "while away" {
		t.Fatalf("got %q", m.GetData())
	}
	accept(t, rcv, m)
	// Closing the link (detach closed=true) deletes the subscription.
	if err := rcv.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	send(t, pub, goamqp.NewMessage([]byte("nobody listens")))
	rcv = e.receiver(e.session(c2), "topic://events", opts)
	send(t, pub, goamqp.NewMessage([]byte("fresh subscription")))
	if m := receive(t, rcv); string(m.GetData()) != "fresh subscription" {
		t.Fatalf("the closed subscription kept %q", m.GetData())
	}
}
