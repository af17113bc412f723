package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/internal/store"
)

func sendOK(t *testing.T, s *Session, m *Message) {
	t.Helper()
	done := make(chan error, 1)
	s.Send(context.Background(), m, "", func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func queueStats(b *Broker, name string) QueueStats {
	for _, st := range b.Stats() {
		if st.Destination == "queue://"+name && st.Subscription == "" {
			return st
		}
	}
	return QueueStats{}
}

// inbox collects deliveries and acks them from its own goroutine (a
// delivery callback must not call back into the broker).
type inbox struct {
	mu   sync.Mutex
	got  []*Delivery
	wake chan struct{}
}

func newInbox() *inbox { return &inbox{wake: make(chan struct{}, 1)} }

func (in *inbox) deliver(d *Delivery) {
	in.mu.Lock()
	in.got = append(in.got, d)
	in.mu.Unlock()
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// next waits for the next delivery after the n already taken.
func (in *inbox) next(t *testing.T, n int) *Delivery {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		in.mu.Lock()
		if len(in.got) > n {
			d := in.got[n]
			in.mu.Unlock()
			return d
		}
		in.mu.Unlock()
		select {
		case <-in.wake:
		case <-deadline:
			t.Fatalf("no delivery %d within 10 s", n)
		}
	}
}

func ackSync(t *testing.T, c *Consumer, id string) {
	t.Helper()
	done := make(chan error, 1)
	c.Ack(id, "", false, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A persistent backlog many times the memory limit is taken without
// blocking the producer, held on disk, and consumed in order, across a
// broker restart in the middle.
func TestPersistentBacklogPagesThroughSmallMemory(t *testing.T) {
	dir := t.TempDir()
	const limit = 256 << 10
	const n = 6000 // ~6 MiB of 1 KiB bodies: over 20x the limit
	cfg := Config{MemoryLimit: limit}
	b, stop := newTestBroker(t, dir, cfg)
	s, _ := b.NewSession(SessionOptions{})
	body := bytes.Repeat([]byte("p"), 1024)
	var peak int64
	for i := range n {
		m := &Message{Dest: Destination{Queue, "backlog"}, Body: append([]byte(fmt.Sprintf("%05d:", i)), body...), Persistent: true}
		sendOK(t, s, m)
		peak = max(peak, b.MemoryUsage())
	}
	st := queueStats(b, "backlog")
	if st.Pending != n || st.OnDisk < n-pageSize {
		t.Fatalf("pending %d, on disk %d: want %d pending, nearly all on disk", st.Pending, st.OnDisk, n)
	}
	if peak > limit {
		t.Fatalf("memory usage peaked at %d bytes, over the %d limit", peak, limit)
	}

	consume := func(b *Broker, from, to int) {
		t.Helper()
		cs, _ := b.NewSession(SessionOptions{})
		in := newInbox()
		c, err := cs.Subscribe(ConsumerOptions{Dest: Destination{Queue, "backlog"}, AckMode: AckIndividual, Prefetch: 50}, in.deliver)
		if err != nil {
			t.Fatal(err)
		}
		for i := from; i < to; i++ {
			d := in.next(t, i-from)
			if want := fmt.Sprintf("%05d:", i); !bytes.HasPrefix(d.Message.Body, []byte(want)) {
				t.Fatalf("delivery %d is %q, want %s", i, d.Message.Body[:6], want)
			}
			ackSync(t, c, d.Message.ID)
			if u := b.MemoryUsage(); u > limit {
				t.Fatalf("memory usage %d over the %d limit while draining", u, limit)
			}
		}
		cs.Close()
	}
	consume(b, 0, 2500)
	stop()
	b, stop = newTestBroker(t, dir, cfg)
	defer stop()
	if st := queueStats(b, "backlog"); st.Pending != n-2500 {
		t.Fatalf("after restart: %d pending, want %d", st.Pending, n-2500)
	}
	consume(b, 2500, n)
	if st := queueStats(b, "backlog"); st.Pending != 0 || st.InFlight != 0 {
		t.Fatalf("after draining: %+v", st)
	}
}

// Message groups keep their order and their single owner when their
// messages come back from disk.
func TestPagedGroupsKeepOrder(t *testing.T) {
	b, stop := newTestBroker(t, t.TempDir(), Config{MemoryLimit: 128 << 10})
	defer stop()
	s, _ := b.NewSession(SessionOptions{})
	const groups, per = 8, 400
	for i := range per {
		for g := range groups {
			sendOK(t, s, &Message{Dest: Destination{Queue, "g"}, Body: []byte(fmt.Sprintf("%d:%d", g, i)),
				Persistent: true, GroupID: fmt.Sprint("g", g), Priority: 4})
		}
	}
	if st := queueStats(b, "g"); st.OnDisk == 0 {
		t.Fatal("nothing paged out")
	}
	var mu sync.Mutex
	owner := map[string]uint64{}
	last := map[string]int{}
	total := 0
	var failed atomic.Value
	var consumers []*Consumer
	for range 3 {
		cs, _ := b.NewSession(SessionOptions{})
		var c *Consumer
		c, err := cs.Subscribe(ConsumerOptions{Dest: Destination{Queue, "g"}, AckMode: AckAuto, Prefetch: 20}, func(d *Delivery) {
			mu.Lock()
			defer mu.Unlock()
			var g, i int
			fmt.Sscanf(string(d.Message.Body), "%d:%d", &g, &i)
			gid := d.Message.GroupID
			if o, ok := owner[gid]; ok && o != d.Consumer.ID() {
				failed.Store(fmt.Sprintf("group %s moved from consumer %d to %d", gid, o, d.Consumer.ID()))
			}
			owner[gid] = d.Consumer.ID()
			if p, ok := last[gid]; ok && i != p+1 || !ok && i != 0 {
				failed.Store(fmt.Sprintf("group %s: %d after %d", gid, i, p))
			}
			last[gid] = i
			total++
		})
		if err != nil {
			t.Fatal(err)
		}
		consumers = append(consumers, c)
	}
	// Auto-ack: the test acks what the callback saw, outside it.
	acked := map[string]bool{}
	testutil.Eventually(t, 20*time.Second, func() bool {
		for _, c := range consumers {
			c.q.mu.Lock()
			var ids []string
			for e := c.inflight.head; e != nil; e = e.cnext {
				if !acked[e.msg.ID] {
					ids = append(ids, e.msg.ID)
				}
			}
			c.q.mu.Unlock()
			for _, id := range ids {
				acked[id] = true
				c.Ack(id, "", false, nil)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return total == groups*per || failed.Load() != nil
	}, "all grouped messages delivered")
	if f := failed.Load(); f != nil {
		t.Fatal(f)
	}
}

// countingStore counts value reads, to show that recovery reads none of
// the backlog.
type countingStore struct {
	store.Store
	gets atomic.Int64
	scan atomic.Int64
}

func (c *countingStore) Get(k []byte) ([]byte, error) { c.gets.Add(1); return c.Store.Get(k) }
func (c *countingStore) Scan(p []byte, fn func(k, v []byte) error) error {
	return c.Store.Scan(p, func(k, v []byte) error { c.scan.Add(1); return fn(k, v) })
}

func TestRecoveryReadsNoMessageValues(t *testing.T) {
	dir := t.TempDir()
	b, stop := newTestBroker(t, dir, Config{})
	s, _ := b.NewSession(SessionOptions{})
	for i := range 3000 {
		sendOK(t, s, &Message{Dest: Destination{Queue, "r"}, Body: []byte(fmt.Sprint(i)), Persistent: true})
	}
	stop()
	st, err := store.OpenJournal(dir, store.JournalOptions{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs := &countingStore{Store: st}
	b, err = New(Config{}, cs)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if g, sc := cs.gets.Load(), cs.scan.Load(); g > 1 || sc > 0 {
		t.Fatalf("recovery read %d values and scanned %d: it should list keys only", g, sc)
	}
	if st := queueStats(b, "r"); st.Pending != 3000 || st.OnDisk != 3000 {
		t.Fatalf("recovered %+v", st)
	}
}

// usageStore reports whatever usage the test sets.
type usageStore struct {
	store.Store
	mu sync.Mutex
	u  store.Usage
}

func (u *usageStore) Usage() store.Usage { u.mu.Lock(); defer u.mu.Unlock(); return u.u }
func (u *usageStore) set(v store.Usage)  { u.mu.Lock(); u.u = v; u.mu.Unlock() }

// At storeUsage, persistent sends wait, fail after
// SendFailIfNoSpaceAfterTimeout, and resume when space comes back; a full
// disk refuses them at once; consumers are served throughout.
func TestStoreLimitBlocksThenFailsPersistentSends(t *testing.T) {
	st, err := store.OpenJournal(t.TempDir(), store.JournalOptions{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	us := &usageStore{Store: st}
	b, err := New(Config{StoreLimit: 100 << 20, SendFailIfNoSpaceAfterTimeout: 300 * time.Millisecond}, us)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, _ := b.NewSession(SessionOptions{})
	sendOK(t, s, &Message{Dest: Destination{Queue, "l"}, Body: []byte("before"), Persistent: true})

	us.set(store.Usage{DiskBytes: 100 << 20})
	testutil.Eventually(t, 2*time.Second, func() bool { return b.StoreUsage().DiskBytes == 100<<20 }, "usage polled")
	done := make(chan error, 1)
	start := time.Now()
	s.Send(context.Background(), &Message{Dest: Destination{Queue, "l"}, Body: []byte("over"), Persistent: true}, "", func(err error) { done <- err })
	err = <-done
	if !errors.Is(err, ErrStoreFull) || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("send at the limit: %v after %v; want ErrStoreFull after the timeout", err, time.Since(start))
	}
	t.Logf("refusal: %v", err)
	// Non-persistent messages are not the store's business.
	sendOK(t, s, &Message{Dest: Destination{Queue, "l"}, Body: []byte("np")})

	// A waiting send completes once space is freed.
	go s.Send(context.Background(), &Message{Dest: Destination{Queue, "l"}, Body: []byte("waits"), Persistent: true}, "", func(err error) { done <- err })
	select {
	case err := <-done:
		t.Fatalf("send at the limit did not wait: %v", err)
	case <-time.After(150 * time.Millisecond): // it waits (the failure case is the timeout above)
	}
	us.set(store.Usage{DiskBytes: 10 << 20})
	if err := <-done; err != nil {
		t.Fatalf("send after space freed: %v", err)
	}

	if waiting, waited, refused := b.StoreFlowControl(); waiting != 0 || waited != 2 || refused != 1 {
		t.Fatalf("store flow control: %d waiting, %d waited, %d refused; want 0, 2, 1", waiting, waited, refused)
	}
	us.set(store.Usage{DiskBytes: 10 << 20, NoSpace: true})
	testutil.Eventually(t, 2*time.Second, func() bool { return b.StoreUsage().NoSpace }, "no space polled")
	s.Send(context.Background(), &Message{Dest: Destination{Queue, "l"}, Body: []byte("full"), Persistent: true}, "", func(err error) { done <- err })
	if err := <-done; !errors.Is(err, ErrStoreFull) {
		t.Fatalf("send on a full disk: %v", err)
	}
	// Consumers still get and ack what is stored.
	cs, _ := b.NewSession(SessionOptions{})
	in := newInbox()
	c, err := cs.Subscribe(ConsumerOptions{Dest: Destination{Queue, "l"}, AckMode: AckIndividual}, in.deliver)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"before", "np", "waits"} {
		d := in.next(t, i)
		if string(d.Message.Body) != want {
			t.Fatalf("got %q, want %q", d.Message.Body, want)
		}
		ackSync(t, c, d.Message.ID)
	}
}
