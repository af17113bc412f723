package broker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// tablePolicy grants per (user, action, destination string); "*" as the
// destination grants the action everywhere.
type tablePolicy map[string]bool

func (p tablePolicy) Allowed(user string, a Action, d Destination) bool {
	return p[user+" "+a.String()+" "+d.String()] || p[user+" "+a.String()+" *"]
}

func sendSync(s *Session, m *Message) error {
	var wg sync.WaitGroup
	var got error
	wg.Add(1)
	s.Send(context.Background(), m, "", func(err error) { got = err; wg.Done() })
	wg.Wait()
	return got
}

func TestAccessControl(t *testing.T) {
	b, stop := newTestBroker(t, t.TempDir(), Config{})
	defer stop()
	q := Destination{Queue, "orders"}
	tp := Destination{Topic, "prices"}
	ac := NewAccessControl(b, tablePolicy{
		"writer write to queue://orders": true, "writer write to topic://prices": true,
		"reader read from queue://orders": true, "reader read from topic://prices": true,
		"reader read from topic://ActiveMQ.Advisory.Consumer.Queue.orders": true,
		"admin write to *": true, "admin create *": true,
	})
	open := func(user string, access *AccessControl) *Session {
		s, err := b.NewSession(SessionOptions{User: user, Access: access})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	writer, reader, admin := open("writer", ac), open("reader", ac), open("admin", ac)
	deliver := func(*Delivery) {}

	// nothing exists yet: write without admin is not enough
	err := sendSync(writer, &Message{Dest: q, Body: []byte("x")})
	var ue *UnauthorizedError
	if !errors.As(err, &ue) || ue.Action != ActionAdmin || !errors.Is(err, ErrUnauthorized) ||
		err.Error() != "User writer is not authorized to create: queue://orders" {
		t.Fatalf("writer creating a queue: %v", err)
	}
	if _, err := reader.Subscribe(ConsumerOptions{Dest: q}, deliver); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("reader creating a queue: %v", err)
	}
	// an admin creates both; then write and read need no admin
	if err := sendSync(admin, &Message{Dest: q}); err != nil {
		t.Fatal(err)
	}
	if err := sendSync(admin, &Message{Dest: tp}); err != nil {
		t.Fatal(err)
	}
	if err := sendSync(writer, &Message{Dest: q}); err != nil {
		t.Fatal(err)
	}
	if err := sendSync(writer, &Message{Dest: tp}); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Subscribe(ConsumerOptions{Dest: q}, deliver); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Subscribe(ConsumerOptions{Dest: tp}, deliver); err != nil {
		t.Fatal(err)
	}
	// read is not write, and write is not read
	if err := sendSync(reader, &Message{Dest: q}); !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "write to") {
		t.Fatalf("reader writing: %v", err)
	}
	if _, err := writer.Subscribe(ConsumerOptions{Dest: q}, deliver); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("writer reading: %v", err)
	}
	// advisory topics exist from the start
	if _, err := reader.Subscribe(ConsumerOptions{Dest: Destination{Topic, AdvisoryTopic(q)}}, deliver); err != nil {
		t.Fatalf("advisory subscription: %v", err)
	}
	// a wildcard subscription needs read on the pattern, never admin
	ac.policy = tablePolicy{"reader read from topic://prices.>": true}
	if _, err := reader.Subscribe(ConsumerOptions{Dest: Destination{Topic, "prices.>"}}, deliver); err != nil {
		t.Fatalf("wildcard subscription: %v", err)
	}
	ac.policy = tablePolicy{
		"writer write to queue://orders": true, "writer write to topic://prices": true,
		"admin write to *": true, "admin create *": true,
	}
	// a transacted send is refused when sent; the commit stores nothing
	if err := writer.Begin("t"); err != nil {
		t.Fatal(err)
	}
	var txErr error
	writer.Send(context.Background(), &Message{Dest: Destination{Queue, "other"}}, "t", func(err error) { txErr = err })
	if !errors.Is(txErr, ErrUnauthorized) {
		t.Fatalf("transacted send: %v", txErr)
	}
	// a session without AccessControl (the broker's own, a bridge's local
	// side) is never checked
	if err := sendSync(open("anybody", nil), &Message{Dest: Destination{Queue, "other"}}); err != nil {
		t.Fatal(err)
	}
	for _, st := range b.Stats() {
		if st.Destination == "queue://orders" && st.Enqueued != 2 {
			t.Fatalf("orders holds %d messages, want the admin's and the writer's", st.Enqueued)
		}
	}
}

// A topic with a durable subscription exists after a restart, so a writer
// without admin may publish to it.
func TestAccessControlDurableTopicExists(t *testing.T) {
	dir := t.TempDir()
	tp := Destination{Topic, "prices"}
	b, stop := newTestBroker(t, dir, Config{})
	s, err := b.NewSession(SessionOptions{ClientID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Subscribe(ConsumerOptions{Dest: tp, DurableName: "d"}, func(*Delivery) {})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()
	stop()
	b, stop = newTestBroker(t, dir, Config{})
	defer stop()
	ac := NewAccessControl(b, tablePolicy{"writer write to topic://prices": true})
	w, err := b.NewSession(SessionOptions{User: "writer", Access: ac})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := sendSync(w, &Message{Dest: tp}); err != nil {
		t.Fatalf("publishing to a topic with a durable subscription: %v", err)
	}
	if err := sendSync(w, &Message{Dest: Destination{Topic, "fresh"}}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("creating a topic without admin: %v", err)
	}
}
