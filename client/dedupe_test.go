package client_test

import (
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/testutil"
)

// TestAckWithLostReceiptIsNotRedelivered: the ACK leaves the client but its
// receipt never comes back (the proxy swallows the ACK and cuts the
// connection). After the reconnect the broker redelivers the message; the
// client acks it again and drops it instead of handing it over twice.
func TestAckWithLostReceiptIsNotRedelivered(t *testing.T) {
	b := startBroker(t, "dedupe")
	var once sync.Once
	p := startProxy(t, b.Addr(), func(f *frame.Frame) verdict {
		v := forward
		if f.Command == frame.ACK {
			once.Do(func() { v = swallowAndKill })
		}
		return v
	})
	producer, _ := dial(t, b.uri())
	consumer, ev := dial(t, "failover:("+p.uri()+")?"+fast)
	ctx := testCtx(t, 30*time.Second)

	sub, err := consumer.Subscribe(ctx, "queue://pay", client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	if err := producer.Send(ctx, "queue://pay", []byte("first"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil || string(m.Body()) != "first" {
		t.Fatalf("%v %v", m, err)
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatalf("in-doubt ack: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return ev.count(client.EventDuplicateDropped) == 1 }, "redelivery not dropped")
	if d := ev.of(client.EventDuplicateDropped)[0]; d.MessageID != m.ID() {
		t.Errorf("dropped %s, want %s", d.MessageID, m.ID())
	}
	if err := producer.Send(ctx, "queue://pay", []byte("second"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	m2, err := sub.Next(ctx)
	if err != nil || string(m2.Body()) != "second" {
		t.Fatalf("next after the drop: %v %v (the first must not come back)", m2, err)
	}
	if err := m2.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if st := consumer.Stats(); st.DuplicatesDropped != 1 || st.Received != 2 {
		t.Errorf("stats %+v", st)
	}
	// The re-ack reached the broker: a new consumer sees only what is sent
	// from now on.
	if err := sub.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	if err := producer.Send(ctx, "queue://pay", []byte("third"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	sub2, err := producer.Subscribe(ctx, "queue://pay", client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := sub2.Next(ctx)
	if err != nil || string(m3.Body()) != "third" {
		t.Fatalf("queue still holds an acked message: %v %v", m3, err)
	}
}

// TestAckReceivedByStoppedBroker: the broker gets the ACK and is stopped
// before its receipt reaches the client. Whether or not the ack was stored,
// the application never sees the message again, and a redelivery counts as
// DuplicateDropped.
func TestAckReceivedByStoppedBroker(t *testing.T) {
	b := startBroker(t, "stopped")
	acked := make(chan struct{})
	var once sync.Once
	p := startProxy(t, b.Addr(), func(f *frame.Frame) verdict {
		v := forward
		if f.Command == frame.ACK {
			once.Do(func() { v = forwardAndMute; close(acked) })
		}
		return v
	})
	consumer, ev := dial(t, "failover:("+p.uri()+")?"+fast)
	ctx := testCtx(t, 30*time.Second)
	sub, err := consumer.Subscribe(ctx, "queue://ledger", client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	if err := consumer.Send(ctx, "queue://ledger", []byte("entry-1"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ackDone := make(chan error, 1)
	go func() { ackDone <- m.Ack(ctx) }()
	<-acked
	b.Stop()
	if err := <-ackDone; err != nil {
		t.Fatalf("ack: %v", err)
	}
	b.Start()
	if err := consumer.Send(ctx, "queue://ledger", []byte("entry-2"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	m2, err := sub.Next(ctx)
	if err != nil || string(m2.Body()) != "entry-2" {
		t.Fatalf("got %v %v, want entry-2 (entry-1 was acked)", m2, err)
	}
	t.Logf("redelivery dropped: %d (0 if the broker stored the ack before stopping)", ev.count(client.EventDuplicateDropped))
}
