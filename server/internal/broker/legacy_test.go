package broker

import (
	"bytes"
	"testing"
)

// A data directory written before STOMP's spelling left the core holds
// dead letters whose original-destination reads /queue/X or /topic/X (the
// record below is byte for byte what that broker stored: the header went
// into the message unchanged). After a restart they read as queue://X and
// topic://X, and MoveFromDLQ sends them home; keys never held that
// spelling (qids and dup windows use the name and queue://X).
func TestDeadLettersOfAnOlderBrokerRecover(t *testing.T) {
	dir := t.TempDir()
	b, stop := newTestBroker(t, dir, Config{})
	s, _ := b.NewSession(SessionOptions{})
	legacy := func(body, origin string) *Message {
		return &Message{Dest: DLQ, Body: []byte(body), Persistent: true, Priority: DefaultPriority, DupID: body,
			Headers: []Header{{"app", "kept"}, {HeaderOriginalDestination, origin}, {"dlqDeliveryFailureCause", "delivered 7 times"}}}
	}
	sendOK(t, s, legacy("to-queue", "/queue/orders.eu"))
	sendOK(t, s, legacy("to-topic", "/topic/prices"))
	// An application header of that name on an ordinary message is the
	// producer's own and is never rewritten.
	sendOK(t, s, &Message{Dest: Destination{Queue, "other"}, Body: []byte("own"), Persistent: true,
		Headers: []Header{{HeaderOriginalDestination, "/queue/not-a-dead-letter"}}})
	stored := map[string]bool{}
	if err := b.st.ScanKeys(nil, func(k []byte) error { stored[string(k)] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	stop()
	for k := range stored {
		if bytes.Contains([]byte(k), []byte("/queue/")) || bytes.Contains([]byte(k), []byte("/topic/")) {
			t.Fatalf("a store key holds STOMP's spelling: %q", k)
		}
	}

	b, stop = newTestBroker(t, dir, Config{})
	defer stop()
	page, err := b.BrowseQueue(DLQ.Name, 0, 10)
	if err != nil || len(page) != 2 {
		t.Fatalf("DLQ after restart: %d messages, %v", len(page), err)
	}
	want := map[string]string{"to-queue": "queue://orders.eu", "to-topic": "topic://prices"}
	for _, m := range page {
		if got, _ := m.Header(HeaderOriginalDestination); got != want[string(m.Body)] {
			t.Errorf("%s: original-destination %q, want %q", m.Body, got, want[string(m.Body)])
		}
		if v, _ := m.Header("app"); v != "kept" {
			t.Errorf("%s: other headers changed: %v", m.Body, m.Headers)
		}
	}
	other, err := b.BrowseQueue("other", 0, 1)
	if err != nil || len(other) != 1 {
		t.Fatalf("queue other: %d messages, %v", len(other), err)
	}
	if v, _ := other[0].Header(HeaderOriginalDestination); v != "/queue/not-a-dead-letter" {
		t.Errorf("a producer's header was rewritten to %q", v)
	}

	s, _ = b.NewSession(SessionOptions{})
	got := newInbox()
	if _, err := s.Subscribe(ConsumerOptions{Dest: Destination{Queue, "orders.eu"}, AckMode: AckIndividual}, got.deliver); err != nil {
		t.Fatal(err)
	}
	news := newInbox()
	if _, err := s.Subscribe(ConsumerOptions{Dest: Destination{Topic, "prices"}, AckMode: AckIndividual}, news.deliver); err != nil {
		t.Fatal(err)
	}
	for _, m := range page {
		to, err := b.MoveFromDLQ(m.ID)
		if err != nil {
			t.Fatalf("move %s: %v", m.Body, err)
		}
		if to.String() != want[string(m.Body)] {
			t.Fatalf("%s moved to %s, want %s", m.Body, to, want[string(m.Body)])
		}
	}
	if d := got.next(t, 0); string(d.Message.Body) != "to-queue" {
		t.Fatalf("orders.eu got %q", d.Message.Body)
	}
	if d := news.next(t, 0); string(d.Message.Body) != "to-topic" {
		t.Fatalf("prices got %q", d.Message.Body)
	}
	if st := queueStats(b, DLQ.Name); st.Pending != 0 {
		t.Fatalf("DLQ still holds %d", st.Pending)
	}
}
