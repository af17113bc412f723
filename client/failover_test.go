package client_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
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
	b.Stop()
	testutil.Eventually(t, 10*time.Second, func() bool {
		return pev.count(client.EventInterrupted) > 0 && cev.count(client.EventInterrupted) > 0
	}, "clients did not notice the broker going away")
	b.Start()

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
	a.Stop()
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
	primary.Stop()
	c, ev := dial(t, "failover:("+primary.uri()+","+backup.uri()+")?priorityBackup=true&"+fast)
	ctx := testCtx(t, 30*time.Second)
	if got := c.URI(); got != backup.uri() {
		t.Fatalf("connected to %s, want the backup", got)
	}
	sub, err := c.Subscribe(ctx, "queue://work", client.AckClient)
	if err != nil {
		t.Fatal(err)
	}
	primary.Start()
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
	a.Stop()
	testutil.Eventually(t, 10*time.Second, func() bool { return c.URI() == b.uri() }, "did not switch to the standby")
	if n := ev.count(client.EventReconnectFailed); n != 0 {
		t.Errorf("%d failed passes; the standby should have been used", n)
	}
	ctx := testCtx(t, 10*time.Second)
	if err := c.Send(ctx, "queue://x", []byte("ok")); err != nil {
		t.Fatal(err)
	}
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
	b.Stop()
	b.Start()
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
