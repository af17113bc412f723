package failover

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tethermq/tether/failover/session"
	"github.com/tethermq/tether/internal/testutil"
)

// fastURI reconnects within a millisecond or two on the real clock.
const fastQuery = "randomize=false&reconnectJitter=false&initialReconnectDelay=1&maxReconnectDelay=5"

func dialFake(t *testing.T, uri string, fnet *fakeNet) (*Conn, *eventLog) {
	t.Helper()
	log := &eventLog{}
	c, err := Dial(context.Background(), mustParse(uri), Config{Dialer: fnet, OnEvent: log.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c, log
}

func waitSessions(t *testing.T, fnet *fakeNet, n int) *fakeSession {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, func() bool { return fnet.sessionCount() >= n }, "session %d never connected", n)
	return fnet.session(n - 1)
}

func waitLive(t *testing.T, c *Conn) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, func() bool { return c.Stats().Connected }, "not reconnected")
}

func msg(id string) *session.Delivery { return &session.Delivery{MessageID: id} }

func next(t *testing.T, s *Subscription) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return m.Delivery().MessageID
}

func TestUnconfirmedSendIsResentWithItsID(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.confirm = false
	fnet.setUp("a:1", true)
	c, log := dialFake(t, "failover:(tcp://a:1)?"+fastQuery, fnet)
	s1 := fnet.session(0)

	errc := make(chan error, 1)
	go func() {
		errc <- c.Send(context.Background(), &session.Outgoing{Destination: session.Destination{Name: "q"}, Confirm: true, DuplicateID: "dup-1"})
	}()
	testutil.Eventually(t, 5*time.Second, func() bool { return s1.heldCount() == 1 }, "send not written")
	if st := c.Stats(); st.PendingSends != 1 {
		t.Errorf("PendingSends %d", st.PendingSends)
	}

	fnet.mu.Lock()
	fnet.confirm = true // the next broker confirms at once
	fnet.mu.Unlock()
	s1.kill()
	s2 := waitSessions(t, fnet, 2)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not complete after the reconnect")
	}
	if got := s2.sentIDs(); !slices.Equal(got, []string{"dup-1"}) {
		t.Errorf("sent on the new connection: %v, want the original id once", got)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return len(log.of(EventResent)) == 1 }, "no Resent event")
	if e := log.of(EventResent)[0]; e.Count != 1 {
		t.Errorf("Resent count %d", e.Count)
	}
	if st := c.Stats(); st.Resent != 1 || st.Sent != 1 || st.PendingSends != 0 || st.Reconnects != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSubscriptionRestoredWithItsOptions(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.setUp("a:1", true)
	fnet.setUp("b:2", true)
	c, log := dialFake(t, "failover:(tcp://a:1,tcp://b:2)?"+fastQuery, fnet)
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, session.SubscribeSpec{Destination: session.Destination{Kind: session.Topic, Name: "t"}, Ack: session.AckIndividual, Prefetch: 7})
	if err != nil {
		t.Fatal(err)
	}
	s1 := fnet.session(0)
	s1.deliver(sub.ID(), msg("m1"))
	if got := next(t, sub); got != "m1" {
		t.Fatalf("got %s", got)
	}
	s1.kill()
	s2 := waitSessions(t, fnet, 2)
	waitLive(t, c)
	if got := s2.subscriptions(); !slices.Equal(got, []string{sub.ID() + "@topic://t"}) {
		t.Errorf("restored %v", got)
	}
	if s2.host != "b:2" {
		t.Errorf("reconnected to %s, want b:2 (the lost broker goes last)", s2.host)
	}
	if !s2.deliver(sub.ID(), msg("m2")) {
		t.Fatal("subscription missing on the new connection")
	}
	if got := next(t, sub); got != "m2" {
		t.Errorf("got %s", got)
	}
	resumed := log.of(EventResumed)
	if len(resumed) != 1 || resumed[0].URI != "tcp://b:2" {
		t.Errorf("resumed %+v", resumed)
	}
	if ev := log.of(EventInterrupted); len(ev) != 1 || ev[0].URI != "tcp://a:1" {
		t.Errorf("interrupted %+v", ev)
	}
}

func TestAckInDoubtDropsTheRedelivery(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.setUp("a:1", true)
	c, log := dialFake(t, "failover:(tcp://a:1)?"+fastQuery, fnet)
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, session.SubscribeSpec{Destination: session.Destination{Name: "q"}, Ack: session.AckIndividual})
	if err != nil {
		t.Fatal(err)
	}
	s1 := fnet.session(0)
	s1.mu.Lock()
	s1.ackHold = true // acks go out, receipts never come back
	s1.mu.Unlock()
	for _, id := range []string{"acked", "unacked", "untaken"} {
		s1.deliver(sub.ID(), msg(id))
	}
	m, _ := sub.Next(ctx)
	if _, err := sub.Next(ctx); err != nil { // "unacked": taken, never acked
		t.Fatal(err)
	}
	ackErr := make(chan error, 1)
	go func() { ackErr <- m.Ack(ctx) }()
	testutil.Eventually(t, 5*time.Second, func() bool { return slices.Contains(s1.ackedIDs(), "acked") }, "ack not sent")
	s1.kill()
	if err := <-ackErr; err != nil {
		t.Errorf("an in-doubt ack returns nil (the audit resolves it), got %v", err)
	}
	s2 := waitSessions(t, fnet, 2)
	waitLive(t, c)
	// The broker redelivers all three: the in-doubt one is acked and
	// dropped, the other two are handed to the application again.
	for _, id := range []string{"acked", "unacked", "untaken"} {
		d := msg(id)
		d.Redelivered = true
		s2.deliver(sub.ID(), d)
	}
	if got := []string{next(t, sub), next(t, sub)}; !slices.Equal(got, []string{"unacked", "untaken"}) {
		t.Errorf("handed %v, want [unacked untaken]", got)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return slices.Equal(s2.ackedIDs(), []string{"acked"}) }, "duplicate not re-acked: %v", s2.ackedIDs())
	testutil.Eventually(t, 5*time.Second, func() bool { return len(log.of(EventDuplicateDropped)) == 1 }, "no DuplicateDropped")
	if e := log.of(EventDuplicateDropped)[0]; e.MessageID != "acked" || e.SubscriptionID != sub.ID() {
		t.Errorf("event %+v", e)
	}
	if st := c.Stats(); st.DuplicatesDropped != 1 || st.InDoubtAcks != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestAckOfAMessageFromALostConnectionIsInDoubt(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.setUp("a:1", true)
	c, _ := dialFake(t, "failover:(tcp://a:1)?"+fastQuery, fnet)
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, session.SubscribeSpec{Destination: session.Destination{Name: "q"}, Ack: session.AckClient})
	if err != nil {
		t.Fatal(err)
	}
	s1 := fnet.session(0)
	s1.deliver(sub.ID(), msg("x"))
	s1.deliver(sub.ID(), msg("y"))
	s1.deliver(sub.ID(), msg("z"))
	next(t, sub)
	y, _ := sub.Next(ctx)
	s1.kill()
	s2 := waitSessions(t, fnet, 2)
	waitLive(t, c)
	// Acked after the loss: client mode covers x and y; nothing goes on the
	// wire, and their redeliveries are dropped.
	if err := y.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s1.ackedIDs(); len(got) != 0 {
		t.Errorf("acked on a dead connection: %v", got)
	}
	for _, id := range []string{"x", "y", "z"} {
		s2.deliver(sub.ID(), msg(id))
	}
	if got := next(t, sub); got != "z" {
		t.Errorf("got %s, want z", got)
	}
	if st := c.Stats(); st.DuplicatesDropped != 2 {
		t.Errorf("dropped %d, want 2", st.DuplicatesDropped)
	}
}

func TestAuditWindowIsBounded(t *testing.T) {
	a := newAudit(3)
	for _, id := range []string{"1", "2", "3", "4"} {
		a.add(id)
	}
	if a.contains("1") || !a.contains("2") || !a.contains("4") || a.len() != 3 {
		t.Errorf("window %v", a.ids)
	}
	a.add("4")
	if a.len() != 3 || !a.contains("2") {
		t.Errorf("re-adding evicted: %v", a.ids)
	}
}

func TestTransactionRolledBackByFailover(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.setUp("a:1", true)
	c, _ := dialFake(t, "failover:(tcp://a:1)?"+fastQuery, fnet)
	ctx := context.Background()
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Send(ctx, &session.Outgoing{Destination: session.Destination{Name: "q"}}); err != nil {
		t.Fatal(err)
	}
	fnet.session(0).kill()
	waitSessions(t, fnet, 2)
	waitLive(t, c)
	if err := tx.Send(ctx, &session.Outgoing{Destination: session.Destination{Name: "q"}}); !errors.Is(err, ErrTxRolledBack) {
		t.Errorf("send after failover: %v", err)
	}
	if err := tx.Commit(ctx); !errors.Is(err, ErrTxDone) && !errors.Is(err, ErrTxRolledBack) {
		t.Errorf("commit after failover: %v", err)
	}
	tx2, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fnet.session(1).kill()
	if err := tx2.Commit(ctx); !errors.Is(err, ErrTxRolledBack) {
		t.Errorf("commit on a dead connection: %v, want ErrTxRolledBack", err)
	}
	if err := tx2.Abort(ctx); err != nil && !errors.Is(err, ErrTxDone) {
		t.Errorf("abort: %v", err)
	}
}

func TestGivingUpFailsEverything(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.setUp("a:1", true)
	c, log := dialFake(t, "failover:(tcp://a:1)?maxReconnectAttempts=2&"+fastQuery, fnet)
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, session.SubscribeSpec{Destination: session.Destination{Name: "q"}})
	if err != nil {
		t.Fatal(err)
	}
	fnet.setUp("a:1", false)
	fnet.session(0).kill()
	testutil.Eventually(t, 5*time.Second, func() bool { return len(log.of(EventFailed)) == 1 }, "never gave up")
	if got := len(log.of(EventReconnectFailed)); got != 2 {
		t.Errorf("%d failed passes, want 2", got)
	}
	if err := c.Send(ctx, &session.Outgoing{Destination: session.Destination{Name: "q"}, Confirm: true}); !errors.Is(err, ErrReconnectFailed) {
		t.Errorf("send: %v", err)
	}
	if _, err := sub.Next(ctx); !errors.Is(err, ErrReconnectFailed) {
		t.Errorf("next: %v", err)
	}
}

func TestCloseEndsWaiters(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.setUp("a:1", true)
	c, _ := dialFake(t, "failover:(tcp://a:1)?"+fastQuery, fnet)
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, session.SubscribeSpec{Destination: session.Destination{Name: "q"}})
	if err != nil {
		t.Fatal(err)
	}
	fnet.setUp("a:1", false)
	fnet.session(0).kill()
	testutil.Eventually(t, 5*time.Second, func() bool { return !c.Stats().Connected }, "still connected")
	errc := make(chan error, 2)
	go func() {
		errc <- c.Send(ctx, &session.Outgoing{Destination: session.Destination{Name: "q"}, Confirm: true})
	}()
	go func() { _, err := sub.Next(ctx); errc <- err }()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Errorf("waiter ended with %v, want ErrClosed", err)
		}
	}
}

func TestTrackMessagesResendsUnconfirmedSends(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.setUp("a:1", true)
	c, log := dialFake(t, "failover:(tcp://a:1)?trackMessages=true&maxCacheSize=10&"+fastQuery, fnet)
	ctx := context.Background()
	for _, body := range []string{"12345", "abcde", "vwxyz"} {
		if err := c.Send(ctx, &session.Outgoing{Destination: session.Destination{Name: "q"}, Body: []byte(body), DuplicateID: body}); err != nil {
			t.Fatal(err)
		}
	}
	fnet.session(0).kill()
	s2 := waitSessions(t, fnet, 2)
	waitLive(t, c)
	// 10 bytes of cache keep the two newest.
	if got := s2.sentIDs(); !slices.Equal(got, []string{"abcde", "vwxyz"}) {
		t.Errorf("re-sent %v", got)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return len(log.of(EventResent)) == 1 }, "no Resent event")
}

func TestClientAckCoversEarlierMessagesOnly(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.setUp("a:1", true)
	c, _ := dialFake(t, "failover:(tcp://a:1)?"+fastQuery, fnet)
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, session.SubscribeSpec{Destination: session.Destination{Name: "q"}, Ack: session.AckClient})
	if err != nil {
		t.Fatal(err)
	}
	s1 := fnet.session(0)
	for _, id := range []string{"a", "b", "c", "d"} {
		s1.deliver(sub.ID(), msg(id))
	}
	next(t, sub)
	b, _ := sub.Next(ctx)
	if got := sub.takeCovered(b); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("covered %v, want [a b]", got)
	}
	if len(sub.unacked) != 2 || sub.unacked[0].id != "c" || sub.unacked[1].id != "d" {
		t.Errorf("left unacked %v, want [c d]", sub.unacked)
	}
}

func TestLateAckDropsAQueuedRedelivery(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.setUp("a:1", true)
	c, _ := dialFake(t, "failover:(tcp://a:1)?"+fastQuery, fnet)
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, session.SubscribeSpec{Destination: session.Destination{Name: "q"}, Ack: session.AckIndividual})
	if err != nil {
		t.Fatal(err)
	}
	fnet.session(0).deliver(sub.ID(), msg("m"))
	m, _ := sub.Next(ctx)
	fnet.session(0).kill()
	s2 := waitSessions(t, fnet, 2)
	waitLive(t, c)
	s2.deliver(sub.ID(), msg("m")) // the redelivery is queued before the app acks
	s2.deliver(sub.ID(), msg("n"))
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if got := next(t, sub); got != "n" {
		t.Errorf("got %s, want n: the queued redelivery of an acked message must go", got)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return slices.Equal(s2.ackedIDs(), []string{"m"}) }, "redelivery not acked: %v", s2.ackedIDs())
}

func TestTransactionRefusesAStaleMessage(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.setUp("a:1", true)
	c, _ := dialFake(t, "failover:(tcp://a:1)?"+fastQuery, fnet)
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, session.SubscribeSpec{Destination: session.Destination{Name: "q"}, Ack: session.AckIndividual})
	if err != nil {
		t.Fatal(err)
	}
	fnet.session(0).deliver(sub.ID(), msg("old"))
	m, _ := sub.Next(ctx)
	fnet.session(0).kill()
	waitSessions(t, fnet, 2)
	waitLive(t, c)
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Ack(ctx, m); !errors.Is(err, ErrStaleMessage) {
		t.Errorf("err = %v, want ErrStaleMessage", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Errorf("commit: %v", err)
	}
	if err := tx.Commit(ctx); !errors.Is(err, ErrTxDone) {
		t.Errorf("second commit: %v", err)
	}
}
