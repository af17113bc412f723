package broker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/internal/store"
)

func TestCodecRoundTrip(t *testing.T) {
	m := &Message{ID: "ID:b-1-2", Dest: Destination{Topic, "a.b"}, Body: []byte("body\x00bytes"), Persistent: true,
		Priority: 7, Expires: 1234, Timestamp: 99, CorrelationID: "c", ReplyTo: "/queue/r", Type: "t",
		ContentType: "text/plain", GroupID: "g", GroupSeq: -1, DupID: "d", ProducerConn: "S1",
		Headers: []Header{{"x", "1"}, {"x", "2"}, {"", ""}}, BrokerPath: []string{"b1", "b2"}, seq: 42}
	got, err := decodeMessage(encodeMessage(m))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
	}
	enc := encodeMessage(m)
	for i := range len(enc) - len(m.Body) {
		if _, err := decodeMessage(enc[:i]); err == nil {
			t.Fatalf("truncated at %d decoded without error", i)
		}
	}
}

func TestTopicMatches(t *testing.T) {
	cases := []struct {
		p, n string
		want bool
	}{
		{"a.b", "a.b", true}, {"a.b", "a.c", false}, {"a.*", "a.b", true}, {"a.*", "a.b.c", false},
		{"a.>", "a.b.c", true}, {"a.>", "a", true}, {"*.b", "a.b", true}, {"*", "a.b", false},
		{">", "anything.at.all", true}, {"a.*.c", "a.b.c", true}, {"a.*.c", "a.b.d", false},
	}
	for _, c := range cases {
		if got := topicMatches(c.p, c.n); got != c.want {
			t.Errorf("topicMatches(%q, %q) = %v", c.p, c.n, got)
		}
	}
}

func TestDupWindowEvictsOldestAndRestores(t *testing.T) {
	w := newDupWindow("queue://q", 3)
	var evicted []string
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		_, ev := w.add(id, true)
		if ev != nil {
			_, eid, _ := parseDupKey(ev)
			evicted = append(evicted, eid)
		}
	}
	if fmt.Sprint(evicted) != "[a b]" || w.contains("a") || !w.contains("e") {
		t.Fatalf("evicted %v", evicted)
	}
	w2 := newDupWindow("queue://q", 2)
	excess := w2.restore([]dupSlot{{"x", 3}, {"y", 1}, {"z", 2}})
	if len(excess) != 1 || w2.contains("y") || !w2.contains("x") || !w2.contains("z") {
		t.Fatalf("restore kept the wrong ids (excess %d)", len(excess))
	}
}

func TestMemoryLimiterWaitsAndWakes(t *testing.T) {
	l := newMemoryLimiter(100)
	if err := l.acquire(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- l.acquire(context.Background(), 10) }()
	select {
	case <-got:
		t.Fatal("acquire over the limit did not wait")
	case <-time.After(20 * time.Millisecond):
	}
	l.release(50)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.charge(100)
	go func() { got <- l.acquire(ctx, 1) }()
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled acquire = %v", err)
	}
}

func newTestBroker(t *testing.T, dir string, cfg Config) (*Broker, func()) {
	t.Helper()
	st, err := store.OpenJournal(dir, store.JournalOptions{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	return b, func() { b.Close(); st.Close() }
}

// Pipelined persistent sends from one session complete and are delivered
// in order even though they share fsyncs with other sessions.
func TestPipelinedSendsKeepOrder(t *testing.T) {
	b, stop := newTestBroker(t, t.TempDir(), Config{})
	defer stop()
	var mu sync.Mutex
	var got []string
	cs, _ := b.NewSession(SessionOptions{})
	_, err := cs.Subscribe(ConsumerOptions{Dest: Destination{Queue, "o"}, AckMode: AckAuto, Prefetch: 100000}, func(d *Delivery) {
		mu.Lock()
		got = append(got, string(d.Message.Body))
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for p := range 4 {
		s, _ := b.NewSession(SessionOptions{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			var done sync.WaitGroup
			for i := range 500 {
				done.Add(1)
				m := &Message{Dest: Destination{Queue, "o"}, Body: []byte(fmt.Sprintf("%d-%04d", p, i)), Persistent: i%2 == 0, Priority: 4}
				s.Send(context.Background(), m, "", func(err error) {
					if err != nil {
						t.Error(err)
					}
					done.Done()
				})
			}
			done.Wait()
		}()
	}
	wg.Wait()
	testutil.Eventually(t, 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2000 }, "all delivered")
	last := map[byte]string{}
	for _, g := range got {
		if g <= last[g[0]] {
			t.Fatalf("out of order: %s after %s", g, last[g[0]])
		}
		last[g[0]] = g
	}
}

// A send with a DupID seen before is confirmed and dropped; the window
// survives a restart.
func TestDuplicateIDsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	b, stop := newTestBroker(t, dir, Config{DupWindow: 10})
	s, _ := b.NewSession(SessionOptions{})
	send := func(s *Session, id string) {
		done := make(chan error, 1)
		s.Send(context.Background(), &Message{Dest: Destination{Queue, "d"}, Body: []byte(id), Persistent: true, DupID: id}, "", func(err error) { done <- err })
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for i := range 12 {
		send(s, fmt.Sprint(i))
	}
	send(s, "11")
	stop()
	b, stop = newTestBroker(t, dir, Config{DupWindow: 10})
	defer stop()
	s, _ = b.NewSession(SessionOptions{})
	send(s, "11") // still in the window: dropped
	send(s, "0")  // evicted long ago: stored again
	var stats QueueStats
	for _, st := range b.Stats() {
		if st.Destination == "queue://d" {
			stats = st
		}
	}
	if stats.Pending != 13 {
		t.Fatalf("pending %d, want 12 originals + the evicted id re-sent", stats.Pending)
	}
}

func TestConsumerAdvisories(t *testing.T) {
	b, stop := newTestBroker(t, t.TempDir(), Config{Name: "adv"})
	defer stop()
	s, _ := b.NewSession(SessionOptions{})
	existing, err := s.Subscribe(ConsumerOptions{Dest: Destination{Queue, "orders"}, Priority: 3}, func(*Delivery) {})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []*Message
	_, err = s.Subscribe(ConsumerOptions{Dest: Destination{Topic, AdvisoryConsumerPfx + ">"}}, func(d *Delivery) {
		mu.Lock()
		got = append(got, d.Message)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	later, _ := s.Subscribe(ConsumerOptions{Dest: Destination{Queue, "orders"}, NetworkPath: []string{"b2"}}, func(*Delivery) {})
	later.Close()
	existing.Close()
	testutil.Eventually(t, 2*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 4 }, "4 advisories")
	want := []string{"add/1/", "add/2/b2", "remove/1/b2", "remove/0/"}
	for i, m := range got {
		typ, _ := m.Header("advisoryType")
		n, _ := m.Header("consumerCount")
		path, _ := m.Header("networkBrokerPath")
		if g := typ + "/" + n + "/" + path; g != want[i] || m.Dest.Name != "ActiveMQ.Advisory.Consumer.Queue.orders" {
			t.Errorf("advisory %d: %s on %s, want %s", i, g, m.Dest.Name, want[i])
		}
	}
}
