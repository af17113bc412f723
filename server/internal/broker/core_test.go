package broker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func q(name string) Destination  { return Destination{Queue, name} }
func tp(name string) Destination { return Destination{Topic, name} }

func msg(d Destination, body string) *Message {
	return &Message{Dest: d, Body: []byte(body), Priority: DefaultPriority}
}

func pmsg(d Destination, body string) *Message {
	m := msg(d, body)
	m.Persistent = true
	return m
}

// A consumer holds at most its prefetch of unacknowledged messages; each
// ack lets exactly one more through, in order, and the acked message's
// store key is gone once the ack completes.
func TestCorePrefetchBoundsInFlight(t *testing.T) {
	cb := startCore(t, t.TempDir(), Config{})
	l := newLog(cb)
	s := cb.session(t, "")
	c := l.consume(t, s, "c", ConsumerOptions{Dest: q("p"), AckMode: AckIndividual, Prefetch: 3})
	sent := cb.sendN(t, s, 10, func(i int) *Message { return pmsg(q("p"), fmt.Sprint(i)) })
	if got := bodies(l.exactly(t, "c", 3)); got != "0 1 2" {
		t.Fatalf("first deliveries %q", got)
	}
	for i := range 7 {
		l.ack(t, "c", c, sent[i])
		if cb.rs.present(messageKey(queueQID("p"), sent[i].seq)) {
			t.Fatalf("message %d still stored after its synced ack", i)
		}
		l.exactly(t, "c", 4+i)
	}
	if got := bodies(l.deliveries("c")); got != "0 1 2 3 4 5 6 7 8 9" {
		t.Fatalf("deliveries %q", got)
	}
	// Client mode: one ack settles everything before it.
	c2 := l.consume(t, s, "c2", ConsumerOptions{Dest: q("p2"), AckMode: AckClient, Prefetch: 4})
	sent2 := cb.sendN(t, s, 8, func(i int) *Message { return msg(q("p2"), fmt.Sprint(i)) })
	l.exactly(t, "c2", 4)
	l.ack(t, "c2", c2, sent2[2])
	l.exactly(t, "c2", 7)
	if st := queueStats(cb.Broker, "p2"); st.InFlight != 4 || st.Pending != 1 {
		t.Fatalf("after a cumulative ack: %+v", st)
	}
	checkLog(t, l, nil)
}

// A nacked message comes back flagged redelivered with its count grown,
// ahead of later ones, until MaxRedeliveries; then it moves to the DLQ in
// one store batch, with its origin and the cause in headers.
func TestCoreRedeliveryThenDLQ(t *testing.T) {
	cb := startCore(t, t.TempDir(), Config{MaxRedeliveries: 2})
	l := newLog(cb)
	s := cb.session(t, "")
	c := l.consume(t, s, "c", ConsumerOptions{Dest: q("work"), AckMode: AckIndividual, Prefetch: 1})
	dlq := l.consume(t, s, "dlq", ConsumerOptions{Dest: DLQ, AckMode: AckIndividual})
	poison := cb.send(t, s, pmsg(q("work"), "poison"))
	next := cb.send(t, s, pmsg(q("work"), "next"))
	for i := 1; i <= 3; i++ {
		got := l.exactly(t, "c", i)
		if d := got[i-1]; d.msg != poison || d.count != i || d.redelivered != (i > 1) {
			t.Fatalf("delivery %d: %s count %d redelivered %v", i, d.msg.Body, d.count, d.redelivered)
		}
		l.nack(t, "c", c, poison)
	}
	d := l.waitDeliveries(t, "dlq", 1)[0]
	m := d.msg
	if string(m.Body) != "poison" || m.Dest != DLQ || m.ID != poison.ID {
		t.Fatalf("DLQ got %s on %s", m.Body, m.Dest)
	}
	if v, _ := m.Header(HeaderOriginalDestination); v != "queue://work" {
		t.Fatalf("original-destination %q", v)
	}
	if v, _ := m.Header("dlqDeliveryFailureCause"); v != "delivered 3 times" {
		t.Fatalf("cause %q", v)
	}
	if !cb.rs.batchMoving(messageKey(queueQID("work"), poison.seq), messageKey(queueQID(DLQ.Name), m.seq)) {
		t.Fatal("the move to the DLQ was not one store batch")
	}
	if got := l.exactly(t, "c", 4)[3]; got.msg != next || got.redelivered {
		t.Fatalf("after the poison: %s redelivered=%v", got.msg.Body, got.redelivered)
	}
	l.ack(t, "c", c, next)
	l.ack(t, "dlq", dlq, m)
	sum := checkLog(t, l, nil)
	if a, d := sum.of("work", poison); d != 3 || a != 0 {
		t.Fatalf("poison delivered %d times, acked %d in its queue", d, a)
	}
	if a, d := sum.of(DLQ.Name, poison); d != 1 || a != 1 {
		t.Fatalf("poison delivered %d times, acked %d in the DLQ", d, a)
	}
}

// Queue consumers get only what their selector matches; a message nobody
// matches waits. A topic subscriber's selector applies at publication.
func TestCoreSelectors(t *testing.T) {
	cb := startCore(t, t.TempDir(), Config{})
	l := newLog(cb)
	s := cb.session(t, "")
	l.consume(t, s, "eu", ConsumerOptions{Dest: q("orders"), Selector: "region = 'eu' AND qty > 5"})
	l.consume(t, s, "us", ConsumerOptions{Dest: q("orders"), Selector: "region = 'us'"})
	l.consume(t, s, "urgent", ConsumerOptions{Dest: tp("events"), Selector: "JMSPriority >= 7"})
	l.consume(t, s, "all", ConsumerOptions{Dest: tp("events")})
	for i, h := range [][2]string{{"eu", "10"}, {"us", "1"}, {"eu", "2"}, {"asia", "50"}, {"eu", "6"}, {"us", "60"}} {
		m := msg(q("orders"), fmt.Sprintf("%d-%s-%s", i, h[0], h[1]))
		m.Headers = []Header{{"region", h[0]}, {"qty", h[1]}}
		cb.send(t, s, m)
	}
	if got := bodies(l.exactly(t, "eu", 2)); got != "0-eu-10 4-eu-6" {
		t.Fatalf("eu got %q", got)
	}
	if got := bodies(l.exactly(t, "us", 2)); got != "1-us-1 5-us-60" {
		t.Fatalf("us got %q", got)
	}
	if st := queueStats(cb.Broker, "orders"); st.Pending != 2 {
		t.Fatalf("unmatched messages: %+v, want 2 pending", st)
	}
	for p := range 10 {
		m := msg(tp("events"), fmt.Sprint(p))
		m.Priority = uint8(p)
		cb.send(t, s, m)
	}
	if got := bodies(l.exactly(t, "urgent", 3)); got != "7 8 9" {
		t.Fatalf("urgent got %q", got)
	}
	l.exactly(t, "all", 10)
	checkLog(t, l, nil)
}

// An exclusive consumer gets everything while it lasts; when it closes,
// its unacknowledged messages go, in order and flagged redelivered, to the
// next exclusive consumer, and a strictly higher priority one pre-empts.
func TestCoreExclusiveConsumers(t *testing.T) {
	cb := startCore(t, t.TempDir(), Config{})
	l := newLog(cb)
	s := cb.session(t, "")
	first := l.consume(t, s, "first", ConsumerOptions{Dest: q("x"), AckMode: AckIndividual, Exclusive: true, Prefetch: 5})
	l.consume(t, s, "plain", ConsumerOptions{Dest: q("x"), AckMode: AckIndividual, Prefetch: 5})
	second := l.consume(t, s, "second", ConsumerOptions{Dest: q("x"), AckMode: AckIndividual, Exclusive: true, Prefetch: 5})
	sent := cb.sendN(t, s, 8, func(i int) *Message { return msg(q("x"), fmt.Sprint(i)) })
	l.exactly(t, "first", 5)
	l.exactly(t, "", 5) // the others wait although they have room
	l.ack(t, "first", first, sent[0])
	l.closeConsumer("first", first)
	got := l.exactly(t, "second", 5)
	// The first had taken 5 after the ack of 0: all five come back, in order.
	if bodies(got) != "1 2 3 4 5" || !got[0].redelivered || !got[4].redelivered {
		t.Fatalf("second got %q (first redelivered %v, last %v)", bodies(got), got[0].redelivered, got[4].redelivered)
	}
	l.exactly(t, "plain", 0)
	l.consume(t, s, "high", ConsumerOptions{Dest: q("x"), AckMode: AckIndividual, Exclusive: true, Priority: 5, Prefetch: 5})
	for _, m := range sent[1:6] {
		l.ack(t, "second", second, m)
	}
	if got := bodies(l.exactly(t, "high", 2)); got != "6 7" {
		t.Fatalf("high got %q", got)
	}
	l.exactly(t, "second", 5)
	checkLog(t, l, sent)
}

// Messages go to the highest-priority consumer with room; lower ones get
// what overflows its prefetch, and equal priorities share round robin.
func TestCoreConsumerPriority(t *testing.T) {
	cb := startCore(t, t.TempDir(), Config{})
	l := newLog(cb)
	s := cb.session(t, "")
	l.consume(t, s, "low", ConsumerOptions{Dest: q("cp"), AckMode: AckIndividual, Prefetch: 100})
	hi1 := l.consume(t, s, "hi1", ConsumerOptions{Dest: q("cp"), AckMode: AckIndividual, Priority: 5, Prefetch: 3})
	l.consume(t, s, "hi2", ConsumerOptions{Dest: q("cp"), AckMode: AckIndividual, Priority: 5, Prefetch: 3})
	sent := cb.sendN(t, s, 10, func(i int) *Message { return msg(q("cp"), fmt.Sprint(i)) })
	if a, b := bodies(l.exactly(t, "hi1", 3)), bodies(l.exactly(t, "hi2", 3)); a != "0 2 4" || b != "1 3 5" {
		t.Fatalf("high priority got %q and %q, want round robin", a, b)
	}
	if got := bodies(l.exactly(t, "low", 4)); got != "6 7 8 9" {
		t.Fatalf("low got %q", got)
	}
	l.ack(t, "hi1", hi1, sent[0])
	m := cb.send(t, s, msg(q("cp"), "10"))
	if got := l.exactly(t, "hi1", 4)[3]; got.msg != m {
		t.Fatalf("the freed high-priority slot got %s", got.msg.Body)
	}
	checkLog(t, l, nil)
}

// A backlog is delivered highest message priority first, in send order
// within a priority; redelivered messages keep their place.
func TestCoreMessagePriority(t *testing.T) {
	cb := startCore(t, t.TempDir(), Config{})
	l := newLog(cb)
	s := cb.session(t, "")
	prios := []uint8{4, 9, 0, 4, 9, 7, 0}
	for i, p := range prios {
		m := pmsg(q("mp"), fmt.Sprintf("%d:%d", i, p))
		m.Priority = p
		cb.send(t, s, m)
	}
	c := l.consume(t, s, "c", ConsumerOptions{Dest: q("mp"), AckMode: AckIndividual, Prefetch: 2})
	got := l.exactly(t, "c", 2)
	if bodies(got) != "1:9 4:9" {
		t.Fatalf("first two %q", bodies(got))
	}
	l.nack(t, "c", c, got[1].msg) // back to its place, before every lower priority
	l.ack(t, "c", c, got[0].msg)
	for range len(prios) - 1 {
		held := checkLog(t, l, nil).inflight["c"]
		if len(held) == 0 {
			t.Fatal("nothing in flight before the backlog is consumed")
		}
		l.ack(t, "c", c, held[0])
	}
	if all := bodies(l.deliveries("c")); all != "1:9 4:9 4:9 5:7 0:4 3:4 2:0 6:0" {
		t.Fatalf("order %q", all)
	}
	checkLog(t, l, nil)
}

// An expired message is never delivered: a non-persistent one is dropped,
// a persistent one goes to the DLQ (ActiveMQ's default), also when it
// expires while in flight and comes back.
func TestCoreExpiry(t *testing.T) {
	cb := startCore(t, t.TempDir(), Config{})
	l := newLog(cb)
	s := cb.session(t, "")
	past := nowMs() - 1000
	gone := msg(q("exp"), "np-expired")
	gone.Expires = past
	dead := pmsg(q("exp"), "p-expired")
	dead.Expires = past
	cb.send(t, s, gone)
	cb.send(t, s, dead)
	live := cb.send(t, s, msg(q("exp"), "live"))
	soon := pmsg(q("exp"), "expires-in-flight")
	soon.Expires = nowMs() + 300
	cb.send(t, s, soon)
	dlq := newLog(cb)
	dlq.consume(t, s, "dlq", ConsumerOptions{Dest: DLQ, AckMode: AckIndividual})
	c := l.consume(t, s, "c", ConsumerOptions{Dest: q("exp"), AckMode: AckIndividual})
	if got := bodies(l.exactly(t, "c", 2)); got != "live expires-in-flight" {
		t.Fatalf("delivered %q", got)
	}
	l.ack(t, "c", c, live)
	deadline := time.Now().Add(5 * time.Second)
	for !soon.Expired(nowMs()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // waiting for the clock itself
	}
	l.nack(t, "c", c, soon)
	got := dlq.waitDeliveries(t, "dlq", 2)
	if bodies(got) != "p-expired expires-in-flight" {
		t.Fatalf("DLQ got %q", bodies(got))
	}
	for _, d := range got {
		if v, _ := d.msg.Header("dlqDeliveryFailureCause"); v != "expired" || d.msg.Expires != 0 {
			t.Fatalf("%s: cause %q, expires %d", d.msg.Body, v, d.msg.Expires)
		}
	}
	l.exactly(t, "c", 2)
	if st := queueStats(cb.Broker, "exp"); st.Pending != 0 || st.InFlight != 0 || st.Expired != 3 {
		t.Fatalf("queue after expiry: %+v", st)
	}
	checkLog(t, l, nil)
	checkLog(t, dlq, nil)
}

// A transaction's sends are invisible until Commit and gone after Abort;
// its acks take effect at Commit, and after Abort the messages stay in
// flight (ActiveMQ) until the session closes, which redelivers them. A
// session closed with an open transaction drops its sends.
func TestCoreTransactions(t *testing.T) {
	cb := startCore(t, t.TempDir(), Config{})
	l := newLog(cb)
	prod := cb.session(t, "")
	cons := cb.session(t, "")
	c := l.consume(t, cons, "c", ConsumerOptions{Dest: q("tx"), AckMode: AckIndividual})
	if err := prod.Begin("t1"); err != nil {
		t.Fatal(err)
	}
	if err := prod.Begin("t1"); !errors.Is(err, ErrTxExists) {
		t.Fatalf("second Begin: %v", err)
	}
	var sent []*Message
	for i := range 3 {
		m := pmsg(q("tx"), fmt.Sprint("c", i))
		prod.Send(context.Background(), m, "t1", func(err error) {
			if err != nil {
				t.Error(err)
			}
		})
		sent = append(sent, m)
	}
	l.exactly(t, "c", 0)
	commit := func(s *Session, tx string) {
		t.Helper()
		done := make(chan error, 1)
		s.Commit(tx, func(err error) { done <- err })
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	commit(prod, "t1")
	if got := bodies(l.exactly(t, "c", 3)); got != "c0 c1 c2" {
		t.Fatalf("after commit %q", got)
	}
	for _, m := range sent {
		if !cb.rs.isDurable(messageKey(queueQID("tx"), m.seq)) {
			t.Fatalf("%s committed but not on disk", m.Body)
		}
	}

	if err := prod.Begin("t2"); err != nil {
		t.Fatal(err)
	}
	prod.Send(context.Background(), pmsg(q("tx"), "aborted"), "t2", nil)
	if err := prod.Abort("t2"); err != nil {
		t.Fatal(err)
	}
	if err := prod.Abort("t2"); !errors.Is(err, ErrTxUnknown) {
		t.Fatalf("second Abort: %v", err)
	}
	l.exactly(t, "c", 3)

	// Acks in a transaction: c0 acked and committed; c1 acked, aborted.
	if err := cons.Begin("a1"); err != nil {
		t.Fatal(err)
	}
	c.Ack(sent[0].ID, "a1", false, nil)
	if st := queueStats(cb.Broker, "tx"); st.InFlight != 3 {
		t.Fatalf("an ack took effect before its commit: %+v", st)
	}
	l.logAck("c", c, sent[0])
	commit(cons, "a1")
	if err := cons.Begin("a2"); err != nil {
		t.Fatal(err)
	}
	c.Ack(sent[1].ID, "a2", false, nil)
	if err := cons.Abort("a2"); err != nil {
		t.Fatal(err)
	}
	if st := queueStats(cb.Broker, "tx"); st.InFlight != 2 || st.Pending != 0 {
		t.Fatalf("after the aborted ack: %+v", st)
	}
	// An open transaction when the session closes: its sends are dropped,
	// its consumer's messages redelivered.
	if err := cons.Begin("open"); err != nil {
		t.Fatal(err)
	}
	cons.Send(context.Background(), pmsg(q("tx"), "never"), "open", nil)
	c.Ack(sent[2].ID, "open", false, nil)
	l.closeSession(cons, "c")
	other := cb.session(t, "")
	c2 := l.consume(t, other, "c2", ConsumerOptions{Dest: q("tx"), AckMode: AckIndividual})
	got := l.exactly(t, "c2", 2)
	if bodies(got) != "c1 c2" || !got[0].redelivered || !got[1].redelivered {
		t.Fatalf("after the session closed: %q", bodies(got))
	}
	for _, d := range got {
		l.ack(t, "c2", c2, d.msg)
	}
	if st := queueStats(cb.Broker, "tx"); st.Pending != 0 || st.InFlight != 0 {
		t.Fatalf("left over: %+v", st)
	}
	sum := checkLog(t, l, nil)
	for _, m := range sent {
		if a, _ := sum.of("tx", m); a != 1 {
			t.Fatalf("%s acked %d times", m.Body, a)
		}
	}
}

// Closing a session returns every message its consumers held, in order and
// flagged redelivered, to the others; nothing is delivered to a consumer
// once its Close returned, even while sends keep arriving.
func TestCoreCloseRedeliversAndStopsDelivery(t *testing.T) {
	// Churned consumers return messages many times: never dead-letter.
	cb := startCore(t, t.TempDir(), Config{MaxRedeliveries: -1})
	l := newLog(cb)
	prod := cb.session(t, "")
	s1 := cb.session(t, "")
	l.consume(t, s1, "a", ConsumerOptions{Dest: q("cl"), AckMode: AckClient, Prefetch: 4})
	sent := cb.sendN(t, prod, 4, func(i int) *Message { return pmsg(q("cl"), fmt.Sprint(i)) })
	l.exactly(t, "a", 4)
	l.closeSession(s1, "a")
	s2 := cb.session(t, "")
	b := l.consume(t, s2, "b", ConsumerOptions{Dest: q("cl"), AckMode: AckClient, Prefetch: 10})
	got := l.exactly(t, "b", 4)
	if bodies(got) != "0 1 2 3" {
		t.Fatalf("redelivered %q", bodies(got))
	}
	l.ack(t, "b", b, sent[3])

	// Consumers come and go while a producer sends: each Close is followed
	// by no delivery to that consumer, and every message is acked once.
	const total = 600
	var wg sync.WaitGroup
	var all []*Message
	var sendMu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		p := cb.session(t, "")
		for i := range total {
			m := msg(q("churn"), fmt.Sprint(i))
			done := make(chan error, 1)
			p.Send(context.Background(), m, "", func(err error) { done <- err })
			if err := <-done; err != nil {
				t.Error(err)
				return
			}
			sendMu.Lock()
			all = append(all, m)
			sendMu.Unlock()
		}
	}()
	acked := 0
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; acked < total; round++ {
		// Every earlier consumer is closed, so whatever is not acked yet is
		// pending or still to be sent: this one gets something.
		name := fmt.Sprint("churn-", round)
		s := cb.session(t, "")
		c := l.consume(t, s, name, ConsumerOptions{Dest: q("churn"), AckMode: AckIndividual, Prefetch: 1 + rng.IntN(20)})
		l.waitDeliveries(t, name, 1)
		held := checkLog(t, l, nil).inflight[name]
		for _, m := range held[:rng.IntN(len(held)+1)] {
			l.ack(t, name, c, m)
			acked++
		}
		if round%2 == 0 {
			l.closeConsumer(name, c)
		} else {
			l.closeSession(s, name)
		}
	}
	wg.Wait()
	sum := checkLog(t, l, all)
	for _, m := range all {
		if a, _ := sum.of("churn", m); a != 1 {
			t.Fatalf("%s acked %d times", m.Body, a)
		}
	}
}

// A durable subscription keeps what arrives while it has no consumer, and
// its persistent messages across a restart (flagged redelivered, as they
// may have been delivered before); it has one active consumer at a time;
// a changed selector replaces it; Unsubscribe deletes it and its messages.
func TestCoreDurableSubscription(t *testing.T) {
	dir := t.TempDir()
	cb := startCore(t, dir, Config{})
	l := newLog(cb)
	s := cb.session(t, "cid")
	opts := ConsumerOptions{Dest: tp("news"), AckMode: AckIndividual, DurableName: "d1"}
	c := l.consume(t, s, "d1", opts)
	if _, err := s.Subscribe(opts, func(*Delivery) {}); !errors.Is(err, ErrDurableActive) {
		t.Fatalf("a second active consumer: %v", err)
	}
	if _, err := cb.session(t, "").Subscribe(opts, func(*Delivery) {}); !errors.Is(err, ErrNeedClientID) {
		t.Fatalf("without a client id: %v", err)
	}
	prod := cb.session(t, "")
	sent := cb.sendN(t, prod, 3, func(i int) *Message { return pmsg(tp("news"), fmt.Sprint("a", i)) })
	l.exactly(t, "d1", 3)
	l.ack(t, "d1", c, sent[0])
	l.closeConsumer("d1", c)
	cb.send(t, prod, pmsg(tp("news"), "offline-p"))
	cb.send(t, prod, msg(tp("news"), "offline-np"))
	if st := cb.Subscriptions(); len(st) != 1 || st[0].Pending != 4 || st[0].Active {
		t.Fatalf("inactive subscription: %+v", st)
	}
	checkLog(t, l, nil)
	cb.stop()

	// After a restart: the persistent ones, in order; the non-persistent
	// one did not survive.
	cb = startCore(t, dir, Config{})
	l = newLog(cb)
	s, prod = cb.session(t, "cid"), cb.session(t, "")
	c = l.consume(t, s, "d1", opts)
	l.waitDeliveries(t, "d1", 3) // read back from the store by a page-in of its own
	got := l.exactly(t, "d1", 3)
	if bodies(got) != "a1 a2 offline-p" {
		t.Fatalf("after restart %q", bodies(got))
	}
	for _, d := range got {
		if !d.redelivered || !d.recovered {
			t.Fatalf("%s after a restart: redelivered=%v", d.msg.Body, d.redelivered)
		}
	}
	l.ack(t, "d1", c, got[0].msg)
	l.closeConsumer("d1", c)
	checkLog(t, l, nil)

	// Another selector: a new subscription, the old messages gone.
	c = l.consume(t, s, "d1'", ConsumerOptions{Dest: tp("news"), AckMode: AckIndividual, DurableName: "d1", Selector: "kind = 'x'"})
	l.exactly(t, "d1'", 0)
	x := pmsg(tp("news"), "x")
	x.Headers = []Header{{"kind", "x"}}
	cb.send(t, prod, pmsg(tp("news"), "not-x"))
	cb.send(t, prod, x)
	if got := bodies(l.exactly(t, "d1'", 1)); got != "x" {
		t.Fatalf("new selector got %q", got)
	}
	if err := s.Unsubscribe("d1"); !errors.Is(err, ErrDurableActive) {
		t.Fatalf("unsubscribe while active: %v", err)
	}
	l.closeConsumer("d1'", c)
	if err := s.Unsubscribe("d1"); err != nil {
		t.Fatal(err)
	}
	if len(cb.Subscriptions()) != 0 {
		t.Fatalf("subscription left: %+v", cb.Subscriptions())
	}
	qid := durableQID("cid", "d1")
	if cb.rs.present(durableKey(qid)) || cb.rs.present(messageKey(qid, x.seq)) {
		t.Fatal("the deleted subscription is still stored")
	}
	checkLog(t, l, nil)
}

// Message groups: a group's messages reach one consumer at a time, in the
// order they were sent, while consumers ack in any order, leave (their
// groups move, unacknowledged messages first) and join; every message is
// acked exactly once.
func TestCoreMessageGroups(t *testing.T) {
	cb := startCore(t, t.TempDir(), Config{MaxRedeliveries: -1})
	l := newLog(cb)
	prod := cb.session(t, "")
	rng := rand.New(rand.NewPCG(3, 4))
	type member struct {
		name string
		s    *Session
		c    *Consumer
	}
	var members []*member
	joined := 0
	join := func() {
		name := fmt.Sprint("g", joined)
		joined++
		s := cb.session(t, "")
		c := l.consume(t, s, name, ConsumerOptions{Dest: q("grp"), AckMode: AckIndividual, Prefetch: 1 + rng.IntN(8)})
		members = append(members, &member{name, s, c})
	}
	for range 3 {
		join()
	}
	const groups, perGroup = 8, 40
	var sent []*Message
	for i := range groups * perGroup {
		m := msg(q("grp"), fmt.Sprint(i))
		if i%7 != 3 { // some ungrouped messages in between
			m.GroupID = fmt.Sprint("G", i%groups)
			m.GroupSeq = int32(i/groups + 1)
		}
		sent = append(sent, cb.send(t, prod, m))
	}
	acked := 0
	for step := 0; acked < len(sent); step++ {
		if step > 20*len(sent) {
			t.Fatalf("%d of %d acked after %d steps", acked, len(sent), step)
		}
		sum := checkLog(t, l, sent)
		switch r := rng.IntN(100); {
		case r < 3 && len(members) > 1:
			k := rng.IntN(len(members))
			mb := members[k]
			members = append(members[:k], members[k+1:]...)
			if r < 2 {
				l.closeConsumer(mb.name, mb.c)
			} else {
				l.closeSession(mb.s, mb.name)
			}
		case r < 6:
			join()
		default:
			mb := members[rng.IntN(len(members))]
			held := sum.inflight[mb.name]
			if len(held) == 0 {
				continue
			}
			l.ack(t, mb.name, mb.c, held[rng.IntN(len(held))])
			acked++
		}
	}
	sum := checkLog(t, l, sent)
	for _, m := range sent {
		if a, _ := sum.of("grp", m); a != 1 {
			t.Fatalf("%s acked %d times", m.Body, a)
		}
	}
	// A group stays with its consumer until that consumer leaves.
	owners := map[string][]string{} // group -> its consumers, in turn
	left := map[string]bool{}
	l.mu.Lock()
	evs := l.ev
	l.mu.Unlock()
	for _, e := range evs {
		switch {
		case e.kind == evClosing:
			left[e.consumer] = true
		case e.kind == evDeliver && e.msg.GroupID != "":
			g, o := e.msg.GroupID, owners[e.msg.GroupID]
			if len(o) > 0 && o[len(o)-1] != e.consumer {
				if prev := o[len(o)-1]; !left[prev] {
					t.Fatalf("group %s moved from %s to %s, which had not left", g, prev, e.consumer)
				}
			}
			if len(o) == 0 || o[len(o)-1] != e.consumer {
				owners[g] = append(o, e.consumer)
			}
		}
	}
	t.Logf("%d consumers joined, %d left; group owners %v", joined, joined-len(members), owners)
}

// Nothing reaches a consumer once its Close returned, even while another
// goroutine keeps sending and other consumers keep taking.
func TestCoreNoDeliveryAfterClose(t *testing.T) {
	cb := startCore(t, t.TempDir(), Config{})
	l := newLog(cb)
	s := cb.session(t, "")
	l.consume(t, s, "stays", ConsumerOptions{Dest: q("nc"), AckMode: AckAuto, Prefetch: 1 << 20})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p := cb.session(t, "")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			done := make(chan error, 1)
			p.Send(context.Background(), msg(q("nc"), fmt.Sprint(i)), "", func(err error) { done <- err })
			if err := <-done; err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for round := range 200 {
		name := fmt.Sprint("leaves-", round)
		c := l.consume(t, s, name, ConsumerOptions{Dest: q("nc"), AckMode: AckAuto, Prefetch: 1 << 20})
		if round%2 == 0 {
			l.waitDeliveries(t, name, 1)
		}
		l.closeConsumer(name, c)
		// Two sends after the Close: round robin would give one of them
		// to the consumer if it were still there.
		for i := range 2 {
			cb.send(t, s, msg(q("nc"), fmt.Sprintf("after-%d-%d", round, i)))
		}
	}
	close(stop)
	wg.Wait()
	checkLog(t, l, nil)
}
