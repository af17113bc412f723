package amqp

import (
	"strings"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/internal/broker"
)

// tempQueues lists the temporary queues the broker has.
func (e *env) tempQueues() []string {
	var out []string
	for _, st := range e.b.Stats() {
		if strings.HasPrefix(st.Destination, "queue://"+broker.TempQueuePrefix) {
			out = append(out, st.Destination)
		}
	}
	return out
}

// A receiver with a dynamic source gets a temporary queue named by the
// broker, which others can send to (here a request's reply-to), and which
// is deleted with its messages when the link detaches.
func TestDynamicSourceIsTemporaryQueue(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	replies := e.receiver(s, "", &goamqp.ReceiverOptions{DynamicAddress: true, Credit: 10})
	addr := replies.Address()
	if !strings.HasPrefix(addr, "queue://"+broker.TempQueuePrefix) {
		t.Fatalf("dynamic address %q", addr)
	}
	if got := e.tempQueues(); len(got) != 1 || got[0] != addr {
		t.Fatalf("temporary queues %v, want [%s]", got, addr)
	}
	// Another connection answers on it.
	other := e.client()
	send(t, e.sender(other, addr, nil), goamqpMessage("reply-1"))
	send(t, e.sender(other, addr, nil), goamqpMessage("reply-2"))
	m := receive(t, replies)
	accept(t, replies, m)
	if string(m.GetData()) != "reply-1" {
		t.Fatalf("got %q", m.GetData())
	}
	// reply-2 is still there when the link ends: it goes with the queue.
	testutil.Eventually(t, 5*time.Second, func() bool {
		return e.stats(strings.TrimPrefix(addr, "queue://")).InFlight+e.stats(strings.TrimPrefix(addr, "queue://")).Pending == 1
	},
		"reply-2 not at the temporary queue")
	if err := replies.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return len(e.tempQueues()) == 0 }, "temporary queue %v not deleted", e.tempQueues())
}

// A sender with a dynamic target gets a temporary queue too; it also ends
// with its connection.
func TestDynamicTargetIsTemporaryQueue(t *testing.T) {
	e := startEnv(t, Options{}, "")
	c := e.dial(nil)
	s := e.session(c)
	snd := e.sender(s, "", &goamqp.SenderOptions{DynamicAddress: true})
	addr := snd.Address()
	if !strings.HasPrefix(addr, "queue://"+broker.TempQueuePrefix) {
		t.Fatalf("dynamic address %q", addr)
	}
	send(t, snd, goamqpMessage("to-temp"))
	rcv := e.receiver(s, addr, &goamqp.ReceiverOptions{Credit: 1})
	if m := receive(t, rcv); string(m.GetData()) != "to-temp" {
		t.Fatalf("got %q", m.GetData())
	}
	// One more link with a temporary queue, then the connection ends.
	e.receiver(s, "", &goamqp.ReceiverOptions{DynamicAddress: true})
	if n := len(e.tempQueues()); n != 2 {
		t.Fatalf("%d temporary queues, want 2", n)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return len(e.tempQueues()) == 0 }, "temporary queues %v not deleted", e.tempQueues())
}
