package amqp_test

import (
	"context"
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

// events counts a Conn's events by kind.
type events struct {
	mu     sync.Mutex
	counts map[client.EventKind]int
}

func (e *events) handler(ev client.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counts == nil {
		e.counts = map[client.EventKind]int{}
	}
	e.counts[ev.Kind]++
}

func (e *events) count(k client.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[k]
}

func dialConn(t testing.TB, uri string, opts ...client.Option) (*client.Conn, *events) {
	t.Helper()
	ev := &events{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts = append([]client.Option{client.WithLogger(testLogger()), client.WithEventHandler(ev.handler)}, opts...)
	c, err := client.Dial(ctx, uri, opts...)
	if err != nil {
		t.Fatalf("Dial %s: %v", uri, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ev
}

// TestFailoverBrokerRestartMidStream stops and restarts the broker (same
// port, same data directory) while a producer and a consumer run over
// failover:(amqp://...): every confirmed send is received exactly once,
// thanks to the duplicate ids the broker drops and the SDK's dedupe of
// redelivered messages whose ack was in doubt.
func TestFailoverBrokerRestartMidStream(t *testing.T) {
	b := startBroker(t, "restart")
	uri := "failover:(" + b.uri() + ")?" + fast
	producer, pev := dialConn(t, uri)
	consumer, cev := dialConn(t, uri)
	ctx := testCtx(t, 90*time.Second)

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
	// The producer holds its last third back until the broker is down, so
	// that the restart always falls in the middle of the stream.
	stopped := make(chan struct{})
	prodDone := make(chan error, 1)
	go func() {
		for i := range total {
			if i == 2*total/3 {
				<-stopped
			}
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
	close(stopped)
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
	testutil.Eventually(t, 10*time.Second, func() bool {
		return pev.count(client.EventResumed) > 0 && cev.count(client.EventResumed) > 0
	}, "no Resumed event")
	t.Logf("producer %+v", producer.Stats())
	t.Logf("consumer %+v", consumer.Stats())
}

// TestFailoverBetweenTwoBrokers: the first broker goes away for good; the
// client resumes on the second with its topic subscription, and a send
// made during the outage completes there.
func TestFailoverBetweenTwoBrokers(t *testing.T) {
	a, b := startBroker(t, "a"), startBroker(t, "b")
	c, ev := dialConn(t, "failover:("+a.uri()+","+b.uri()+")?"+fast)
	ctx := testCtx(t, 30*time.Second)
	if got := c.URI(); got != a.uri() {
		t.Fatalf("connected to %s, want %s", got, a.uri())
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
	if ev.count(client.EventResumed) != 1 {
		t.Errorf("resumed %d times", ev.count(client.EventResumed))
	}
	if _, err := c.Begin(ctx); !errorsIsUnsupported(err) {
		t.Errorf("Begin over AMQP: %v, want ErrUnsupported", err)
	}
}

func errorsIsUnsupported(err error) bool { return errors.Is(err, client.ErrUnsupported) }
