package stomp

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/internal/broker"
)

// groupChecker watches every delivery and every ack of a grouped run and
// fails the test when two consumers hold unacked messages of one group at
// once, or when a group's messages are acked out of order or twice.
type groupChecker struct {
	t  *testing.T
	mu sync.Mutex
	// holder[g] = consumer holding unacked messages of g, with a count
	holder          map[string]string
	held            map[string]int
	next            map[string]int // next seq expected to be acked per group
	dead            map[string]bool
	nAcked          int
	redeliveredSeen int
}

func newGroupChecker(t *testing.T) *groupChecker {
	return &groupChecker{t: t, holder: map[string]string{}, held: map[string]int{}, next: map[string]int{}, dead: map[string]bool{}}
}

func (gc *groupChecker) delivered(consumer, group string, m *gostomp.Message) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.dead[consumer] {
		return // it will never ack: the broker redelivers
	}
	if m.Header.Get("redelivered") == "true" {
		gc.redeliveredSeen++
	}
	if h, ok := gc.holder[group]; ok && h != consumer && gc.held[group] > 0 {
		gc.t.Errorf("group %s delivered to %s while %s holds %d unacked", group, consumer, h, gc.held[group])
	}
	gc.holder[group] = consumer
	gc.held[group]++
}

// dropped forgets what a dead consumer held (the broker redelivers it).
func (gc *groupChecker) dropped(consumer string) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	gc.dead[consumer] = true
	for g, h := range gc.holder {
		if h == consumer {
			gc.held[g] = 0
		}
	}
}

// acked records a processed message. A redelivery of the last message
// processed is allowed (its ack was lost with the consumer that sent it:
// at-least-once); anything else out of sequence is an order violation.
func (gc *groupChecker) acked(group string, seq int, redelivered bool) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if redelivered && seq == gc.next[group] {
		gc.held[group]--
		return
	}
	if want := gc.next[group] + 1; seq != want {
		gc.t.Errorf("group %s: acked seq %d, want %d", group, seq, want)
	}
	gc.next[group] = seq
	gc.held[group]--
	gc.nAcked++
}

func (gc *groupChecker) ackedCount() int {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	return gc.nAcked
}

// groupConsumer consumes with client-individual acks, processing one
// message at a time in arrival order, as a real worker would.
func groupConsumer(t *testing.T, tb *testBroker, name, queue string, gc *groupChecker, prefetch int, stop <-chan struct{}) *gostomp.Conn {
	// go-stomp delivers MESSAGEs and sends frames on one goroutine: when a
	// subscription's channel is full it stops sending, and an ACK waiting
	// for room in its write channel deadlocks the pair. A write channel
	// larger than the prefetch keeps ACKs from ever waiting.
	c, err := gostomp.Dial("tcp", tb.addr, gostomp.ConnOpt.HeartBeat(0, 0), gostomp.ConnOpt.Logger(nopLogger{}),
		gostomp.ConnOpt.WriteChannelCapacity(2*prefetch+20))
	if err != nil {
		t.Fatal(err)
	}
	s := subscribe(t, c, queue, gostomp.AckClientIndividual, "activemq.prefetchSize", strconv.Itoa(prefetch))
	go func() {
		for {
			select {
			case <-stop:
				return
			case m, ok := <-s.C:
				if !ok || m.Err != nil {
					return
				}
				g := m.Header.Get("JMSXGroupID")
				seq, _ := strconv.Atoi(m.Header.Get("JMSXGroupSeq"))
				gc.delivered(name, g, m)
				select {
				case <-stop:
					return
				default:
				}
				if err := c.Ack(m); err != nil {
					return
				}
				gc.acked(g, seq, m.Header.Get("redelivered") == "true")
			}
		}
	}()
	return c
}

// sendGrouped sends perGroup messages to each of groups groups, with
// increasing JMSXGroupSeq. It may run on its own goroutine, so it reports
// failure as an error.
func sendGrouped(p *gostomp.Conn, queue string, groups, perGroup int) error {
	for i := 1; i <= perGroup; i++ {
		for g := range groups {
			err := p.Send(queue, "text/plain", []byte(fmt.Sprintf("g%d-%d", g, i)),
				gostomp.SendOpt.Header("JMSXGroupID", "g"+strconv.Itoa(g)),
				gostomp.SendOpt.Header("JMSXGroupSeq", strconv.Itoa(i)))
			if err != nil {
				return err
			}
		}
	}
	// A receipt on the last send covers all earlier ones (frames are in order).
	return p.Send(queue+"-end", "text/plain", nil, gostomp.SendOpt.Receipt)
}

func waitAcked(t *testing.T, gc *groupChecker, n int, within time.Duration) {
	t.Helper()
	testutil.Eventually(t, within, func() bool { return gc.ackedCount() >= n }, "%d messages acked", n)
}

func TestGroupsThreeConsumersOrderAndExclusivity(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	gc := newGroupChecker(t)
	stop := make(chan struct{})
	defer close(stop)
	for i := range 3 {
		c := groupConsumer(t, tb, "c"+strconv.Itoa(i), "/queue/groups", gc, 50, stop)
		defer c.MustDisconnect()
	}
	waitConsumers(t, tb.b, 3)
	p := tb.dial()
	if err := sendGrouped(p, "/queue/groups", 200, 100); err != nil {
		t.Fatal(err)
	}
	waitAcked(t, gc, 20000, 60*time.Second)
	// The last acks may still be on their way to the broker.
	testutil.Eventually(t, 10*time.Second, func() bool {
		st := queueStat(tb.b, "queue://groups")
		return st.Pending == 0 && st.InFlight == 0
	}, "queue drained: %+v", queueStat(tb.b, "queue://groups"))
}

func TestGroupsConsumerKilledMidStream(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	gc := newGroupChecker(t)
	stop := make(chan struct{})
	defer close(stop)
	victimStop := make(chan struct{})
	c0 := groupConsumer(t, tb, "c0", "/queue/gkill", gc, 20, stop)
	defer c0.MustDisconnect()
	c1 := groupConsumer(t, tb, "c1", "/queue/gkill", gc, 20, stop)
	defer c1.MustDisconnect()
	victim := groupConsumer(t, tb, "victim", "/queue/gkill", gc, 20, victimStop)
	waitConsumers(t, tb.b, 3)
	p := tb.dial()
	sendErr := make(chan error, 1)
	go func() { sendErr <- sendGrouped(p, "/queue/gkill", 60, 50) }()
	waitAcked(t, gc, 600, 30*time.Second)
	// Kill the victim without acking what it holds.
	close(victimStop)
	// Forget what the victim holds before its connection drops: the broker
	// redelivers those messages the moment it notices.
	gc.dropped("victim")
	victim.MustDisconnect()
	waitAcked(t, gc, 3000, 60*time.Second)
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	gc.mu.Lock()
	redelivered := gc.redeliveredSeen
	gc.mu.Unlock()
	if redelivered == 0 {
		t.Log("victim held nothing unacked at the kill; redelivery flag not exercised this run")
	}
	// The last acks may still be on their way to the broker.
	testutil.Eventually(t, 10*time.Second, func() bool {
		st := queueStat(tb.b, "queue://gkill")
		return st.Pending == 0 && st.InFlight == 0
	}, "queue drained: %+v", queueStat(tb.b, "queue://gkill"))
}

func TestGroupsBeyond1024KeepOrderAndCloseFreesGroup(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	gc := newGroupChecker(t)
	stop := make(chan struct{})
	defer close(stop)
	for i := range 2 {
		c := groupConsumer(t, tb, "c"+strconv.Itoa(i), "/queue/g5k", gc, 100, stop)
		defer c.MustDisconnect()
	}
	waitConsumers(t, tb.b, 2)
	p := tb.dial()
	if err := sendGrouped(p, "/queue/g5k", 5000, 3); err != nil {
		t.Fatal(err)
	}
	waitAcked(t, gc, 15000, 60*time.Second)

	// JMSXGroupSeq -1 closes a group: its owner is forgotten once settled.
	q := tb.dial()
	s := subscribe(t, q, "/queue/gclose", gostomp.AckAuto)
	waitConsumers(t, tb.b, 3)
	send(t, p, "/queue/gclose", "last", "JMSXGroupID", "closing", "JMSXGroupSeq", "-1")
	if m := recv(t, s); m.Header.Get("JMSXGroupFirstForConsumer") != "true" {
		t.Fatalf("first message of a group not flagged: %v", m.Header)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return queueStat(tb.b, "queue://gclose").Groups == 0 }, "closed group forgotten")
	send(t, p, "/queue/gclose", "again", "JMSXGroupID", "closing", "JMSXGroupSeq", "1")
	if m := recv(t, s); m.Header.Get("JMSXGroupFirstForConsumer") != "true" {
		t.Fatalf("reopened group not flagged first-for-consumer: %v", m.Header)
	}
}

func TestGroupDispatchWaitsForConsumers(t *testing.T) {
	tb := startBroker(t, broker.Config{ConsumersBeforeDispatchStarts: 2, TimeBeforeDispatchStarts: 5 * time.Second}, Options{})
	p := tb.dial()
	for g := range 10 {
		send(t, p, "/queue/gwait", "m", "JMSXGroupID", "g"+strconv.Itoa(g))
	}
	a, b := tb.dial(), tb.dial()
	sa := subscribe(t, a, "/queue/gwait", gostomp.AckAuto)
	noMessage(t, sa, 100*time.Millisecond) // held until the second consumer
	sb := subscribe(t, b, "/queue/gwait", gostomp.AckAuto)
	na, nb := 0, 0
	for na+nb < 10 {
		select {
		case <-sa.C:
			na++
		case <-sb.C:
			nb++
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d+%d of 10", na, nb)
		}
	}
	if na == 0 || nb == 0 {
		t.Fatalf("groups not spread: %d/%d", na, nb)
	}
}
