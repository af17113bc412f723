package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

// fillPaged sends n persistent 1 KiB messages to dest through a broker
// whose memory holds only a few hundred, so most stay on disk.
func fillPaged(t *testing.T, s *Session, dest Destination, n int, headers ...Header) {
	t.Helper()
	pad := bytes.Repeat([]byte("x"), 1024)
	for i := range n {
		sendOK(t, s, &Message{Dest: dest, Body: append([]byte(fmt.Sprintf("%05d:", i)), pad...), Persistent: true, Headers: headers})
	}
}

// Browsing pages through messages on disk; a purge drops them all, and the
// drop is stored.
func TestBrowseAndPurgePagedQueue(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{MemoryLimit: 256 << 10}
	b, stop := newTestBroker(t, dir, cfg)
	s, _ := b.NewSession(SessionOptions{})
	const n = 1500
	fillPaged(t, s, Destination{Queue, "big"}, n)
	if q, err := b.Queue("big", 0); err != nil || q.OnDisk < n/2 {
		t.Fatalf("not paged out: %+v %v", q, err)
	}
	page, err := b.BrowseQueue("big", 1400, 50)
	if err != nil || len(page) != 50 {
		t.Fatalf("browse: %d messages, %v", len(page), err)
	}
	for i, m := range page {
		if want := fmt.Sprintf("%05d:", 1400+i); !bytes.HasPrefix(m.Body, []byte(want)) {
			t.Fatalf("browsed message %d is %q, want %s", i, m.Body[:6], want)
		}
	}
	if page, _ := b.BrowseQueue("big", n, 10); len(page) != 0 {
		t.Fatalf("a page past the end has %d messages", len(page))
	}
	if _, err := b.BrowseQueue("nope", 0, 10); !errors.Is(err, ErrNoDestination) {
		t.Fatalf("browse of a missing queue: %v", err)
	}
	if got, err := b.PurgeQueue("big"); err != nil || got != n {
		t.Fatalf("purge: %d, %v", got, err)
	}
	if u := b.MemoryUsage(); u != 0 {
		t.Fatalf("%d bytes still held after the purge", u)
	}
	stop()
	b, stop = newTestBroker(t, dir, cfg)
	defer stop()
	if q, err := b.Queue("big", 0); err == nil && q.Pending != 0 {
		t.Fatalf("after a restart the purged queue holds %d", q.Pending)
	}
}

// A dead letter goes back to its queue whether it waits in memory or on
// disk only; nothing else in the DLQ is lost or duplicated, before and
// after a restart.
func TestMoveFromDLQ(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{MemoryLimit: 256 << 10}
	b, stop := newTestBroker(t, dir, cfg)
	s, _ := b.NewSession(SessionOptions{})
	const n = 1200
	fillPaged(t, s, DLQ, n, Header{HeaderOriginalDestination, "queue://orders"}, Header{"dlqDeliveryFailureCause", "test"})
	sendOK(t, s, &Message{Dest: DLQ, Body: []byte("orphan"), Persistent: true})
	all, err := b.BrowseQueue(DLQ.Name, 0, n+1)
	if err != nil || len(all) != n+1 {
		t.Fatalf("browse the DLQ: %d, %v", len(all), err)
	}
	if q, _ := b.Queue(DLQ.Name, 0); q.OnDisk == 0 {
		t.Fatal("no dead letter on disk only")
	}
	first, last := all[0].ID, all[n-1].ID // in memory; on disk
	for _, id := range []string{first, last} {
		to, err := b.MoveFromDLQ(id)
		if err != nil || to != (Destination{Queue, "orders"}) {
			t.Fatalf("move %s: %v, %v", id, to, err)
		}
	}
	if _, err := b.MoveFromDLQ(first); !errors.Is(err, ErrNoMessage) {
		t.Fatalf("a second move of %s: %v", first, err)
	}
	if _, err := b.MoveFromDLQ(all[n].ID); err == nil {
		t.Fatal("a dead letter without original-destination was moved")
	}
	check := func(b *Broker, consume bool) {
		t.Helper()
		moved, err := b.BrowseQueue("orders", 0, 10)
		if err != nil || len(moved) != 2 {
			t.Fatalf("queue://orders holds %d, %v", len(moved), err)
		}
		for _, m := range moved {
			if _, ok := m.Header("original-destination"); ok || m.Dest != (Destination{Queue, "orders"}) {
				t.Fatalf("moved message keeps its dead-letter headers: %+v", m.Headers)
			}
		}
		// Every other dead letter once: browsed, or (consume) consumed and
		// acknowledged, paged in from disk as it goes.
		seen := map[string]bool{}
		see := func(i int, id string) {
			t.Helper()
			if id == first || id == last || seen[id] {
				t.Fatalf("dead letter %d: %s moved or seen twice", i, id)
			}
			seen[id] = true
		}
		if !consume {
			rest, err := b.BrowseQueue(DLQ.Name, 0, n)
			if err != nil || len(rest) != n-1 {
				t.Fatalf("the DLQ after the moves: %d, %v", len(rest), err)
			}
			for i, m := range rest {
				see(i, m.ID)
			}
			return
		}
		cs, _ := b.NewSession(SessionOptions{})
		defer cs.Close()
		in := newInbox()
		c, err := cs.Subscribe(ConsumerOptions{Dest: DLQ, AckMode: AckIndividual, Prefetch: 100}, in.deliver)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n - 1 {
			d := in.next(t, i)
			see(i, d.Message.ID)
			ackSync(t, c, d.Message.ID)
		}
		if q, _ := b.Queue(DLQ.Name, 0); q.Pending != 0 || q.InFlight != 0 {
			t.Fatalf("the DLQ after consuming it: %+v", q)
		}
	}
	check(b, false)
	stop()
	b, stop = newTestBroker(t, dir, cfg)
	defer stop()
	check(b, true)
}

// Deleting a queue with a consumer is refused; without, it goes with its
// messages. FlowControl counts a send waiting for memory.
func TestDeleteQueueAndFlowControl(t *testing.T) {
	b, stop := newTestBroker(t, t.TempDir(), Config{MemoryLimit: 8 << 10})
	defer stop()
	s, _ := b.NewSession(SessionOptions{Protocol: "stomp", RemoteAddr: "127.0.0.1:1"})
	c, err := s.Subscribe(ConsumerOptions{Dest: Destination{Queue, "busy"}}, func(*Delivery) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteQueue("busy"); !errors.Is(err, ErrInUse) {
		t.Fatalf("delete of a queue with a consumer: %v", err)
	}
	c.Close()
	if err := b.DeleteQueue("busy"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Queue("busy", 0); !errors.Is(err, ErrNoDestination) {
		t.Fatalf("the deleted queue is still there: %v", err)
	}
	if cs := b.Connections(); len(cs) != 1 || cs[0].Protocol != "stomp" || cs[0].RemoteAddr != "127.0.0.1:1" {
		t.Fatalf("connections: %+v", cs)
	}

	// Non-persistent messages nobody consumes fill the memory limit; the
	// next send waits until a purge frees it.
	body := bytes.Repeat([]byte("m"), 2048)
	for b.MemoryUsage() < 8<<10 {
		sendOK(t, s, &Message{Dest: Destination{Queue, "full"}, Body: body})
	}
	sent := make(chan error, 1)
	go func() {
		s.Send(context.Background(), &Message{Dest: Destination{Queue, "full"}, Body: body}, "", func(err error) { sent <- err })
	}()
	testutil.Eventually(t, 5*time.Second, func() bool { w, _ := b.FlowControl(); return w == 1 }, "the send does not wait")
	if _, err := b.PurgeQueue("full"); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if w, total := b.FlowControl(); w != 0 || total != 1 {
		t.Fatalf("flow control: %d waiting, %d waited", w, total)
	}
	s.Close()
	if cs := b.Connections(); len(cs) != 0 {
		t.Fatalf("a closed session is still listed: %+v", cs)
	}
}

// A topic's dead letter with no subscription to take it stays in the DLQ.
func TestMoveFromDLQToTopicWithoutSubscribers(t *testing.T) {
	b, stop := newTestBroker(t, t.TempDir(), Config{})
	defer stop()
	s, _ := b.NewSession(SessionOptions{})
	sendOK(t, s, &Message{Dest: DLQ, Body: []byte("t"), Persistent: true, Headers: []Header{{HeaderOriginalDestination, "topic://nobody"}}})
	msgs, _ := b.BrowseQueue(DLQ.Name, 0, 1)
	if _, err := b.MoveFromDLQ(msgs[0].ID); !errors.Is(err, ErrNoDestination) {
		t.Fatalf("move to a topic nobody subscribes to: %v", err)
	}
	if q, _ := b.Queue(DLQ.Name, 0); q.Pending != 1 {
		t.Fatalf("the dead letter left the DLQ: %+v", q)
	}
	before := b.MemoryUsage()
	in := newInbox()
	sub, err := s.Subscribe(ConsumerOptions{Dest: Destination{Topic, "nobody"}}, in.deliver)
	if err != nil {
		t.Fatal(err)
	}
	if to, err := b.MoveFromDLQ(msgs[0].ID); err != nil || to != (Destination{Topic, "nobody"}) {
		t.Fatalf("move with a subscriber: %v %v", to, err)
	}
	if d := in.next(t, 0); string(d.Message.Body) != "t" {
		t.Fatalf("delivered %q", d.Message.Body)
	}
	sub.Close()
	if u := b.MemoryUsage(); u > before {
		t.Fatalf("memory %d after the move, %d before", u, before)
	}
}
