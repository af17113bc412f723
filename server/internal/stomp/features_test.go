package stomp

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/internal/broker"
)

func send(t testing.TB, c *gostomp.Conn, dest, body string, hdrs ...string) {
	t.Helper()
	opts := []func(*frame.Frame) error{gostomp.SendOpt.Receipt}
	for i := 0; i+1 < len(hdrs); i += 2 {
		opts = append(opts, gostomp.SendOpt.Header(hdrs[i], hdrs[i+1]))
	}
	if err := c.Send(dest, "text/plain", []byte(body), opts...); err != nil {
		t.Fatalf("send %s: %v", body, err)
	}
}

func subscribe(t testing.TB, c *gostomp.Conn, dest string, ack gostomp.AckMode, hdrs ...string) *gostomp.Subscription {
	t.Helper()
	var opts []func(*frame.Frame) error
	for i := 0; i+1 < len(hdrs); i += 2 {
		opts = append(opts, gostomp.SubscribeOpt.Header(hdrs[i], hdrs[i+1]))
	}
	s, err := c.Subscribe(dest, ack, opts...)
	if err != nil {
		t.Fatalf("subscribe %s: %v", dest, err)
	}
	return s
}

func TestCompetingConsumersRoundRobin(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	c1, c2, p := tb.dial(), tb.dial(), tb.dial()
	s1 := subscribe(t, c1, "/queue/rr", gostomp.AckClientIndividual)
	s2 := subscribe(t, c2, "/queue/rr", gostomp.AckClientIndividual)
	waitConsumers(t, tb.b, 2)
	for i := range 10 {
		send(t, p, "/queue/rr", strconv.Itoa(i))
	}
	for range 5 {
		recv(t, s1)
		recv(t, s2)
	}
	noMessage(t, s1, 50*time.Millisecond)
}

func TestPrefetchLimitsInFlight(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	c1, c2, p := tb.dial(), tb.dial(), tb.dial()
	s1 := subscribe(t, c1, "/queue/pf", gostomp.AckClientIndividual, "activemq.prefetchSize", "2")
	for i := range 6 {
		send(t, p, "/queue/pf", strconv.Itoa(i))
	}
	a, b := recv(t, s1), recv(t, s1)
	noMessage(t, s1, 50*time.Millisecond)
	s2 := subscribe(t, c2, "/queue/pf", gostomp.AckClientIndividual)
	for range 4 {
		recv(t, s2)
	}
	_ = c1.Ack(a)
	_ = c1.Ack(b)
}

func TestConsumerPriority(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	lo, hi, p := tb.dial(), tb.dial(), tb.dial()
	sLo := subscribe(t, lo, "/queue/prio", gostomp.AckClientIndividual, "activemq.priority", "1")
	sHi := subscribe(t, hi, "/queue/prio", gostomp.AckClientIndividual, "activemq.priority", "5", "activemq.prefetchSize", "3")
	waitConsumers(t, tb.b, 2)
	for i := range 5 {
		send(t, p, "/queue/prio", strconv.Itoa(i))
	}
	// The high-priority consumer fills its prefetch first; the rest spill over.
	for i := range 3 {
		if m := recv(t, sHi); string(m.Body) != strconv.Itoa(i) {
			t.Fatalf("high got %q", m.Body)
		}
	}
	for i := 3; i < 5; i++ {
		if m := recv(t, sLo); string(m.Body) != strconv.Itoa(i) {
			t.Fatalf("low got %q", m.Body)
		}
	}
}

func TestMessagePriorityOrder(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	c := tb.dial()
	send(t, c, "/queue/mp", "low", "priority", "1")
	send(t, c, "/queue/mp", "mid", "priority", "4")
	send(t, c, "/queue/mp", "high", "priority", "9")
	s := subscribe(t, c, "/queue/mp", gostomp.AckAuto)
	for _, want := range []string{"high", "mid", "low"} {
		m := recv(t, s)
		if string(m.Body) != want {
			t.Fatalf("got %q, want %q", m.Body, want)
		}
		if want == "high" && m.Header.Get("priority") != "9" {
			t.Fatalf("priority header %q", m.Header.Get("priority"))
		}
	}
}

func TestSelectors(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	c := tb.dial()
	sRed := subscribe(t, c, "/queue/sel", gostomp.AckAuto, "selector", "color = 'red' AND size > 3")
	sOther := subscribe(t, c, "/queue/sel", gostomp.AckAuto, "selector", "color IN ('blue','green') OR size BETWEEN 0 AND 1")
	waitConsumers(t, tb.b, 2)
	send(t, c, "/queue/sel", "r5", "color", "red", "size", "5")
	send(t, c, "/queue/sel", "r2", "color", "red", "size", "2") // matches neither: stays queued
	send(t, c, "/queue/sel", "b9", "color", "blue", "size", "9")
	send(t, c, "/queue/sel", "x1", "size", "1")
	if m := recv(t, sRed); string(m.Body) != "r5" {
		t.Fatalf("red got %q", m.Body)
	}
	for _, want := range []string{"b9", "x1"} {
		if m := recv(t, sOther); string(m.Body) != want {
			t.Fatalf("other got %q, want %q", m.Body, want)
		}
	}
	noMessage(t, sRed, 30*time.Millisecond)
	// The unmatched message waits for a consumer whose selector takes it.
	sAll := subscribe(t, c, "/queue/sel", gostomp.AckAuto, "selector", "color LIKE 'r%' AND NOT (size IS NULL)")
	if m := recv(t, sAll); string(m.Body) != "r2" {
		t.Fatalf("late consumer got %q", m.Body)
	}
}

func TestTransactionsCommitAndAbort(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	p, cons := tb.dial(), tb.dial()
	s := subscribe(t, cons, "/queue/tx", gostomp.AckClientIndividual)

	tx := p.Begin()
	for i := range 3 {
		if err := tx.Send("/queue/tx", "text/plain", []byte("c"+strconv.Itoa(i)), gostomp.SendOpt.Header("persistent", "true")); err != nil {
			t.Fatal(err)
		}
	}
	noMessage(t, s, 50*time.Millisecond) // nothing visible before COMMIT
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var got []*gostomp.Message
	for i := range 3 {
		m := recv(t, s)
		if string(m.Body) != "c"+strconv.Itoa(i) {
			t.Fatalf("got %q", m.Body)
		}
		got = append(got, m)
	}
	tx2 := p.Begin()
	_ = tx2.Send("/queue/tx", "text/plain", []byte("aborted"))
	if err := tx2.Abort(); err != nil {
		t.Fatal(err)
	}
	noMessage(t, s, 50*time.Millisecond)

	// Acks inside a transaction take effect at COMMIT.
	ctx := cons.Begin()
	for _, m := range got {
		if err := ctx.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := ctx.Commit(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Second, func() bool { return queueStat(tb.b, "queue://tx").InFlight == 0 }, "acks committed")
}

// waitConsumers waits until the broker counts n consumers in all.
func waitConsumers(t testing.TB, b *broker.Broker, n int) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, func() bool {
		total := 0
		for _, s := range b.Stats() {
			total += s.Consumers
		}
		return total == n
	}, "%d consumers registered", n)
}

func queueStat(b *broker.Broker, dest string) broker.QueueStats {
	for _, s := range b.Stats() {
		if s.Destination == dest && s.Subscription == "" {
			return s
		}
	}
	return broker.QueueStats{}
}

func TestNackRedeliversThenDLQ(t *testing.T) {
	tb := startBroker(t, broker.Config{MaxRedeliveries: 2}, Options{})
	c := tb.dial()
	send(t, c, "/queue/poison", "bad", "persistent", "true")
	s := subscribe(t, c, "/queue/poison", gostomp.AckClientIndividual)
	for i := 1; i <= 3; i++ {
		m := recv(t, s)
		if got := m.Header.Get("JMSXDeliveryCount"); got != strconv.Itoa(i) {
			t.Fatalf("delivery %d: JMSXDeliveryCount=%s", i, got)
		}
		if (i > 1) != (m.Header.Get("redelivered") == "true") {
			t.Fatalf("delivery %d: redelivered=%q", i, m.Header.Get("redelivered"))
		}
		if err := c.Nack(m); err != nil {
			t.Fatal(err)
		}
	}
	noMessage(t, s, 50*time.Millisecond)
	dlq := subscribe(t, c, "/queue/ActiveMQ.DLQ", gostomp.AckAuto)
	m := recv(t, dlq)
	if string(m.Body) != "bad" || m.Header.Get("original-destination") != "/queue/poison" || m.Header.Get("persistent") != "true" {
		t.Fatalf("DLQ message: %q %v", m.Body, m.Header)
	}
}

func TestConsumerLossRedeliversInOrder(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	p := tb.dial()
	c1, err := gostomp.Dial("tcp", tb.addr)
	if err != nil {
		t.Fatal(err)
	}
	s1 := subscribe(t, c1, "/queue/loss", gostomp.AckClientIndividual)
	for i := range 5 {
		send(t, p, "/queue/loss", strconv.Itoa(i))
	}
	for range 5 {
		recv(t, s1)
	}
	c1.MustDisconnect() // no acks
	c2 := tb.dial()
	s2 := subscribe(t, c2, "/queue/loss", gostomp.AckClientIndividual)
	for i := range 5 {
		m := recv(t, s2)
		if string(m.Body) != strconv.Itoa(i) || m.Header.Get("redelivered") != "true" {
			t.Fatalf("redelivery %d: %q redelivered=%q", i, m.Body, m.Header.Get("redelivered"))
		}
	}
}

func TestClientAckIsCumulative(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	c := tb.dial()
	s := subscribe(t, c, "/queue/cum", gostomp.AckClient)
	for i := range 4 {
		send(t, c, "/queue/cum", strconv.Itoa(i))
	}
	var last *gostomp.Message
	for range 4 {
		last = recv(t, s)
	}
	if err := c.Ack(last); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Second, func() bool { return queueStat(tb.b, "queue://cum").InFlight == 0 }, "cumulative ack")
}

func TestExpiredMessagesAreNotDelivered(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	c := tb.dial()
	past := strconv.FormatInt(time.Now().Add(-time.Second).UnixMilli(), 10)
	soon := strconv.FormatInt(time.Now().Add(100*time.Millisecond).UnixMilli(), 10)
	send(t, c, "/queue/exp", "gone", "expires", past)
	send(t, c, "/queue/exp", "soon", "expires", soon)
	send(t, c, "/queue/exp", "stays")
	testutil.Eventually(t, 3*time.Second, func() bool { return time.Now().UnixMilli() > mustInt(soon)+5 }, "expiry passes")
	s := subscribe(t, c, "/queue/exp", gostomp.AckAuto)
	if m := recv(t, s); string(m.Body) != "stays" {
		t.Fatalf("got %q", m.Body)
	}
	noMessage(t, s, 50*time.Millisecond)
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func TestExclusiveConsumer(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	c := tb.dial()
	ex := subscribe(t, c, "/queue/ex", gostomp.AckAuto, "activemq.exclusive", "true")
	other := subscribe(t, c, "/queue/ex", gostomp.AckAuto)
	waitConsumers(t, tb.b, 2)
	for i := range 4 {
		send(t, c, "/queue/ex", strconv.Itoa(i))
	}
	for range 4 {
		recv(t, ex)
	}
	noMessage(t, other, 30*time.Millisecond)
	// A higher-priority exclusive newcomer takes over. It speaks raw STOMP:
	// go-stomp's Unsubscribe can miss the wake-up for its own receipt under
	// load (it broadcasts without the lock its waiter holds) and time out
	// although the receipt arrived.
	ex2 := dialRaw(t, tb.addr)
	ex2.connect("")
	ex2.write("SUBSCRIBE\nid:ex2\ndestination:/queue/ex\nack:client-individual\nactivemq.exclusive:true\nactivemq.priority:10\nreceipt:s\n\n\x00")
	ex2.expect("RECEIPT", "s")
	waitConsumers(t, tb.b, 3)
	send(t, c, "/queue/ex", "after")
	h := ex2.expect("MESSAGE", "")
	if ex2.body != "after" {
		t.Fatalf("got %q", ex2.body)
	}
	// Acked (with a receipt) before unsubscribing, so it cannot come back.
	ex2.write("ACK\nid:" + h["ack"] + "\nreceipt:a\n\n\x00")
	ex2.expect("RECEIPT", "a")
	// When the exclusive consumer leaves, the next exclusive one takes over.
	ex2.write("UNSUBSCRIBE\nid:ex2\nreceipt:u\n\n\x00")
	ex2.expect("RECEIPT", "u")
	waitConsumers(t, tb.b, 2)
	send(t, c, "/queue/ex", "later")
	if m := recv(t, ex); string(m.Body) != "later" {
		t.Fatalf("got %q", m.Body)
	}
}

func TestTopicsAndDurableSubscriptions(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	p := tb.dial()
	a := tb.dial()
	sa := subscribe(t, a, "/topic/news", gostomp.AckAuto)
	sw := subscribe(t, a, "/topic/news.>", gostomp.AckAuto)

	d, err := gostomp.Dial("tcp", tb.addr, gostomp.ConnOpt.Header("client-id", "dur1"))
	if err != nil {
		t.Fatal(err)
	}
	sd := subscribe(t, d, "/topic/news", gostomp.AckClientIndividual, "activemq.subscriptionName", "s1")
	waitConsumers(t, tb.b, 3)
	send(t, p, "/topic/news", "one", "persistent", "true")
	send(t, p, "/topic/news.sport", "sport")
	if m := recv(t, sa); string(m.Body) != "one" {
		t.Fatalf("got %q", m.Body)
	}
	// news.> matches news itself too, as MQTT's news/# must.
	for _, want := range []string{"one", "sport"} {
		if m := recv(t, sw); string(m.Body) != want {
			t.Fatalf("wildcard got %q, want %q", m.Body, want)
		}
	}
	if m := recv(t, sd); string(m.Body) != "one" {
		t.Fatalf("durable got %q", m.Body)
	} else {
		_ = d.Ack(m)
	}
	if err := d.Disconnect(); err != nil {
		t.Fatal(err)
	}

	// While the durable subscriber is away, its messages are kept.
	for i := range 3 {
		send(t, p, "/topic/news", "away"+strconv.Itoa(i), "persistent", "true")
	}
	d2, err := gostomp.Dial("tcp", tb.addr, gostomp.ConnOpt.Header("client-id", "dur1"))
	if err != nil {
		t.Fatal(err)
	}
	defer d2.MustDisconnect()
	sd2 := subscribe(t, d2, "/topic/news", gostomp.AckClientIndividual, "activemq.subscriptionName", "s1")
	for i := range 3 {
		m := recv(t, sd2)
		if string(m.Body) != "away"+strconv.Itoa(i) {
			t.Fatalf("durable after reconnect got %q", m.Body)
		}
		_ = d2.Ack(m)
	}
}

func TestDurableSubscriptionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	tb := startBrokerIn(t, dir, "127.0.0.1:0", broker.Config{}, Options{})
	d, err := gostomp.Dial("tcp", tb.addr, gostomp.ConnOpt.Header("client-id", "dur2"))
	if err != nil {
		t.Fatal(err)
	}
	subscribe(t, d, "/topic/t2", gostomp.AckClientIndividual, "activemq.subscriptionName", "s")
	if err := d.Disconnect(); err != nil {
		t.Fatal(err)
	}
	p := tb.dial()
	for i := range 3 {
		send(t, p, "/topic/t2", strconv.Itoa(i), "persistent", "true")
	}
	send(t, p, "/topic/t2", "np") // non-persistent: does not survive
	_ = p.Disconnect()
	tb.stop()

	tb2 := startBrokerIn(t, dir, "127.0.0.1:0", broker.Config{}, Options{})
	d2, err := gostomp.Dial("tcp", tb2.addr, gostomp.ConnOpt.Header("client-id", "dur2"))
	if err != nil {
		t.Fatal(err)
	}
	defer d2.MustDisconnect()
	s := subscribe(t, d2, "/topic/t2", gostomp.AckClientIndividual, "activemq.subscriptionName", "s")
	for i := range 3 {
		m := recv(t, s)
		if string(m.Body) != strconv.Itoa(i) {
			t.Fatalf("got %q", m.Body)
		}
		_ = d2.Ack(m)
	}
	noMessage(t, s, 50*time.Millisecond)
}

func TestDuplicateDetection(t *testing.T) {
	dir := t.TempDir()
	tb := startBrokerIn(t, dir, "127.0.0.1:0", broker.Config{}, Options{})
	c := tb.dial()
	for range 3 {
		send(t, c, "/queue/dup", "once", "persistent", "true", "_AMQ_DUPL_ID", "id-1")
	}
	send(t, c, "/queue/dup", "other", "persistent", "true", "_AMQ_DUPL_ID", "id-2")
	c.MustDisconnect()
	tb.stop()
	// The window is persisted: a re-send after a restart is still dropped.
	tb2 := startBrokerIn(t, dir, "127.0.0.1:0", broker.Config{}, Options{})
	c2 := tb2.dial()
	send(t, c2, "/queue/dup", "once", "persistent", "true", "_AMQ_DUPL_ID", "id-1")
	s := subscribe(t, c2, "/queue/dup", gostomp.AckAuto)
	for _, want := range []string{"once", "other"} {
		m := recv(t, s)
		if string(m.Body) != want || m.Header.Get("_AMQ_DUPL_ID") == "" {
			t.Fatalf("got %q (%v), want %q", m.Body, m.Header, want)
		}
	}
	noMessage(t, s, 50*time.Millisecond)
}

func TestFlowControlBlocksThenCompletes(t *testing.T) {
	tb := startBroker(t, broker.Config{MemoryLimit: 64 << 10}, Options{})
	p := tb.dial()
	body := make([]byte, 8<<10)
	sent := make(chan int, 100)
	go func() {
		defer close(sent)
		for i := range 40 {
			if err := p.Send("/queue/fc", "application/octet-stream", body, gostomp.SendOpt.Receipt); err != nil {
				return
			}
			sent <- i
		}
	}()
	// The limit (64 KiB) admits only a handful of 8 KiB messages.
	n := 0
	testutil.Eventually(t, 5*time.Second, func() bool {
		for {
			select {
			case _, ok := <-sent:
				if !ok {
					return true
				}
				n++
				continue
			default:
			}
			return n >= 5
		}
	}, "first sends complete")
	noMore := time.After(100 * time.Millisecond)
	blocked := true
	for blocked {
		select {
		case _, ok := <-sent:
			if !ok {
				t.Fatal("producer finished without waiting for memory")
			}
			n++
			if n >= 40 {
				t.Fatal("all 40 sends completed under a 64 KiB limit")
			}
		case <-noMore:
			blocked = false
		}
	}
	if tb.b.MemoryUsage() < 64<<10 {
		t.Fatalf("producer blocked below the limit: usage %d", tb.b.MemoryUsage())
	}
	c := tb.dial()
	s := subscribe(t, c, "/queue/fc", gostomp.AckAuto)
	for range 40 {
		recv(t, s)
	}
	for range sent {
		n++
	}
	if n != 40 {
		t.Fatalf("%d sends completed, want 40", n)
	}
}

func TestMessageFramesCarryGroupAndUserHeaders(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	c := tb.dial()
	s := subscribe(t, c, "/queue/hdr", gostomp.AckAuto)
	send(t, c, "/queue/hdr", "x", "JMSXGroupID", "g1", "JMSXGroupSeq", "1", "correlation-id", "corr",
		"reply-to", "/queue/back", "custom", "a:b\\c", "persistent", "true")
	m := recv(t, s)
	want := map[string]string{"JMSXGroupID": "g1", "JMSXGroupSeq": "1", "JMSXGroupFirstForConsumer": "true",
		"correlation-id": "corr", "reply-to": "/queue/back", "custom": "a:b\\c", "persistent": "true",
		"destination": "/queue/hdr"}
	for k, v := range want {
		if got := m.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if m.Header.Get("message-id") == "" {
		t.Error("no message-id")
	}
}

func TestManyMessagesManyConsumers(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	p := tb.dial()
	const n = 2000
	got := make(chan string, n)
	for range 3 {
		c := tb.dial()
		s := subscribe(t, c, "/queue/many", gostomp.AckClientIndividual, "activemq.prefetchSize", "10")
		go func() {
			for m := range s.C {
				if m.Err != nil {
					return
				}
				_ = c.Ack(m)
				got <- string(m.Body)
			}
		}()
	}
	for i := range n {
		if err := p.Send("/queue/many", "", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for len(seen) < n {
		select {
		case b := <-got:
			if seen[b] {
				t.Fatalf("duplicate %s", b)
			}
			seen[b] = true
		case <-deadline:
			t.Fatalf("received %d of %d", len(seen), n)
		}
	}
}

// A bridge's topic subscription (tether-network-path) never receives a
// message that already passed through the broker it serves: that broker's
// subscribers had it. It still shows as a network consumer.
func TestNetworkTopicSubscriptionSkipsMessagesFromItsBroker(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	c := tb.dial()
	s := subscribe(t, c, "/topic/net", gostomp.AckAuto, "tether-network-path", "B,C")
	waitConsumers(t, tb.b, 1)
	if path := networkPaths(tb.b); path != "[B C]" {
		t.Fatalf("network path of the consumer = %s, want [B C]", path)
	}
	send(t, c, "/topic/net", "from-B", "tether-broker-path", "A,B")
	send(t, c, "/topic/net", "local")
	if m := recv(t, s); string(m.Body) != "local" {
		t.Fatalf("got %q", m.Body)
	}
	noMessage(t, s, 50*time.Millisecond)
}

// A bridge's queue subscription does receive a message that came from the
// broker it serves: that message's consumers moved there, and a duplex
// bridge pulls it back (loop prevention for queues is the bridge's demand).
func TestNetworkQueueSubscriptionTakesMessagesBack(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	c := tb.dial()
	send(t, c, "/queue/net", "from-B", "tether-broker-path", "B")
	s := subscribe(t, c, "/queue/net", gostomp.AckAuto, "tether-network-path", "B")
	waitConsumers(t, tb.b, 1)
	if path := networkPaths(tb.b); path != "[B]" {
		t.Fatalf("network path of the consumer = %s, want [B]", path)
	}
	m := recv(t, s)
	if string(m.Body) != "from-B" || m.Header.Get("tether-broker-path") != "B" {
		t.Fatalf("got %q with path %q", m.Body, m.Header.Get("tether-broker-path"))
	}
}

// A tether-network-path header that names no broker is refused.
func TestNetworkSubscriptionNeedsABroker(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	raw := dialRaw(t, tb.addr)
	raw.connect("")
	raw.write("SUBSCRIBE\nid:s\ndestination:/queue/net\ntether-network-path:,\n\n\x00")
	raw.expect("ERROR", "")
}

// networkPaths lists the network paths of the broker's consumers.
func networkPaths(b *broker.Broker) string {
	var out [][]string
	for _, q := range append(b.Queues(0), b.Subscriptions()...) {
		for _, c := range q.ConsumerList {
			out = append(out, c.NetworkPath)
		}
	}
	if len(out) == 1 {
		return fmt.Sprint(out[0])
	}
	return fmt.Sprint(out)
}

// An auto-ack consumer that unsubscribes while hundreds of messages are on
// their way to it: every message it received before the UNSUBSCRIBE receipt
// stays consumed, nothing is delivered to it after, and another consumer
// gets exactly the rest.
func TestAutoAckUnsubscribeNeitherLosesNorDuplicates(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	p := tb.dial()
	const total = 10000 // 10 MiB: more than the socket buffers hold, so the writer waits on the client
	pad := strings.Repeat("x", 1024)
	for i := range total {
		if err := p.Send("/queue/unsub", "text/plain", []byte(fmt.Sprintf("m-%d-%s", i, pad))); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return queueStat(tb.b, "queue://unsub").Pending == total }, "all queued")
	seen := map[string]int{}
	first := dialRaw(t, tb.addr)
	first.connect("")
	first.write("SUBSCRIBE\nid:s1\ndestination:/queue/unsub\nack:auto\n\n\x00")
	// Take a few, then leave while the rest of the prefetch is in flight.
	for range 3 {
		first.expect("MESSAGE", "")
		seen[first.body]++
	}
	first.write("UNSUBSCRIBE\nid:s1\nreceipt:u\n\n\x00")
	for {
		cmd, h, err := first.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		if cmd == "RECEIPT" && h["receipt-id"] == "u" {
			break
		}
		if cmd != "MESSAGE" {
			t.Fatalf("unexpected %s %v", cmd, h)
		}
		seen[first.body]++
	}
	got := len(seen)
	first.write("SEND\ndestination:/queue/probe\nreceipt:p\n\nx\x00")
	first.expect("RECEIPT", "p") // nothing more of s1 came after its receipt
	t.Logf("the first consumer took %d of %d before its UNSUBSCRIBE completed", got, total)

	second := dialRaw(t, tb.addr)
	second.connect("")
	second.write("SUBSCRIBE\nid:s2\ndestination:/queue/unsub\nack:client-individual\n\n\x00")
	for len(seen) < total {
		h := second.expect("MESSAGE", "")
		seen[second.body]++
		second.write("ACK\nid:" + h["ack"] + "\n\n\x00")
	}
	for body, n := range seen {
		if n != 1 {
			id, _, _ := strings.Cut(body[2:], "-")
			t.Fatalf("message %s delivered %d times", id, n)
		}
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		st := queueStat(tb.b, "queue://unsub")
		return st.Pending == 0 && st.InFlight == 0
	}, "queue drained")
}
