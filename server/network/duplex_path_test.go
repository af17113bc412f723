package network_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/network"
)

// A duplex bridge's pull subscriptions on the remote are network consumers
// (their tether-network-path SUBSCRIBE header): the remote's advisories
// say so, and the bridge never takes them for application demand there,
// which would forward this broker's messages out to be pulled back.
func TestDuplexPullIsANetworkConsumer(t *testing.T) {
	b := newBroker(t, "B").start(t)
	a := newBroker(t, "A").start(t, nc(staticTo(b), func(o *network.Options) { o.Duplex = true }))
	waitBridge(t, a, "B")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ca, cb := dial(t, a), dial(t, b)
	consume(ctx, t, ca, "queue://pulled", "A", newTally(), 0)

	paths := func(tb *testBroker, queue string) string {
		q, err := tb.srv.Broker().Queue(queue, 0)
		if err != nil {
			return ""
		}
		var out []string
		for _, c := range q.ConsumerList {
			out = append(out, fmt.Sprint(c.NetworkPath))
		}
		return fmt.Sprint(out)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return paths(b, "pulled") == "[[A]]" },
		"B's consumer for the pull is the network consumer of A (consumers: %s)", paths(b, "pulled"))

	// B's advisories reach A in order: once A acted on a later one, it has
	// seen the pull subscription's.
	consume(ctx, t, cb, "queue://marker", "B", newTally(), 0)
	testutil.Eventually(t, 10*time.Second, func() bool { return paths(a, "marker") == "[[B]]" },
		"A forwards to B's marker consumer (consumers: %s)", paths(a, "marker"))
	if got := paths(a, "pulled"); got != "[[]]" {
		t.Fatalf("A's consumers of the pulled queue: %s, want only the application's", got)
	}
}
