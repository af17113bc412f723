package network_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server"
	"github.com/tethermq/tether/server/network"
)

// A queue's messages move to the broker that has its consumer; a topic's
// subscribers on the remote get one copy each.
func TestForwardOnDemand(t *testing.T) {
	b := newBroker(t, "B").start(t)
	a := newBroker(t, "A").start(t, nc(staticTo(b)))
	waitBridge(t, a, "B")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cb, ca := dial(t, b), dial(t, a)
	tl := newTally()
	done := consume(ctx, t, cb, "queue://orders", "B", tl, 0)
	sendN(t, ca, "queue://orders", 0, 200, client.Persistent())
	sendN(t, ca, "queue://orders", 200, 300)
	testutil.Eventually(t, 20*time.Second, func() bool { return tl.distinct() == 300 }, "300 messages at B (have %d)", tl.distinct())

	// Topics: two subscribers on B each get every message once.
	tt := newTally()
	d1 := consume(ctx, t, cb, "topic://prices", "s1", tt, 0)
	d2 := consume(ctx, t, cb, "topic://prices", "s2", tt, 0)
	testutil.Eventually(t, 10*time.Second, func() bool { return hasDemand(a, "topic://prices") }, "A sees B's topic demand")
	sendN(t, ca, "topic://prices", 0, 50)
	testutil.Eventually(t, 10*time.Second, func() bool { return tt.count("s1") == 50 && tt.count("s2") == 50 }, "both subscribers got 50 (s1=%d s2=%d)", tt.count("s1"), tt.count("s2"))
	cancel()
	<-done
	<-d1
	<-d2
	tl.check(t, 300)
	for i, n := range tt.seen {
		if n != 2 {
			t.Errorf("topic message %s delivered %d times, want 2 (once per subscriber)", i, n)
		}
	}
}

// hasDemand reports whether b has a network consumer on dest.
func hasDemand(b *testBroker, dest string) bool {
	for _, st := range b.srv.Broker().Stats() {
		if st.Destination == dest && st.Consumers > 0 {
			return true
		}
	}
	return false
}

var _ = network.Defaults

// Both directions with one connector on each side: messages go where the
// consumers are and never come back.
func TestBothWays(t *testing.T) {
	testBothWays(t, false)
}

// One duplex connector carries both directions.
func TestDuplex(t *testing.T) {
	testBothWays(t, true)
}

func testBothWays(t *testing.T, duplex bool) {
	a, b := newBroker(t, "A"), newBroker(t, "B")
	if duplex {
		b.start(t)
		a.start(t, nc(staticTo(b), func(o *network.Options) { o.Duplex = true }))
	} else {
		a.start(t, nc(staticTo(b)))
		b.start(t, nc(staticTo(a)))
		waitBridge(t, b, "A")
	}
	waitBridge(t, a, "B")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ca, cb := dial(t, a), dial(t, b)

	// A queue consumed only on B, produced on A; and the reverse.
	toB, toA := newTally(), newTally()
	dB := consume(ctx, t, cb, "queue://toB", "B", toB, 0)
	dA := consume(ctx, t, ca, "queue://toA", "A", toA, 0)
	testutil.Eventually(t, 10*time.Second, func() bool { return hasDemand(a, "queue://toB") && hasDemand(b, "queue://toA") }, "demand seen on both sides")
	sendN(t, ca, "queue://toB", 0, 100, client.Persistent())
	sendN(t, cb, "queue://toA", 0, 100, client.Persistent())
	testutil.Eventually(t, 20*time.Second, func() bool { return toB.distinct() == 100 && toA.distinct() == 100 },
		"all arrive (toB %d, toA %d)", toB.distinct(), toA.distinct())

	// A topic with subscribers on both sides, published on both sides:
	// every subscriber gets every message once.
	tp := newTally()
	sA := consume(ctx, t, ca, "topic://news", "A", tp, 0)
	sB := consume(ctx, t, cb, "topic://news", "B", tp, 0)
	testutil.Eventually(t, 10*time.Second, func() bool { return topicDemandBothWays(a, b, "topic://news", 2) }, "topic demand seen on both sides")
	sendN(t, ca, "topic://news", 0, 30)
	sendN(t, cb, "topic://news", 30, 60)
	testutil.Eventually(t, 20*time.Second, func() bool { return tp.count("A") >= 60 && tp.count("B") >= 60 },
		"every subscriber got 60 (A %d, B %d)", tp.count("A"), tp.count("B"))
	// Nothing is left anywhere that could still arrive (a copy on its way
	// back would show as pending or in flight), so the counts are final.
	quiet(t, a, b)
	cancel()
	for _, d := range []<-chan struct{}{dA, dB, sA, sB} {
		<-d
	}
	toA.check(t, 100)
	toB.check(t, 100)
	if tp.count("A") != 60 || tp.count("B") != 60 {
		t.Errorf("topic copies: A %d, B %d, want 60 each", tp.count("A"), tp.count("B"))
	}
	for body, n := range tp.seen {
		if n != 2 {
			t.Errorf("topic message %s delivered %d times, want 2", body, n)
		}
	}
}

// topicDemandBothWays reports whether both brokers' topic subscriptions
// for dest number at least n (a local subscriber plus the network one).
func topicDemandBothWays(a, b *testBroker, dest string, n int) bool {
	count := func(tb *testBroker) int {
		c := 0
		for _, st := range tb.srv.Broker().Stats() {
			if st.Destination == dest {
				c += st.Consumers
			}
		}
		return c
	}
	return count(a) >= n && count(b) >= n
}

// quiet waits until no application destination of the brokers holds a
// pending or in-flight message, outboxes included.
func quiet(t *testing.T, bs ...*testBroker) {
	t.Helper()
	testutil.Eventually(t, 20*time.Second, func() bool {
		for _, tb := range bs {
			for _, st := range tb.srv.Broker().Stats() {
				if strings.HasPrefix(st.Destination, "topic://ActiveMQ.Advisory.") {
					continue
				}
				if st.Pending > 0 || st.InFlight > 0 {
					return false
				}
			}
		}
		return true
	}, "brokers drained")
}

// A remote that refuses the bridge's connection (here: credentials it does
// not know yet) is asked again after the connector's delays, and the bridge
// forms once the remote accepts it.
func TestRefusedConnectionIsAskedAgain(t *testing.T) {
	b := newBroker(t, "B")
	b.users = []server.User{{Username: "bridge", Password: "old"}}
	b.start(t)
	a := newBroker(t, "A")
	a.logs = &logBuffer{}
	a.start(t, nc(staticTo(b), func(o *network.Options) { o.UserName, o.Password = "bridge", "new" }))
	testutil.Eventually(t, 10*time.Second, func() bool { return a.logs.count("asking again") >= 2 }, "the refused link was not asked again")
	if bi := a.srv.NetworkBridges(); len(bi) != 1 || bi[0].Remote != "" {
		t.Fatalf("bridges with wrong credentials: %+v", bi)
	}
	b.srv.Close()
	b.users = []server.User{{Username: "bridge", Password: "new"}}
	b.start(t)
	waitBridge(t, a, "B")
}
