package client_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
)

// TestEveryHeaderRoundTrips checks the option-to-header mapping end to end.
func TestEveryHeaderRoundTrips(t *testing.T) {
	b := startBroker(t, "headers")
	c, _ := dial(t, b.uri())
	ctx := testCtx(t, 10*time.Second)
	sub, err := c.Subscribe(ctx, "queue://h", client.AckClient, client.Prefetch(1), client.Selector("kind = 'a'"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, "queue://h", []byte("skip"), client.Headers(map[string]string{"kind": "b"})); err != nil {
		t.Fatal(err)
	}
	err = c.Send(ctx, "queue://h", []byte("body"), client.Persistent(), client.Priority(7), client.TTL(time.Hour),
		client.Headers(map[string]string{"kind": "a", "x-y": "z:w"}), client.Group("g1"), client.GroupSeq(3),
		client.CorrelationID("corr"), client.ReplyTo("topic://replies"), client.DuplicateID("dup-42"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"body", string(m.Body()), "body"},
		{"destination", m.Destination(), "queue://h"},
		{"persistent", m.Persistent(), true},
		{"priority", m.Priority(), 7},
		{"header", m.Header("x-y"), "z:w"},
		{"group", m.GroupID(), "g1"},
		{"groupSeq", m.GroupSeq(), 3},
		{"firstForConsumer", m.FirstForConsumer(), true},
		{"correlation", m.CorrelationID(), "corr"},
		{"replyTo", m.ReplyTo(), "topic://replies"},
		{"duplicateID", m.DuplicateID(), "dup-42"},
		{"redelivered", m.Redelivered(), false},
		{"expires soon", m.Expires().After(time.Now()) && m.Expires().Before(time.Now().Add(2*time.Hour)), true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if m.ID() == "" || m.Headers()["kind"] != "a" {
		t.Errorf("id %q headers %v", m.ID(), m.Headers())
	}
	if err := m.Nack(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := sub.Next(ctx)
	if err != nil || !again.Redelivered() || again.ID() != m.ID() {
		t.Fatalf("after nack: %v %v", again, err)
	}
	if err := again.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	err = c.Send(ctx, "queue://h", nil, client.Headers(map[string]string{"receipt": "mine"}))
	if err == nil || !strings.Contains(err.Error(), "receipt") {
		t.Errorf("reserved header accepted: %v", err)
	}
}

// TestDurableSubscriptionKeepsMessages: a durable topic subscription (needs
// a client id) keeps what was published while it was away.
func TestDurableSubscriptionKeepsMessages(t *testing.T) {
	b := startBroker(t, "durable")
	ctx := testCtx(t, 20*time.Second)
	noID, _ := dial(t, b.uri())
	if _, err := noID.Subscribe(ctx, "topic://news", client.Durable("reader")); !errors.Is(err, client.ErrClientIDRequired) {
		t.Fatalf("err = %v", err)
	}
	c, _ := dial(t, b.uri(), client.WithClientID("reader-app"))
	sub, err := c.Subscribe(ctx, "topic://news", client.Durable("reader"), client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	if err := noID.Send(ctx, "topic://news", []byte("while away"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	sub, err = c.Subscribe(ctx, "topic://news", client.Durable("reader"), client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil || string(m.Body()) != "while away" {
		t.Fatalf("%v %v", m, err)
	}
}

func TestUnconfirmedSends(t *testing.T) {
	b := startBroker(t, "unconfirmed")
	c, _ := dial(t, b.uri(), client.WithConfirmNonPersistent(false))
	ctx := testCtx(t, 10*time.Second)
	sub, err := c.Subscribe(ctx, "queue://u")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := c.Send(ctx, "queue://u", []byte{byte('0' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for range 5 {
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(m.Body()))
	}
	if !slices.Equal(got, []string{"0", "1", "2", "3", "4"}) {
		t.Errorf("got %v", got)
	}
	if err := c.Send(ctx, "queue://u", nil, client.Persistent(), client.Unconfirmed()); err == nil {
		t.Error("an unconfirmed persistent send was accepted")
	}
}

func TestChannelDelivery(t *testing.T) {
	b := startBroker(t, "chan")
	c, _ := dial(t, b.uri())
	ctx := testCtx(t, 10*time.Second)
	sub, err := c.Subscribe(ctx, "queue://c")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, "queue://c", []byte("via channel")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.C():
		if string(m.Body()) != "via channel" {
			t.Errorf("got %q", m.Body())
		}
	case <-ctx.Done():
		t.Fatal("nothing on C()")
	}
	if err := sub.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-sub.C():
		if ok {
			t.Error("C() delivered after Unsubscribe")
		}
	case <-ctx.Done():
		t.Fatal("C() not closed after Unsubscribe")
	}
	if !errors.Is(sub.Err(), client.ErrClosed) {
		t.Errorf("Err() = %v", sub.Err())
	}
}

// Headers as a subscription option carries broker features that have no
// option of their own: activemq.noLocal keeps a topic subscriber from
// getting what its own connection publishes.
func TestSubscriptionHeaders(t *testing.T) {
	b := startBroker(t, "subheaders")
	c, _ := dial(t, b.uri())
	other, _ := dial(t, b.uri())
	ctx := testCtx(t, 10*time.Second)
	sub, err := c.Subscribe(ctx, "topic://news", client.Headers(map[string]string{"activemq.noLocal": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, "topic://news", []byte("own")); err != nil {
		t.Fatal(err)
	}
	if err := other.Send(ctx, "topic://news", []byte("other")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Body()) != "other" {
		t.Fatalf("got %q: noLocal did not reach the broker", m.Body())
	}
	if _, err := c.Subscribe(ctx, "topic://news", client.Headers(map[string]string{"selector": "a = 1"})); err == nil {
		t.Fatal("a subscription header that an option sets was accepted")
	}
}
