package adaptertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/testutil"
)

// FastReconnect makes failover reconnects quick and deterministic.
const FastReconnect = "randomize=false&reconnectJitter=false&initialReconnectDelay=10&maxReconnectDelay=100"

// Events counts a Conn's events by kind.
type Events struct {
	mu     sync.Mutex
	counts map[client.EventKind]int
}

// Handler is the client.WithEventHandler callback.
func (e *Events) Handler(ev client.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counts == nil {
		e.counts = map[client.EventKind]int{}
	}
	e.counts[ev.Kind]++
}

// Count is how many events of kind k arrived.
func (e *Events) Count(k client.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[k]
}

// WaitCount waits (up to 10 s) until n events of kind k arrived: events
// are delivered on their own goroutine, after the operations they concern
// may already have completed.
func (e *Events) WaitCount(t testing.TB, k client.EventKind, n int) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() bool { return e.Count(k) >= n }, "%d %v events", n, k)
	if got := e.Count(k); got != n {
		t.Errorf("%d %v events, want %d", got, k, n)
	}
}

// DialConn dials uri with the SDK, counting its events; the test closes it
// at its end.
func DialConn(t testing.TB, uri string, opts ...client.Option) (*client.Conn, *Events) {
	t.Helper()
	ev := &Events{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts = append([]client.Option{client.WithLogger(Logger()), client.WithEventHandler(ev.Handler)}, opts...)
	c, err := client.Dial(ctx, uri, opts...)
	if err != nil {
		t.Fatalf("Dial %s: %v", uri, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ev
}

// Stream is what RestartMidStream saw: every send the broker confirmed, and
// how many times each body was received.
type Stream struct {
	Confirmed map[string]bool
	Received  map[string]int
}

// RestartMidStream runs a producer (300 persistent sends) and a consumer
// through failover:(b) on dest, stops the broker once the stream is going,
// holds the producer's last third back until it is down, starts it again in
// place and returns once both have finished and resumed. The caller checks
// the delivery contract of its protocol on the result.
func RestartMidStream(t testing.TB, b *Broker, scheme, dest string, consumerOpts []client.Option, subOpts ...client.SubOption) Stream {
	t.Helper()
	uri := "failover:(" + scheme + "://" + b.Addr() + ")?" + FastReconnect
	producer, pev := DialConn(t, uri)
	consumer, cev := DialConn(t, uri, consumerOpts...)
	ctx := Ctx(t, 90*time.Second)
	sub, err := consumer.Subscribe(ctx, dest, subOpts...)
	if err != nil {
		t.Fatal(err)
	}
	const total = 300
	var mu sync.Mutex
	st := Stream{Confirmed: map[string]bool{}, Received: map[string]int{}}
	stopped := make(chan struct{})
	prodDone := make(chan error, 1)
	go func() {
		for i := range total {
			if i == 2*total/3 {
				<-stopped // so that the restart always falls mid-stream
			}
			body := fmt.Sprintf("m-%03d", i)
			if err := producer.Send(ctx, dest, []byte(body), client.Persistent()); err != nil {
				prodDone <- fmt.Errorf("send %s: %w", body, err)
				return
			}
			mu.Lock()
			st.Confirmed[body] = true
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
			st.Received[string(m.Body())]++
			n := len(st.Received)
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
		return len(st.Confirmed) >= 100 && len(st.Received) >= 50
	}, "stream did not get going")
	b.Stop()
	close(stopped)
	testutil.Eventually(t, 10*time.Second, func() bool {
		return pev.Count(client.EventInterrupted) > 0 && cev.Count(client.EventInterrupted) > 0
	}, "clients did not notice the broker going away")
	b.Start()
	if err := <-prodDone; err != nil {
		t.Fatal(err)
	}
	if err := <-consDone; err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		return pev.Count(client.EventResumed) > 0 && cev.Count(client.EventResumed) > 0
	}, "no Resumed event")
	t.Logf("producer %+v", producer.Stats())
	t.Logf("consumer %+v", consumer.Stats())
	return st
}

// PipelinedInOrder sends n persistent messages to dest with SendAsync
// (many in flight, a window of 64) and checks that each is confirmed and
// that a subscriber of the same connection gets them all, in order.
func PipelinedInOrder(t testing.TB, uri, dest string, n int, subOpts ...client.SubOption) {
	t.Helper()
	c, _ := DialConn(t, uri, client.WithSendWindow(64))
	ctx := Ctx(t, 60*time.Second)
	sub, err := c.Subscribe(ctx, dest, subOpts...)
	if err != nil {
		t.Fatal(err)
	}
	pending := make([]*client.PendingSend, 0, n)
	for i := range n {
		p, err := c.SendAsync(ctx, dest, fmt.Appendf(nil, "m-%05d", i), client.Persistent())
		if err != nil {
			t.Fatalf("SendAsync %d: %v", i, err)
		}
		pending = append(pending, p)
	}
	for _, p := range pending {
		if err := p.Wait(ctx); err != nil {
			t.Fatalf("%s: %v", p.DuplicateID(), err)
		}
	}
	for i := range n {
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := fmt.Sprintf("m-%05d", i); string(m.Body()) != want {
			t.Fatalf("message %d is %s, want %s", i, m.Body(), want)
		}
		if err := m.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
