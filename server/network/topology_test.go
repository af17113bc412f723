package network_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/network"
)

// A ring A->B->C->A with networkTTL 2: demand and messages travel two hops,
// and no message comes around twice.
func TestRingWithTTL(t *testing.T) {
	ttl2 := func(o *network.Options) { o.NetworkTTL = 2 }
	a, b, c := newBroker(t, "A"), newBroker(t, "B"), newBroker(t, "C")
	a.start(t, nc(staticTo(b), ttl2))
	b.start(t, nc(staticTo(c), ttl2))
	c.start(t, nc(staticTo(a), ttl2))
	waitBridge(t, a, "B")
	waitBridge(t, b, "C")
	waitBridge(t, c, "A")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ca, cb, cc := dial(t, a), dial(t, b), dial(t, c)

	q, tp := newTally(), newTally()
	dq := consume(ctx, t, cc, "queue://far", "C", q, 0)
	d1 := consume(ctx, t, ca, "topic://all", "A", tp, 0)
	d2 := consume(ctx, t, cb, "topic://all", "B", tp, 0)
	d3 := consume(ctx, t, cc, "topic://all", "C", tp, 0)
	// C's queue demand reaches A through B (two hops).
	testutil.Eventually(t, 10*time.Second, func() bool { return hasDemand(a, "queue://far") }, "C's demand reached A")
	testutil.Eventually(t, 10*time.Second, func() bool { return hasDemand(b, "topic://all") && hasDemand(a, "topic://all") }, "topic demand spread")
	sendN(t, ca, "queue://far", 0, 100, client.Persistent())
	sendN(t, ca, "topic://all", 0, 40)
	testutil.Eventually(t, 20*time.Second, func() bool {
		return q.distinct() == 100 && tp.count("A") >= 40 && tp.count("B") >= 40 && tp.count("C") >= 40
	}, "arrived: queue %d, topic A %d B %d C %d", q.distinct(), tp.count("A"), tp.count("B"), tp.count("C"))
	quiet(t, a, b, c)
	cancel()
	for _, d := range []<-chan struct{}{dq, d1, d2, d3} {
		<-d
	}
	q.check(t, 100)
	for _, who := range []string{"A", "B", "C"} {
		if n := tp.count(who); n != 40 {
			t.Errorf("topic subscriber on %s got %d, want 40", who, n)
		}
	}
}

// With networkTTL 1 (the default), demand does not travel two hops.
func TestDemandStopsAtConsumerTTL(t *testing.T) {
	a, b, c := newBroker(t, "A"), newBroker(t, "B"), newBroker(t, "C")
	c.start(t)
	b.start(t, nc(staticTo(c)))
	a.start(t, nc(staticTo(b)))
	waitBridge(t, a, "B")
	waitBridge(t, b, "C")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tl := newTally()
	d := consume(ctx, t, dial(t, c), "queue://far", "C", tl, 0)
	testutil.Eventually(t, 10*time.Second, func() bool { return hasDemand(b, "queue://far") }, "C's demand reached B")
	// A ignores B's network consumer (it stands for C, one hop too far); a
	// local consumer on B is followed at once.
	tb := newTally()
	d2 := consume(ctx, t, dial(t, b), "queue://near", "B", tb, 0)
	testutil.Eventually(t, 10*time.Second, func() bool { return hasDemand(a, "queue://near") }, "B's own demand reached A")
	if hasDemand(a, "queue://far") {
		t.Error("demand travelled two hops with consumerTTL 1")
	}
	cancel()
	<-d
	<-d2
}

// conduitSubscriptions=false: one network consumer per remote consumer.
func TestConduitOff(t *testing.T) {
	b := newBroker(t, "B").start(t)
	a := newBroker(t, "A").start(t, nc(staticTo(b), func(o *network.Options) { o.ConduitSubscriptions = false }))
	waitBridge(t, a, "B")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cb := dial(t, b)
	tl := newTally()
	d1 := consume(ctx, t, cb, "queue://split", "b1", tl, 0)
	d2 := consume(ctx, t, cb, "queue://split", "b2", tl, 0)
	testutil.Eventually(t, 10*time.Second, func() bool { return consumers(a, "queue://split") == 2 }, "two network consumers on A (have %d)", consumers(a, "queue://split"))
	sendN(t, dial(t, a), "queue://split", 0, 100, client.Persistent())
	testutil.Eventually(t, 20*time.Second, func() bool { return tl.distinct() == 100 }, "100 arrive")
	cancel()
	<-d1
	<-d2
	tl.check(t, 100)
}

func consumers(b *testBroker, dest string) int {
	n := 0
	for _, st := range b.srv.Broker().Stats() {
		if st.Destination == dest {
			n += st.Consumers
		}
	}
	return n
}

// replayWhenNoConsumers: a message that went A->B comes back to A when its
// consumer moved there and B has none (networkTTL 2 both ways).
func TestReplayWhenNoConsumers(t *testing.T) {
	replay := func(o *network.Options) { o.NetworkTTL = 2; o.ReplayWhenNoConsumers = true }
	a, b := newBroker(t, "A"), newBroker(t, "B")
	a.start(t, nc(staticTo(b), replay))
	b.start(t, nc(staticTo(a), replay))
	waitBridge(t, a, "B")
	waitBridge(t, b, "A")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ca, cb := dial(t, a), dial(t, b)

	// Park 50 messages on B: produced on A while B has a consumer that
	// takes them all into its prefetch and leaves without acking any.
	holder, err := cb.Subscribe(ctx, "queue://moving", client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return hasDemand(a, "queue://moving") }, "A follows B's demand")
	sendN(t, ca, "queue://moving", 0, 50, client.Persistent())
	testutil.Eventually(t, 10*time.Second, func() bool { return inFlight(b, "queue://moving") == 50 }, "50 held on B (have %d)", inFlight(b, "queue://moving"))
	if err := holder.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return pending(b, "queue://moving") == 50 }, "50 wait on B (have %d)", pending(b, "queue://moving"))

	// The consumer is now on A only: B replays the 50 to A.
	rest := newTally()
	dA := consume(ctx, t, ca, "queue://moving", "A", rest, 0)
	testutil.Eventually(t, 20*time.Second, func() bool { return rest.distinct() == 50 }, "50 replayed to A (have %d)", rest.distinct())
	quiet(t, a, b)
	cancel()
	<-dA
	rest.check(t, 50)
}

func inFlight(b *testBroker, dest string) int {
	n := 0
	for _, st := range b.srv.Broker().Stats() {
		if st.Destination == dest {
			n += st.InFlight
		}
	}
	return n
}

func pending(b *testBroker, dest string) int {
	n := 0
	for _, st := range b.srv.Broker().Stats() {
		if st.Destination == dest {
			n += st.Pending
		}
	}
	return n
}

// A broker whose memory limit is reached by messages that only the bridge
// can take away still forwards them (directly, without an outbox copy,
// which would need memory it has not got) instead of waiting forever.
// Non-persistent: persistent messages beyond the memory window wait on
// disk and do not fill memory.
func TestMemoryLimitReached(t *testing.T) {
	b := newBroker(t, "B").start(t)
	a := newBroker(t, "A")
	a.memLimit = 32 << 10
	a.start(t, nc(staticTo(b)))
	waitBridge(t, a, "B")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ca := dial(t, a)

	// Fill A's memory: the producer ends up waiting (flow control).
	const total = 100
	body := make([]byte, 1024)
	sent := make(chan error, 1)
	go func() {
		for i := range total {
			if err := ca.Send(ctx, "queue://heavy", append([]byte(strconv.Itoa(i)+"|"), body...)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	testutil.Eventually(t, 10*time.Second, func() bool { return a.srv.Broker().MemoryUsage() >= 32<<10 }, "A's memory is full")

	tl := newTally()
	cb := dial(t, b)
	sub, err := cb.Subscribe(ctx, "queue://heavy", client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	for range total {
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("after %d: %v", tl.distinct(), err)
		}
		if err := m.Ack(ctx); err != nil {
			t.Fatal(err)
		}
		id, _, _ := strings.Cut(string(m.Body()), "|")
		tl.add("B", id)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	quiet(t, a, b)
	tl.check(t, total)
}

// staticBridge with staticallyIncludedDestinations: the static queue is
// forwarded with no consumer anywhere; remote demand is not followed.
func TestStaticBridge(t *testing.T) {
	b := newBroker(t, "B").start(t)
	a := newBroker(t, "A").start(t, nc(staticTo(b), func(o *network.Options) {
		o.StaticBridge = true
		o.StaticallyIncludedDestinations = []string{"queue://audit"}
	}))
	waitBridge(t, a, "B")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cb := dial(t, b)
	tl := newTally()
	d := consume(ctx, t, cb, "queue://orders", "B", tl, 0) // demand a static bridge ignores
	ca := dial(t, a)
	sendN(t, ca, "queue://orders", 0, 5, client.Persistent())
	sendN(t, ca, "queue://audit", 0, 20, client.Persistent())
	testutil.Eventually(t, 10*time.Second, func() bool { return pending(b, "queue://audit") == 20 }, "the static queue reached B (%d)", pending(b, "queue://audit"))
	if n := pending(a, "queue://orders"); n != 5 {
		t.Errorf("queue://orders: %d pending on A, want all 5 (a static bridge follows no demand)", n)
	}
	cancel()
	<-d
}
