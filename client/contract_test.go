package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/client/stomp"
	"github.com/tethermq/tether/internal/testutil"
)

// fast makes reconnects quick and deterministic for tests.
const fast = "randomize=false&reconnectJitter=false&initialReconnectDelay=10&maxReconnectDelay=100"

// TestBrokerRestartMidStream stops and restarts a broker (same port, same
// data directory) while a producer and a consumer run: every confirmed send
// is received exactly once.
func TestBrokerRestartMidStream(t *testing.T) {
	b := startBroker(t, "restart")
	uri := "failover:(" + b.uri() + ")?" + fast
	producer, pev := dial(t, uri)
	consumer, cev := dial(t, uri)
	ctx := testCtx(t, 60*time.Second)

	sub, err := consumer.Subscribe(ctx, "queue://orders", client.AckIndividual, client.Prefetch(10))
	if err != nil {
		t.Fatal(err)
	}
	const total = 300
	var (
		mu        sync.Mutex
		confirmed = map[string]bool{}
		received  = map[string]int{}
	)
	prodDone := make(chan error, 1)
	go func() {
		for i := range total {
			body := fmt.Sprintf("m-%03d", i)
			if err := producer.Send(ctx, "queue://orders", []byte(body), client.Persistent()); err != nil {
				prodDone <- fmt.Errorf("send %s: %w", body, err)
				return
			}
			mu.Lock()
			confirmed[body] = true
			mu.Unlock()
		}
		prodDone <- nil
	}()
	consDone := make(chan error, 1)
	go func() {
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				consDone <- err
				return
			}
			mu.Lock()
			received[string(m.Body())]++
			n := len(received)
			mu.Unlock()
			if err := m.Ack(ctx); err != nil {
				consDone <- err
				return
			}
			if n == total {
				consDone <- nil
				return
			}
		}
	}()

	testutil.Eventually(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(confirmed) >= 100 && len(received) >= 50
	}, "stream did not get going")
	b.stop()
	testutil.Eventually(t, 10*time.Second, func() bool {
		return pev.count(client.EventInterrupted) > 0 && cev.count(client.EventInterrupted) > 0
	}, "clients did not notice the broker going away")
	b.start()

	if err := <-prodDone; err != nil {
		t.Fatal(err)
	}
	if err := <-consDone; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for body := range confirmed {
		if received[body] != 1 {
			t.Errorf("%s received %d times", body, received[body])
		}
	}
	if pev.count(client.EventResumed) == 0 || cev.count(client.EventResumed) == 0 {
		t.Error("no Resumed event")
	}
	t.Logf("producer %+v", producer.Stats())
	t.Logf("consumer %+v", consumer.Stats())
}

// TestFailoverBetweenTwoBrokers: the first broker goes away for good; the
// client resumes on the second with its subscription, and a send made
// during the outage completes there.
func TestFailoverBetweenTwoBrokers(t *testing.T) {
	a, b := startBroker(t, "a"), startBroker(t, "b")
	c, ev := dial(t, "failover:("+a.uri()+","+b.uri()+")?"+fast)
	ctx := testCtx(t, 30*time.Second)
	if got := c.URI(); got != a.uri() {
		t.Fatalf("connected to %s, want %s (randomize=false)", got, a.uri())
	}
	sub, err := c.Subscribe(ctx, "topic://prices")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, "topic://prices", []byte("on-a")); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.Next(ctx); err != nil || string(m.Body()) != "on-a" {
		t.Fatalf("%v %v", m, err)
	}
	a.stop()
	if err := c.Send(ctx, "topic://prices", []byte("on-b")); err != nil {
		t.Fatalf("send during failover: %v", err)
	}
	m, err := sub.Next(ctx)
	if err != nil || string(m.Body()) != "on-b" {
		t.Fatalf("after failover: %v %v", m, err)
	}
	if got := c.URI(); got != b.uri() {
		t.Errorf("connected to %s, want %s", got, b.uri())
	}
	if r := ev.of(client.EventResumed); len(r) != 1 || r[0].URI != b.uri() {
		t.Errorf("resumed %+v", r)
	}
	if i := ev.of(client.EventInterrupted); len(i) != 1 || i[0].URI != a.uri() {
		t.Errorf("interrupted %+v", i)
	}
}

// TestPriorityBackupFailback: started on the backup while the priority
// broker is down, the client moves back as soon as the priority broker
// answers, with its subscription.
func TestPriorityBackupFailback(t *testing.T) {
	primary, backup := startBroker(t, "primary"), startBroker(t, "backup")
	primary.stop()
	c, ev := dial(t, "failover:("+primary.uri()+","+backup.uri()+")?priorityBackup=true&"+fast)
	ctx := testCtx(t, 30*time.Second)
	if got := c.URI(); got != backup.uri() {
		t.Fatalf("connected to %s, want the backup", got)
	}
	sub, err := c.Subscribe(ctx, "queue://work", client.AckClient)
	if err != nil {
		t.Fatal(err)
	}
	primary.start()
	testutil.Eventually(t, 10*time.Second, func() bool { return c.URI() == primary.uri() }, "no failback to the priority broker")
	if r := ev.of(client.EventResumed); len(r) != 1 || r[0].URI != primary.uri() {
		t.Errorf("resumed %+v", r)
	}
	if err := c.Send(ctx, "queue://work", []byte("job")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil || string(m.Body()) != "job" {
		t.Fatalf("subscription after failback: %v %v", m, err)
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestBackupSwitchesToStandby: with backup=true a handshaken standby is
// ready, and losing the broker switches to it without a reconnect pass.
func TestBackupSwitchesToStandby(t *testing.T) {
	a, b := startBroker(t, "a"), startBroker(t, "b")
	c, ev := dial(t, "failover:("+a.uri()+","+b.uri()+")?backup=true&"+fast)
	testutil.Eventually(t, 10*time.Second, func() bool { return c.Stats().Standby == 1 }, "no standby connection")
	a.stop()
	testutil.Eventually(t, 10*time.Second, func() bool { return c.URI() == b.uri() }, "did not switch to the standby")
	if n := ev.count(client.EventReconnectFailed); n != 0 {
		t.Errorf("%d failed passes; the standby should have been used", n)
	}
	ctx := testCtx(t, 10*time.Second)
	if err := c.Send(ctx, "queue://x", []byte("ok")); err != nil {
		t.Fatal(err)
	}
}

// TestTimeoutWhileDisconnected: with timeout=300 a send waits that long for
// a connection, then fails with ErrTimeout.
func TestTimeoutWhileDisconnected(t *testing.T) {
	b := startBroker(t, "down")
	c, _ := dial(t, "failover:("+b.uri()+")?timeout=300&"+fast)
	b.stop()
	testutil.Eventually(t, 10*time.Second, func() bool { return !c.Stats().Connected }, "still connected")
	start := time.Now()
	err := c.Send(testCtx(t, 10*time.Second), "queue://q", []byte("x"))
	elapsed := time.Since(start)
	if !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if elapsed < 250*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("timed out after %v, want about 300ms", elapsed)
	}
	// The context bounds the wait too, with its own error.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = c.Send(ctx, "queue://q", []byte("x"))
	if !errors.Is(err, client.ErrDisconnected) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ctx expiry: %v", err)
	}
}

// TestHostilePeersAreSkipped: a peer that accepts TCP and never answers, and
// one that accepts and resets, are failed attempts; the client moves on
// within connectTimeout.
func TestHostilePeersAreSkipped(t *testing.T) {
	silent, reset := silentPeer(t), resetPeer(t)
	b := startBroker(t, "real")
	start := time.Now()
	c, _ := dial(t, "failover:("+silent.uri()+","+reset.uri()+","+b.uri()+")?connectTimeout=300&"+fast)
	elapsed := time.Since(start)
	if c.URI() != b.uri() {
		t.Fatalf("connected to %s", c.URI())
	}
	if silent.hits.Load() != 1 || reset.hits.Load() != 1 {
		t.Errorf("hits: silent %d reset %d", silent.hits.Load(), reset.hits.Load())
	}
	if elapsed < 300*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("took %v; the silent peer should cost one connectTimeout (300ms)", elapsed)
	}

	for name, h := range map[string]*hostile{"silent": silent, "reset": reset} {
		start := time.Now()
		_, err := client.Dial(testCtx(t, 10*time.Second), "failover:("+h.uri()+")?maxReconnectAttempts=0&connectTimeout=300")
		if !errors.Is(err, client.ErrReconnectFailed) {
			t.Errorf("%s: err = %v", name, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: gave up after %v", name, d)
		}
		if name == "silent" && !strings.Contains(fmt.Sprint(err), "connectTimeout") {
			t.Errorf("silent: error does not say why: %v", err)
		}
	}
}

// TestAckWithLostReceiptIsNotRedelivered: the ACK leaves the client but its
// receipt never comes back (the proxy swallows the ACK and cuts the
// connection). After the reconnect the broker redelivers the message; the
// client acks it again and drops it instead of handing it over twice.
func TestAckWithLostReceiptIsNotRedelivered(t *testing.T) {
	b := startBroker(t, "dedupe")
	var once sync.Once
	p := startProxy(t, fmt.Sprintf("127.0.0.1:%d", b.port), func(f *frame.Frame) verdict {
		v := forward
		if f.Command == frame.ACK {
			once.Do(func() { v = swallowAndKill })
		}
		return v
	})
	producer, _ := dial(t, b.uri())
	consumer, ev := dial(t, "failover:("+p.uri()+")?"+fast)
	ctx := testCtx(t, 30*time.Second)

	sub, err := consumer.Subscribe(ctx, "queue://pay", client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	if err := producer.Send(ctx, "queue://pay", []byte("first"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil || string(m.Body()) != "first" {
		t.Fatalf("%v %v", m, err)
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatalf("in-doubt ack: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return ev.count(client.EventDuplicateDropped) == 1 }, "redelivery not dropped")
	if d := ev.of(client.EventDuplicateDropped)[0]; d.MessageID != m.ID() {
		t.Errorf("dropped %s, want %s", d.MessageID, m.ID())
	}
	if err := producer.Send(ctx, "queue://pay", []byte("second"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	m2, err := sub.Next(ctx)
	if err != nil || string(m2.Body()) != "second" {
		t.Fatalf("next after the drop: %v %v (the first must not come back)", m2, err)
	}
	if err := m2.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if st := consumer.Stats(); st.DuplicatesDropped != 1 || st.Received != 2 {
		t.Errorf("stats %+v", st)
	}
	// The re-ack reached the broker: a new consumer sees only what is sent
	// from now on.
	if err := sub.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	if err := producer.Send(ctx, "queue://pay", []byte("third"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	sub2, err := producer.Subscribe(ctx, "queue://pay", client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := sub2.Next(ctx)
	if err != nil || string(m3.Body()) != "third" {
		t.Fatalf("queue still holds an acked message: %v %v", m3, err)
	}
}

// TestAckReceivedByStoppedBroker: the broker gets the ACK and is stopped
// before its receipt reaches the client. Whether or not the ack was stored,
// the application never sees the message again, and a redelivery counts as
// DuplicateDropped.
func TestAckReceivedByStoppedBroker(t *testing.T) {
	b := startBroker(t, "stopped")
	acked := make(chan struct{})
	var once sync.Once
	p := startProxy(t, fmt.Sprintf("127.0.0.1:%d", b.port), func(f *frame.Frame) verdict {
		v := forward
		if f.Command == frame.ACK {
			once.Do(func() { v = forwardAndMute; close(acked) })
		}
		return v
	})
	consumer, ev := dial(t, "failover:("+p.uri()+")?"+fast)
	ctx := testCtx(t, 30*time.Second)
	sub, err := consumer.Subscribe(ctx, "queue://ledger", client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	if err := consumer.Send(ctx, "queue://ledger", []byte("entry-1"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ackDone := make(chan error, 1)
	go func() { ackDone <- m.Ack(ctx) }()
	<-acked
	b.stop()
	if err := <-ackDone; err != nil {
		t.Fatalf("ack: %v", err)
	}
	b.start()
	if err := consumer.Send(ctx, "queue://ledger", []byte("entry-2"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	m2, err := sub.Next(ctx)
	if err != nil || string(m2.Body()) != "entry-2" {
		t.Fatalf("got %v %v, want entry-2 (entry-1 was acked)", m2, err)
	}
	t.Logf("redelivery dropped: %d (0 if the broker stored the ack before stopping)", ev.count(client.EventDuplicateDropped))
}

// TestTransactionInterruptedByFailover: a failover before Commit rolls the
// transaction back; its send is not delivered.
func TestTransactionInterruptedByFailover(t *testing.T) {
	b := startBroker(t, "tx")
	c, _ := dial(t, "failover:("+b.uri()+")?"+fast)
	ctx := testCtx(t, 30*time.Second)
	sub, err := c.Subscribe(ctx, "queue://tx", client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Send(ctx, "queue://tx", []byte("lost"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	b.stop()
	b.start()
	if err := tx.Commit(ctx); !errors.Is(err, client.ErrTxRolledBack) {
		t.Fatalf("commit: %v, want ErrTxRolledBack", err)
	}
	tx2, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx2.Send(ctx, "queue://tx", []byte("kept"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil || string(m.Body()) != "kept" {
		t.Fatalf("got %v %v, want only the committed message", m, err)
	}
}

// TestSilentBrokerDetectedWithinTwoHeartBeats: a peer that completes the
// handshake with heart-beats and then says nothing is declared dead within
// two intervals.
func TestSilentBrokerDetectedWithinTwoHeartBeats(t *testing.T) {
	peer := listenHostile(t, func(h *hostile, c net.Conn) {
		h.mu.Lock()
		h.held = append(h.held, c)
		h.mu.Unlock()
		go func() {
			r, w := frame.NewReader(c), frame.NewWriter(c)
			if _, err := r.Read(); err != nil {
				return
			}
			_ = w.Write(frame.New(frame.CONNECTED, frame.Version, "1.2", frame.HeartBeat, "100,100"))
			for { // read on, answer nothing
				if _, err := r.Read(); err != nil {
					return
				}
			}
		}()
	})
	ev := &events{}
	connected := time.Now()
	c, err := client.Dial(testCtx(t, 10*time.Second), "failover:("+peer.uri()+")?"+fast,
		client.WithHeartBeat(100*time.Millisecond, 100*time.Millisecond), client.WithEventHandler(ev.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testutil.Eventually(t, 5*time.Second, func() bool { return ev.count(client.EventInterrupted) > 0 }, "silence not detected")
	at := ev.of(client.EventInterrupted)[0].Time.Sub(connected)
	if at < 150*time.Millisecond || at > time.Second {
		t.Errorf("detected after %v, want about two intervals (200ms)", at)
	}
	if !strings.Contains(fmt.Sprint(ev.of(client.EventInterrupted)[0].Err), "heart-beat") {
		t.Errorf("cause %v does not mention heart-beats", ev.of(client.EventInterrupted)[0].Err)
	}
}

// TestEveryHeaderRoundTrips checks the option-to-header mapping end to end.
func TestEveryHeaderRoundTrips(t *testing.T) {
	b := startBroker(t, "headers")
	c, _ := dial(t, b.uri())
	ctx := testCtx(t, 10*time.Second)
	sub, err := c.Subscribe(ctx, "queue://h", client.AckClient, client.Prefetch(1), client.Selector("kind = 'a'"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, "queue://h", []byte("skip"), client.Headers(map[string]string{"kind": "b"})); err != nil {
		t.Fatal(err)
	}
	err = c.Send(ctx, "queue://h", []byte("body"), client.Persistent(), client.Priority(7), client.TTL(time.Hour),
		client.Headers(map[string]string{"kind": "a", "x-y": "z:w"}), client.Group("g1"), client.GroupSeq(3),
		client.CorrelationID("corr"), client.ReplyTo("topic://replies"), client.DuplicateID("dup-42"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"body", string(m.Body()), "body"},
		{"destination", m.Destination(), "queue://h"},
		{"persistent", m.Persistent(), true},
		{"priority", m.Priority(), 7},
		{"header", m.Header("x-y"), "z:w"},
		{"group", m.GroupID(), "g1"},
		{"groupSeq", m.GroupSeq(), 3},
		{"firstForConsumer", m.FirstForConsumer(), true},
		{"correlation", m.CorrelationID(), "corr"},
		{"replyTo", m.ReplyTo(), "topic://replies"},
		{"duplicateID", m.DuplicateID(), "dup-42"},
		{"redelivered", m.Redelivered(), false},
		{"expires soon", m.Expires().After(time.Now()) && m.Expires().Before(time.Now().Add(2*time.Hour)), true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if m.ID() == "" || m.Headers()["kind"] != "a" {
		t.Errorf("id %q headers %v", m.ID(), m.Headers())
	}
	if err := m.Nack(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := sub.Next(ctx)
	if err != nil || !again.Redelivered() || again.ID() != m.ID() {
		t.Fatalf("after nack: %v %v", again, err)
	}
	if err := again.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	err = c.Send(ctx, "queue://h", nil, client.Headers(map[string]string{"receipt": "mine"}))
	if err == nil || !strings.Contains(err.Error(), "receipt") {
		t.Errorf("reserved header accepted: %v", err)
	}
}

// TestDurableSubscriptionKeepsMessages: a durable topic subscription (needs
// a client id) keeps what was published while it was away.
func TestDurableSubscriptionKeepsMessages(t *testing.T) {
	b := startBroker(t, "durable")
	ctx := testCtx(t, 20*time.Second)
	noID, _ := dial(t, b.uri())
	if _, err := noID.Subscribe(ctx, "topic://news", client.Durable("reader")); !errors.Is(err, client.ErrClientIDRequired) {
		t.Fatalf("err = %v", err)
	}
	c, _ := dial(t, b.uri(), client.WithClientID("reader-app"))
	sub, err := c.Subscribe(ctx, "topic://news", client.Durable("reader"), client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	if err := noID.Send(ctx, "topic://news", []byte("while away"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	sub, err = c.Subscribe(ctx, "topic://news", client.Durable("reader"), client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil || string(m.Body()) != "while away" {
		t.Fatalf("%v %v", m, err)
	}
}

func TestDialRefusals(t *testing.T) {
	ctx := testCtx(t, 5*time.Second)
	cases := []struct {
		uri  string
		is   error
		frag string
	}{
		{"amqp://127.0.0.1:5672", client.ErrProtocolNotBuilt, "amqp"},
		{"failover:(mqtt+ssl://h:1)", client.ErrProtocolNotBuilt, "mqtt"},
		{"failover:(tcp://h:1,amqp://h:2)", client.ErrProtocolNotBuilt, "amqp"},
		{"static:(tcp://h:1)", client.ErrInvalidURI, "network connectors"},
		{"gopher://h:1", nil, "unknown scheme"},
		{"failover:(tcp://h:1?bogus=1)", client.ErrInvalidURI, "bogus"},
		{"failover:(tcp://h:1)?backOffMultiplier=2", client.ErrInvalidURI, "reconnectDelayExponent"},
	}
	_, err := client.Dial(ctx, "failover:(tcp://h:1,custom://h:2)", client.WithDialer("custom", stomp.Dialer{}))
	if err == nil || !strings.Contains(err.Error(), "mixes protocols") {
		t.Errorf("mixed protocols: %v", err)
	}
	for _, tc := range cases {
		_, err := client.Dial(ctx, tc.uri)
		if err == nil {
			t.Errorf("%s: accepted", tc.uri)
			continue
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: %v is not %v", tc.uri, err, tc.is)
		}
		if !strings.Contains(err.Error(), tc.frag) {
			t.Errorf("%s: %q does not mention %q", tc.uri, err, tc.frag)
		}
	}
}

func TestBadCredentialsFailDialAtOnce(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	b := &broker{t: t, name: "auth", port: testutil.FreePort(t), dir: t.TempDir()}
	b.startWithUsers()
	t.Cleanup(b.stop)
	_, err := client.Dial(ctx, "failover:("+b.uri()+")", client.WithCredentials("app", "wrong"))
	var be *client.BrokerError
	if !errors.As(err, &be) || be.Op != "connect" {
		t.Fatalf("err = %v, want the broker's connect refusal", err)
	}
	c, err := client.Dial(ctx, "failover:("+b.uri()+")", client.WithCredentials("app", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestUnconfirmedSends(t *testing.T) {
	b := startBroker(t, "unconfirmed")
	c, _ := dial(t, b.uri(), client.WithConfirmNonPersistent(false))
	ctx := testCtx(t, 10*time.Second)
	sub, err := c.Subscribe(ctx, "queue://u")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := c.Send(ctx, "queue://u", []byte{byte('0' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for range 5 {
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(m.Body()))
	}
	if !slices.Equal(got, []string{"0", "1", "2", "3", "4"}) {
		t.Errorf("got %v", got)
	}
	if err := c.Send(ctx, "queue://u", nil, client.Persistent(), client.Unconfirmed()); err == nil {
		t.Error("an unconfirmed persistent send was accepted")
	}
}

func TestChannelDelivery(t *testing.T) {
	b := startBroker(t, "chan")
	c, _ := dial(t, b.uri())
	ctx := testCtx(t, 10*time.Second)
	sub, err := c.Subscribe(ctx, "queue://c")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, "queue://c", []byte("via channel")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.C():
		if string(m.Body()) != "via channel" {
			t.Errorf("got %q", m.Body())
		}
	case <-ctx.Done():
		t.Fatal("nothing on C()")
	}
	if err := sub.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-sub.C():
		if ok {
			t.Error("C() delivered after Unsubscribe")
		}
	case <-ctx.Done():
		t.Fatal("C() not closed after Unsubscribe")
	}
	if !errors.Is(sub.Err(), client.ErrClosed) {
		t.Errorf("Err() = %v", sub.Err())
	}
}
