package amqp

import (
	"fmt"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tethermq/tether/internal/testutil"
)

func TestQueueSendReceive(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	for _, addr := range []string{"queue://orders", "plain"} {
		snd := e.sender(s, addr, nil)
		rcv := e.receiver(s, addr, &goamqp.ReceiverOptions{Credit: 10})
		for i := range 3 {
			send(t, snd, goamqp.NewMessage([]byte(fmt.Sprintf("%s-%d", addr, i))))
		}
		for i := range 3 {
			m := receive(t, rcv)
			if got, want := string(m.GetData()), fmt.Sprintf("%s-%d", addr, i); got != want {
				t.Fatalf("%s: message %d body %q, want %q", addr, i, got, want)
			}
			accept(t, rcv, m)
		}
	}
	// A bare name is a queue: both landed in queues and are fully acked.
	for _, q := range []string{"orders", "plain"} {
		testutil.Eventually(t, 5*time.Second, func() bool {
			st := e.stats(q)
			return st.Enqueued == 3 && st.Dequeued == 3 && st.Pending == 0 && st.InFlight == 0
		}, "queue %s: %+v", q, e.stats(q))
	}
}

func TestTopicFanOut(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	r1 := e.receiver(s, "topic://prices", &goamqp.ReceiverOptions{Credit: 5})
	r2 := e.receiver(e.client(), "topic://prices", &goamqp.ReceiverOptions{Credit: 5})
	// The subscriptions exist once the receivers are attached: nothing
	// published from now on may be missed.
	snd := e.sender(s, "topic://prices", nil)
	send(t, snd, goamqp.NewMessage([]byte("tick")))
	for _, r := range []*goamqp.Receiver{r1, r2} {
		m := receive(t, r)
		if string(m.GetData()) != "tick" {
			t.Fatalf("body %q", m.GetData())
		}
		// The bare message is the producer's: no properties section of
		// the broker's own.
		if m.Properties != nil {
			t.Errorf("properties %+v added to a message sent without any", m.Properties)
		}
		accept(t, r, m)
	}
}

func TestAnonymousRelayUsesTo(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	snd := e.sender(s, "", nil)
	to := "queue://relayed"
	send(t, snd, &goamqp.Message{Properties: &goamqp.MessageProperties{To: &to}, Data: [][]byte{[]byte("r")}})
	rcv := e.receiver(s, "relayed", nil)
	if m := receive(t, rcv); string(m.GetData()) != "r" {
		t.Fatalf("body %q", m.GetData())
	}
	// Without a "to" the message has nowhere to go: rejected.
	err := snd.Send(ctxT(t), goamqp.NewMessage([]byte("lost")), nil)
	var amqpErr *goamqp.Error
	if !errorsAs(err, &amqpErr) || amqpErr.Condition != goamqp.ErrCondInvalidField {
		t.Fatalf("send without to: %v, want rejected with amqp:invalid-field", err)
	}
}

func TestSelectorFilter(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	rcv := e.receiver(s, "queue://colours", &goamqp.ReceiverOptions{
		Credit:  10,
		Filters: []goamqp.LinkFilter{goamqp.NewSelectorFilter("colour = 'red'")},
	})
	if rcv.LinkSourceFilterValue("apache.org:selector-filter:string") == nil {
		t.Errorf("the applied selector is not echoed in the attach")
	}
	snd := e.sender(s, "queue://colours", nil)
	for _, c := range []string{"blue", "red"} {
		send(t, snd, &goamqp.Message{ApplicationProperties: map[string]any{"colour": c}, Data: [][]byte{[]byte(c)}})
	}
	if m := receive(t, rcv); string(m.GetData()) != "red" {
		t.Fatalf("selector let %q through", m.GetData())
	}
	if st := e.stats("colours"); st.Pending != 1 {
		t.Errorf("blue should stay pending: %+v", st)
	}
	_, err := s.NewReceiver(ctxT(t), "queue://colours", &goamqp.ReceiverOptions{
		Filters: []goamqp.LinkFilter{goamqp.NewSelectorFilter("colour = ")},
	})
	if err == nil {
		t.Fatalf("a malformed selector was accepted")
	}
}
