package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/adaptertest"
	"github.com/tethermq/tether/internal/testutil"
)

// fast makes reconnects quick and deterministic for tests.
const fast = adaptertest.FastReconnect

// TestBrokerRestartMidStream stops and restarts a broker (same port, same
// data directory) while a producer and a consumer run: every confirmed send
// is received exactly once.
func TestBrokerRestartMidStream(t *testing.T) {
	b := startBroker(t, "restart")
	st := adaptertest.RestartMidStream(t, b.Broker, "tcp", "queue://orders", nil, client.AckIndividual, client.Prefetch(10))
	for body := range st.Confirmed {
		if st.Received[body] != 1 {
			t.Errorf("%s received %d times", body, st.Received[body])
		}
	}
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
