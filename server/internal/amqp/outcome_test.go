package amqp

import (
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tethermq/tether/internal/testutil"
)

func deliveryCount(m *goamqp.Message) uint32 {
	if m.Header == nil {
		return 0
	}
	return m.Header.DeliveryCount
}

// Outcomes follow ActiveMQ's mapping: Released (and Modified without
// delivery-failed) redeliver uncounted, Modified{delivery-failed}
// redelivers counted, Rejected and Modified{undeliverable-here} dead-letter
// at once.
func TestOutcomes(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	cases := []struct {
		name      string
		dispose   func(*goamqp.Receiver, *goamqp.Message) error
		toDLQ     bool
		wantCount uint32 // delivery-count on the redelivery
	}{
		{"reject", func(r *goamqp.Receiver, m *goamqp.Message) error {
			return r.RejectMessage(ctxT(t), m, &goamqp.Error{Condition: "app:bad", Description: "no"})
		}, true, 0},
		{"release", func(r *goamqp.Receiver, m *goamqp.Message) error { return r.ReleaseMessage(ctxT(t), m) }, false, 0},
		{"modify-failed", func(r *goamqp.Receiver, m *goamqp.Message) error {
			return r.ModifyMessage(ctxT(t), m, &goamqp.ModifyMessageOptions{DeliveryFailed: true})
		}, false, 1},
		{"modify-not-failed", func(r *goamqp.Receiver, m *goamqp.Message) error {
			return r.ModifyMessage(ctxT(t), m, &goamqp.ModifyMessageOptions{})
		}, false, 0},
		{"modify-undeliverable-here", func(r *goamqp.Receiver, m *goamqp.Message) error {
			return r.ModifyMessage(ctxT(t), m, &goamqp.ModifyMessageOptions{DeliveryFailed: true, UndeliverableHere: true})
		}, true, 0},
	}
	var dlq *goamqp.Receiver
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := "outcome-" + c.name
			snd := e.sender(s, q, nil)
			rcv := e.receiver(s, q, &goamqp.ReceiverOptions{Credit: 1})
			send(t, snd, goamqp.NewMessage([]byte(c.name)))
			m := receive(t, rcv)
			if deliveryCount(m) != 0 {
				t.Fatalf("first delivery has delivery-count %d", deliveryCount(m))
			}
			if err := c.dispose(rcv, m); err != nil {
				t.Fatalf("dispose: %v", err)
			}
			from := rcv
			if c.toDLQ {
				// Cases run one after another, so the DLQ's next message is this one.
				if dlq == nil {
					dlq = e.receiver(s, "queue://ActiveMQ.DLQ", &goamqp.ReceiverOptions{Credit: 1})
				}
				from = dlq
			}
			again := receive(t, from)
			if string(again.GetData()) != c.name {
				t.Fatalf("redelivered %q", again.GetData())
			}
			if !c.toDLQ && deliveryCount(again) != c.wantCount {
				t.Errorf("redelivery has delivery-count %d, want %d", deliveryCount(again), c.wantCount)
			}
			accept(t, from, again)
			testutil.Eventually(t, 5*time.Second, func() bool {
				st := e.stats(q)
				return st.Pending == 0 && st.InFlight == 0
			}, "message still in %s: %+v", q, e.stats(q))
		})
	}
}

// A message whose delivery failed more than MaxRedeliveries times is
// dead-lettered.
func TestDeliveryFailedUntilDLQ(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	snd := e.sender(s, "poison", nil)
	rcv := e.receiver(s, "poison", &goamqp.ReceiverOptions{Credit: 1})
	send(t, snd, goamqp.NewMessage([]byte("poison")))
	for i := range 7 { // the first delivery and 6 redeliveries
		m := receive(t, rcv)
		if deliveryCount(m) != uint32(i) {
			t.Fatalf("delivery %d has delivery-count %d", i+1, deliveryCount(m))
		}
		if err := rcv.ModifyMessage(ctxT(t), m, &goamqp.ModifyMessageOptions{DeliveryFailed: true}); err != nil {
			t.Fatal(err)
		}
	}
	dlq := e.receiver(s, "queue://ActiveMQ.DLQ", nil)
	m := receive(t, dlq)
	if string(m.GetData()) != "poison" {
		t.Fatalf("DLQ holds %q", m.GetData())
	}
	// The broker's additions are message annotations; the bare message
	// (here without application-properties) is the producer's.
	if v := m.Annotations["x-opt-original-destination"]; v != "queue://poison" {
		t.Errorf("x-opt-original-destination = %v (annotations %v)", v, m.Annotations)
	}
	if m.ApplicationProperties != nil {
		t.Errorf("application-properties %v added", m.ApplicationProperties)
	}
	accept(t, dlq, m)
}

func TestPresettledReceiver(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	snd := e.sender(s, "fire", nil)
	for range 5 {
		send(t, snd, goamqp.NewMessage([]byte("x")))
	}
	rcv := e.receiver(s, "fire", &goamqp.ReceiverOptions{
		Credit: 10, RequestedSenderSettleMode: goamqp.SenderSettleModeSettled.Ptr(),
	})
	for range 5 {
		receive(t, rcv) // settled on arrival: nothing to accept
	}
	// Acknowledged as they were written: nothing stays in flight.
	testutil.Eventually(t, 5*time.Second, func() bool {
		st := e.stats("fire")
		return st.Dequeued == 5 && st.InFlight == 0 && st.Pending == 0
	}, "pre-settled deliveries not acknowledged: %+v", e.stats("fire"))
}

func TestPresettledSender(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	snd := e.sender(s, "presettled", &goamqp.SenderOptions{SettlementMode: goamqp.SenderSettleModeSettled.Ptr()})
	for range 3 {
		send(t, snd, goamqp.NewMessage([]byte("p"))) // returns once written
	}
	rcv := e.receiver(s, "presettled", &goamqp.ReceiverOptions{Credit: 3})
	for range 3 {
		accept(t, rcv, receive(t, rcv))
	}
}

// Receiver settle mode second: both sides settle only after the other's
// disposition (the broker confirms the consumer's outcome; the producer
// confirms the broker's).
func TestReceiverSettleModeSecond(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	second := goamqp.ReceiverSettleModeSecond.Ptr()
	snd := e.sender(s, "second", &goamqp.SenderOptions{RequestedReceiverSettleMode: second})
	send(t, snd, goamqp.NewMessage([]byte("2")))
	rcv := e.receiver(s, "second", &goamqp.ReceiverOptions{SettlementMode: second})
	m := receive(t, rcv)
	accept(t, rcv, m) // waits for the broker's settlement
	testutil.Eventually(t, 5*time.Second, func() bool { return e.stats("second").Dequeued == 1 },
		"accepted in mode second but not acknowledged: %+v", e.stats("second"))
}
