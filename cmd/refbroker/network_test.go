package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/proctest"
	"github.com/tethermq/tether/internal/testutil"
)

// Network-of-brokers process tests: real refbrokers bridged by network
// connectors, killed with SIGKILL; every message must arrive exactly once.

// node is one refbroker process of a network test.
type node struct {
	name, dir   string
	port, admin int
	args        []string // extra flags
	p           *proctest.Proc
}

func newNode(t *testing.T, name, dir string, args ...string) *node {
	if dir == "" {
		dir = t.TempDir()
	}
	return &node{name: name, dir: dir, port: testutil.FreePort(t), admin: testutil.FreePort(t), args: args}
}

func (n *node) uri() string { return fmt.Sprintf("tcp://127.0.0.1:%d", n.port) }

// start launches the process (again, after a kill) and, unless it is a
// slave, waits until it serves.
func (n *node) start(t *testing.T, master bool) *node {
	t.Helper()
	args := []string{"--broker-name", n.name, "--data-directory", n.dir, "--admin", fmt.Sprintf("127.0.0.1:%d", n.admin)}
	if !slices.Contains(n.args, "--config") {
		args = append(args, "--connector", "native="+n.uri()) // a config file names its own
	}
	args = append(args, n.args...)
	n.p = proctest.Start(t, n.name, args...)
	if master {
		n.p.WaitLog("refbroker "+n.name+" started", 20*time.Second)
	}
	return n
}

// bridges counts the bridges to remote that n has established so far.
func (n *node) bridges(remote string) int {
	return strings.Count(n.p.Log(), "local="+n.name+" remote="+remote+" ")
}

func (n *node) waitBridges(t *testing.T, remote string, count int) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, func() bool { return n.bridges(remote) >= count },
		"%s: bridge #%d to %s", n.name, count, remote)
}

func staticURI(ns ...*node) string {
	var uris []string
	for _, n := range ns {
		uris = append(uris, n.uri())
	}
	return "static:(" + strings.Join(uris, ",") + ")"
}

func failoverURI(ns ...*node) string {
	var uris []string
	for _, n := range ns {
		uris = append(uris, n.uri())
	}
	return "failover:(" + strings.Join(uris, ",") + ")?randomize=false&initialReconnectDelay=50&maxReconnectDelay=500"
}

type destStats struct {
	Destination string `json:"destination"`
	Pending     int    `json:"pending"`
	InFlight    int    `json:"inFlight"`
}

// drained reports whether n's application destinations (outboxes included)
// hold nothing pending or in flight.
func (n *node) drained() bool {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/destinations", n.admin))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	var stats []destStats
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		return false
	}
	for _, s := range stats {
		if strings.HasPrefix(s.Destination, "topic://ActiveMQ.Advisory.") {
			continue
		}
		if s.Pending > 0 || s.InFlight > 0 {
			return false
		}
	}
	return true
}

// waitDrained proves that no copy of any message is left anywhere that
// could still be delivered: then the received counts are final.
func waitDrained(t *testing.T, ns ...*node) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, func() bool {
		for _, n := range ns {
			if !n.drained() {
				return false
			}
		}
		return true
	}, "every broker drained")
}

func dialURI(t *testing.T, uri string) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, uri)
	if err != nil {
		t.Fatalf("dial %s: %v", uri, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func produce(t *testing.T, c *client.Conn, dest string, from, to int, opts ...client.SendOption) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := from; i < to; i++ {
		if err := c.Send(ctx, dest, []byte(strconv.Itoa(i)), opts...); err != nil {
			t.Fatalf("send %d to %s: %v", i, dest, err)
		}
	}
}

// received counts deliveries per message body and per consumer.
type received struct {
	mu     sync.Mutex
	bodies map[string]int
	by     map[string]int
}

func newReceived() *received { return &received{bodies: map[string]int{}, by: map[string]int{}} }

func (r *received) add(who, body string) {
	r.mu.Lock()
	r.bodies[body]++
	r.by[who]++
	r.mu.Unlock()
}

func (r *received) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func (r *received) of(who string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.by[who]
}

// exactlyOnce fails for every body among from..to-1 not received exactly
// once, and for bodies outside that range.
func (r *received) exactlyOnce(t *testing.T, from, to int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := from; i < to; i++ {
		if n := r.bodies[strconv.Itoa(i)]; n != 1 {
			t.Errorf("message %d received %d times", i, n)
		}
	}
	if len(r.bodies) != to-from {
		t.Errorf("%d distinct messages received, want %d", len(r.bodies), to-from)
	}
}

// consumer receives from dest until stop is called or limit messages
// (0: none), acking each one (the ack is confirmed before it counts).
type consumer struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startConsumer(t *testing.T, c *client.Conn, dest, who string, r *received, limit int, opts ...client.SubOption) *consumer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := c.Subscribe(ctx, dest, append([]client.SubOption{client.AckIndividual}, opts...)...)
	if err != nil {
		cancel()
		t.Fatalf("%s: subscribe %s: %v", who, dest, err)
	}
	cs := &consumer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(cs.done)
		defer func() {
			uctx, ucancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer ucancel()
			_ = sub.Unsubscribe(uctx)
		}()
		for n := 0; limit == 0 || n < limit; n++ {
			m, err := sub.Next(ctx)
			if err != nil {
				return
			}
			if err := m.Ack(ctx); err != nil {
				return
			}
			r.add(who, string(m.Body()))
		}
	}()
	t.Cleanup(cs.stop)
	return cs
}

// stop ends the consumer and waits for it (its unacked messages go back).
func (cs *consumer) stop() {
	cs.cancel()
	<-cs.done
}

// TestNetworkStaticBothWays: A<->B, duplex=false on both sides.
func TestNetworkStaticBothWays(t *testing.T) {
	a, b := newNode(t, "A", ""), newNode(t, "B", "")
	a.args = append(a.args, "--network-connector", staticURI(b))
	b.args = append(b.args, "--network-connector", staticURI(a))
	a.start(t, true)
	b.start(t, true)
	a.waitBridges(t, "B", 1)
	b.waitBridges(t, "A", 1)
	exchange(t, a, b)
}

// TestNetworkDuplexOneSide: A->B with duplex=true on A only.
func TestNetworkDuplexOneSide(t *testing.T) {
	a, b := newNode(t, "A", ""), newNode(t, "B", "")
	b.start(t, true)
	a.args = append(a.args, "--network-connector", staticURI(b)+"?duplex=true")
	a.start(t, true)
	a.waitBridges(t, "B", 1)
	exchange(t, a, b)
}

// exchange produces on each broker for a consumer on the other, queue and
// topic, and checks that everything arrives once.
func exchange(t *testing.T, a, b *node) {
	t.Helper()
	ca, cb := dialURI(t, a.uri()), dialURI(t, b.uri())
	toA, toB, news := newReceived(), newReceived(), newReceived()
	startConsumer(t, cb, "queue://toB", "B", toB, 0)
	startConsumer(t, ca, "queue://toA", "A", toA, 0)
	startConsumer(t, ca, "topic://news", "A", news, 0)
	startConsumer(t, cb, "topic://news", "B", news, 0)
	// Demand travels by advisory: wait until each side forwards it.
	testutil.Eventually(t, 10*time.Second, func() bool { return hasConsumers(t, a, "topic://news", 2) && hasConsumers(t, b, "topic://news", 2) }, "topic demand on both sides")
	produce(t, ca, "queue://toB", 0, 100, client.Persistent())
	produce(t, cb, "queue://toA", 0, 100, client.Persistent())
	produce(t, ca, "topic://news", 0, 25)
	produce(t, cb, "topic://news", 25, 50)
	testutil.Eventually(t, 30*time.Second, func() bool {
		return toA.distinct() == 100 && toB.distinct() == 100 && news.of("A") >= 50 && news.of("B") >= 50
	}, "all arrive (toA %d toB %d news A %d B %d)", toA.distinct(), toB.distinct(), news.of("A"), news.of("B"))
	waitDrained(t, a, b)
	toA.exactlyOnce(t, 0, 100)
	toB.exactlyOnce(t, 0, 100)
	if news.of("A") != 50 || news.of("B") != 50 {
		t.Errorf("topic: A got %d, B got %d, want 50 each", news.of("A"), news.of("B"))
	}
	for body, n := range news.bodies {
		if n != 2 {
			t.Errorf("topic message %s delivered %d times, want 2 (once per subscriber)", body, n)
		}
	}
}

// hasConsumers reports whether dest has at least n consumers on n's broker
// (application and network ones).
func hasConsumers(t *testing.T, n *node, dest string, want int) bool {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/destinations", n.admin))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var stats []struct {
		Destination string `json:"destination"`
		Consumers   int    `json:"consumers"`
	}
	if json.NewDecoder(resp.Body).Decode(&stats) != nil {
		return false
	}
	got := 0
	for _, s := range stats {
		if s.Destination == dest {
			got += s.Consumers
		}
	}
	return got >= want
}

// enqueued is how many messages dest on n has received so far.
func enqueued(n *node, dest string) int {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/destinations", n.admin))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var stats []struct {
		Destination string `json:"destination"`
		Enqueued    int    `json:"enqueued"`
	}
	if json.NewDecoder(resp.Body).Decode(&stats) != nil {
		return 0
	}
	for _, s := range stats {
		if s.Destination == dest {
			return s.Enqueued
		}
	}
	return 0
}

// TestNetworkThreeBrokers: 2 -> 1, 3 -> 1,2.
func TestNetworkThreeBrokers(t *testing.T) {
	n1 := newNode(t, "n1", "")
	n2 := newNode(t, "n2", "", "--network-connector", staticURI(n1))
	n3 := newNode(t, "n3", "", "--network-connector", staticURI(n1, n2))
	n1.start(t, true)
	n2.start(t, true)
	n3.start(t, true)
	n2.waitBridges(t, "n1", 1)
	n3.waitBridges(t, "n1", 1)
	n3.waitBridges(t, "n2", 1)
	c1, c2, c3 := dialURI(t, n1.uri()), dialURI(t, n2.uri()), dialURI(t, n3.uri())

	// Produced on 3, consumed on 1 and 2 (queue split between them, topic
	// to both); produced on 2, consumed on 1.
	q, r, tp := newReceived(), newReceived(), newReceived()
	startConsumer(t, c1, "queue://Q", "n1", q, 0, client.Prefetch(10))
	startConsumer(t, c2, "queue://Q", "n2", q, 0, client.Prefetch(10))
	startConsumer(t, c1, "queue://R", "n1", r, 0)
	startConsumer(t, c1, "topic://T", "n1", tp, 0)
	startConsumer(t, c2, "topic://T", "n2", tp, 0)
	testutil.Eventually(t, 10*time.Second, func() bool {
		return hasConsumers(t, n3, "queue://Q", 2) && hasConsumers(t, n3, "topic://T", 2) && hasConsumers(t, n2, "queue://R", 1)
	}, "demand reached n3 and n2")
	produce(t, c3, "queue://Q", 0, 200, client.Persistent())
	produce(t, c3, "topic://T", 0, 50)
	produce(t, c2, "queue://R", 0, 100, client.Persistent())
	testutil.Eventually(t, 30*time.Second, func() bool {
		return q.distinct() == 200 && r.distinct() == 100 && tp.of("n1") >= 50 && tp.of("n2") >= 50
	}, "all arrive (Q %d R %d T %d/%d)", q.distinct(), r.distinct(), tp.of("n1"), tp.of("n2"))
	waitDrained(t, n1, n2, n3)
	q.exactlyOnce(t, 0, 200)
	r.exactlyOnce(t, 0, 100)
	if tp.of("n1") != 50 || tp.of("n2") != 50 {
		t.Errorf("topic: n1 got %d, n2 got %d, want 50 each (no copy by two routes)", tp.of("n1"), tp.of("n2"))
	}
	t.Logf("queue Q split: n1 %d, n2 %d", q.of("n1"), q.of("n2"))
}

// TestNetworkMasterSlavePairs is the seed's combination: pairs {a1,a2} and
// {b1,b2}, each pair sharing a store; a1/a2 carry masterslave:(b1,b2)
// duplex. 50 produced on A; 20 consumed on B, 20 on A; SIGKILL A's master;
// the slave takes over and re-forms the bridge; 50 more; consumed on A and
// B: each of the 100 exactly once. Then B's master is killed too and 30
// more cross over to B's new master.
func TestNetworkMasterSlavePairs(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	b1, b2 := newNode(t, "b1", dirB), newNode(t, "b2", dirB)
	b1.start(t, true)
	b2.start(t, false)
	b2.p.WaitLog("slave mode", 20*time.Second)
	link := "masterslave:(" + b1.uri() + "," + b2.uri() + ")?duplex=true&initialReconnectDelay=200"
	a1, a2 := newNode(t, "a1", dirA, "--network-connector", link), newNode(t, "a2", dirA, "--network-connector", link)
	a1.start(t, true)
	a2.start(t, false)
	a2.p.WaitLog("slave mode", 20*time.Second)
	a1.waitBridges(t, "b1", 1)

	pa := dialURI(t, failoverURI(a1, a2))
	ca, cb := dialURI(t, failoverURI(a1, a2)), dialURI(t, failoverURI(b1, b2))
	got := newReceived()

	// 50 on A; B's consumer takes 20 (A forwards on B's demand) ...
	produce(t, pa, "queue://orders", 0, 50, client.Persistent())
	onB := startConsumer(t, cb, "queue://orders", "B", got, 20)
	testutil.Eventually(t, 20*time.Second, func() bool { return got.of("B") == 20 }, "20 consumed on B (have %d)", got.of("B"))
	onB.stop()
	// ... then A's consumer takes 20 (the duplex bridge pulls back what B
	// holds).
	onA := startConsumer(t, ca, "queue://orders", "A", got, 20)
	testutil.Eventually(t, 20*time.Second, func() bool { return got.of("A") == 20 }, "20 consumed on A (have %d)", got.of("A"))
	onA.stop()

	// SIGKILL A's master: the slave takes over and re-forms the bridge.
	killed := time.Now()
	a1.p.Kill()
	a2.p.WaitLog("refbroker a2 started", 20*time.Second)
	a2.waitBridges(t, "b1", 1)
	t.Logf("A's slave serves and re-formed the bridge %v after the SIGKILL", time.Since(killed).Round(time.Millisecond))

	produce(t, pa, "queue://orders", 50, 100, client.Persistent())
	startConsumer(t, ca, "queue://orders", "A", got, 0, client.Prefetch(1))
	startConsumer(t, cb, "queue://orders", "B", got, 0)
	testutil.Eventually(t, 30*time.Second, func() bool { return got.distinct() == 100 }, "all 100 consumed (have %d)", got.distinct())
	waitDrained(t, a2, b1)
	got.exactlyOnce(t, 0, 100)
	t.Logf("consumed on A %d, on B %d", got.of("A"), got.of("B"))

	// B's master dies too: A's bridge moves to b2 (masterslave:).
	killed = time.Now()
	b1.p.Kill()
	b2.p.WaitLog("refbroker b2 started", 20*time.Second)
	a2.waitBridges(t, "b2", 1)
	t.Logf("A's bridge reached B's new master %v after B's master was SIGKILLed", time.Since(killed).Round(time.Millisecond))
	produce(t, pa, "queue://orders", 100, 130, client.Persistent())
	testutil.Eventually(t, 30*time.Second, func() bool { return got.distinct() == 130 }, "all 130 consumed (have %d)", got.distinct())
	waitDrained(t, a2, b2)
	got.exactlyOnce(t, 0, 130)
}

// TestNetworkBridgeBrokenMidStream: the remote is SIGKILLed while messages
// flow to it; they wait on the local broker and flow when it returns, none
// lost, none twice. It also measures how long the bridge takes to re-form.
func TestNetworkBridgeBrokenMidStream(t *testing.T) {
	dirB := t.TempDir()
	b := newNode(t, "B", dirB, "--log-level", "debug").start(t, true)
	a := newNode(t, "A", "", "--network-connector", staticURI(b))
	a.start(t, true)
	a.waitBridges(t, "B", 1)

	pa, cb := dialURI(t, a.uri()), dialURI(t, failoverURI(b))
	got := newReceived()
	startConsumer(t, cb, "queue://stream", "B", got, 0)
	testutil.Eventually(t, 10*time.Second, func() bool { return hasConsumers(t, a, "queue://stream", 1) }, "A sees B's demand")

	const total = 2000
	sent := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(func() {
		cancel()
		<-sent // the producer has stopped
	})
	go func() {
		for i := range total {
			if err := pa.Send(ctx, "queue://stream", []byte(strconv.Itoa(i)), client.Persistent()); err != nil {
				sent <- fmt.Errorf("send %d: %w", i, err)
				return
			}
		}
		sent <- nil
	}()
	testutil.Eventually(t, 20*time.Second, func() bool { return got.distinct() >= 100 }, "the stream flows")
	b.p.Kill()
	t.Logf("remote SIGKILLed after %d of %d messages arrived", got.distinct(), total)
	restarted := time.Now()
	b.start(t, true)
	ready := time.Since(restarted)
	a.waitBridges(t, "B", 2)
	t.Logf("bridge re-formed %v after the remote was restarted (%v of it the remote's own start)", time.Since(restarted).Round(time.Millisecond), ready.Round(time.Millisecond))
	testutil.Eventually(t, 60*time.Second, func() bool { return got.distinct() == total }, "all %d arrive (have %d)", total, got.distinct())
	waitDrained(t, a, b)
	got.exactlyOnce(t, 0, total)
	t.Logf("the restarted remote dropped %d re-sent duplicates", strings.Count(b.p.Log(), "duplicate send dropped"))
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	sent <- nil // for the cleanup
}

// TestNetworkMulticastDiscovery: two brokers find each other on a private
// multicast group on the loopback interface and bridge both ways; a broker
// that goes silent is dropped and found again when it returns.
func TestNetworkMulticastDiscovery(t *testing.T) {
	group := fmt.Sprintf("tether-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	mc := "multicast://default?group=" + group + "&networkInterface=lo"
	config := func(n *node) string {
		path := filepath.Join(t.TempDir(), n.name+".yaml")
		yaml := fmt.Sprintf(`brokerName: %s
dataDirectory: %s
transportConnectors:
  - name: native
    uri: %s
    discoveryUri: %s
networkConnectors:
  - name: discovered
    uri: %s&initialReconnectDelay=200
`, n.name, n.dir, n.uri(), mc, mc)
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	a, b := newNode(t, "A", ""), newNode(t, "B", "")
	a.args = []string{"--config", config(a)}
	b.args = []string{"--config", config(b)}
	a.start(t, true)
	b.start(t, true)
	a.waitBridges(t, "B", 1)
	b.waitBridges(t, "A", 1)

	ca, cb := dialURI(t, a.uri()), dialURI(t, failoverURI(b))
	got := newReceived()
	startConsumer(t, cb, "queue://found", "B", got, 0)
	testutil.Eventually(t, 10*time.Second, func() bool { return hasConsumers(t, a, "queue://found", 1) }, "A sees B's demand")
	produce(t, ca, "queue://found", 0, 50, client.Persistent())
	testutil.Eventually(t, 20*time.Second, func() bool { return got.distinct() == 50 }, "50 arrive over the discovered bridge (have %d)", got.distinct())

	// SIGKILL sends no "dead" datagram: A drops B after 10 silent beats.
	b.p.Kill()
	a.p.WaitLog("discovered broker went silent; dropping its bridge", 20*time.Second)
	b.start(t, true)
	a.waitBridges(t, "B", 2)
	produce(t, ca, "queue://found", 50, 100, client.Persistent())
	testutil.Eventually(t, 30*time.Second, func() bool { return got.distinct() == 100 }, "100 arrive (have %d)", got.distinct())
	waitDrained(t, a, b)
	got.exactlyOnce(t, 0, 100)
}

// TestNetworkConfigErrors: unknown network connector options, in the YAML
// file or on the command line, stop refbroker with status 2 and a message
// naming them.
func TestNetworkConfigErrors(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(cfg, []byte("networkConnectors:\n  - uri: static:(tcp://127.0.0.1:1)\n    duplx: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", cfg}, `unknown network connector option "duplx"`},
		{[]string{"--network-connector", "static:(tcp://127.0.0.1:1)?networkTtl=2"}, `did you mean "networkTTL"`},
		{[]string{"--network-connector", "static:(tcp://127.0.0.1:1)?initialReconectDelay=2"}, "initialReconectDelay"},
		{[]string{"--network-connector", "multicast://default?grup=x"}, "grup"},
	} {
		p := proctest.Start(t, "bad", append([]string{"--data-directory", t.TempDir(), "--admin", "off"}, tc.args...)...)
		<-p.Done()
		if p.ExitCode() != 2 || !strings.Contains(p.Log(), tc.want) {
			t.Errorf("%v: exit %d, log %q; want status 2 and %q", tc.args, p.ExitCode(), p.Log(), tc.want)
		}
	}
}

// TestNetworkLocalKilledMidStream: the forwarding broker itself is
// SIGKILLed while a burst crosses the bridge, so that messages are stored
// on the remote whose local copies are not yet acknowledged. After its
// restart the bridge sends them again and the remote's duplicate detection
// drops them: every message arrives once (ActiveMQ's AMQ-3576, AMQ-4952).
func TestNetworkLocalKilledMidStream(t *testing.T) {
	b := newNode(t, "B", "", "--log-level", "debug").start(t, true)
	a := newNode(t, "A", "", "--network-connector", staticURI(b)+"?initialReconnectDelay=100")
	a.start(t, true)
	a.waitBridges(t, "B", 1)

	// A burst: stored on A first, then released at once by B's demand.
	const total = 5000
	produce(t, dialURI(t, a.uri()), "queue://survive", 0, total, client.Persistent())
	got := newReceived()
	startConsumer(t, dialURI(t, b.uri()), "queue://survive", "B", got, 0)
	testutil.Eventually(t, 20*time.Second, func() bool { return enqueued(b, "queue://survive") >= 1000 }, "the burst reaches B")
	a.p.Kill()
	t.Logf("forwarding broker SIGKILLed after B stored %d of %d", enqueued(b, "queue://survive"), total)
	a.start(t, true) // a new process: its log starts afresh
	a.waitBridges(t, "B", 1)
	testutil.Eventually(t, 60*time.Second, func() bool { return got.distinct() == total }, "all %d arrive (have %d)", total, got.distinct())
	waitDrained(t, a, b)
	got.exactlyOnce(t, 0, total)
	t.Logf("the remote dropped %d re-sent duplicates", strings.Count(b.p.Log(), "duplicate send dropped"))
}

// TestNetworkDuplexPullKilledMidStream: the same for the duplex direction.
// A pulls a burst from B for its consumer and is SIGKILLed meanwhile, so
// that messages are stored on A whose acknowledgement never reached B. B
// delivers them again to the restarted A, which drops them as duplicates.
func TestNetworkDuplexPullKilledMidStream(t *testing.T) {
	b := newNode(t, "B", "").start(t, true)
	a := newNode(t, "A", "", "--log-level", "debug", "--network-connector", staticURI(b)+"?duplex=true&initialReconnectDelay=100")
	a.start(t, true)
	a.waitBridges(t, "B", 1)

	const total = 5000
	produce(t, dialURI(t, b.uri()), "queue://pulled", 0, total, client.Persistent())
	got := newReceived()
	startConsumer(t, dialURI(t, failoverURI(a)), "queue://pulled", "A", got, 0)
	testutil.Eventually(t, 20*time.Second, func() bool { return enqueued(a, "queue://pulled") >= 1000 }, "the burst reaches A")
	a.p.Kill()
	t.Logf("pulling broker SIGKILLed after it stored %d of %d", enqueued(a, "queue://pulled"), total)
	a.start(t, true)
	a.waitBridges(t, "B", 1)
	testutil.Eventually(t, 60*time.Second, func() bool { return got.distinct() == total }, "all %d arrive (have %d)", total, got.distinct())
	waitDrained(t, a, b)
	got.exactlyOnce(t, 0, total)
	t.Logf("the restarted broker dropped %d re-pulled duplicates", strings.Count(a.p.Log(), "duplicate send dropped"))
}
