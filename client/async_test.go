package client_test

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

func waitAll(t *testing.T, ctx context.Context, ps []*client.PendingSend) {
	t.Helper()
	for _, p := range ps {
		if err := p.Wait(ctx); err != nil {
			t.Fatalf("%s: %v", p.DuplicateID(), err)
		}
	}
}

// receiveInOrder reads n messages body-0 .. body-(n-1) from sub, in order.
func receiveInOrder(t *testing.T, ctx context.Context, sub *client.Subscription, n int) {
	t.Helper()
	for i := range n {
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := fmt.Sprintf("body-%d", i); string(m.Body()) != want {
			t.Fatalf("message %d is %q, want %q", i, m.Body(), want)
		}
	}
}

// Many sends in flight from one goroutine reach the consumer in call
// order, and each completes confirmed.
func TestSendAsyncKeepsCallOrder(t *testing.T) {
	b := startBroker(t, "async-order")
	c, _ := dial(t, b.uri(), client.WithSendWindow(64))
	ctx := testCtx(t, 60*time.Second)
	sub, err := c.Subscribe(ctx, "queue://ordered")
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	ps := make([]*client.PendingSend, 0, n)
	for i := range n {
		p, err := c.SendAsync(ctx, "queue://ordered", fmt.Appendf(nil, "body-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	waitAll(t, ctx, ps)
	receiveInOrder(t, ctx, sub, n)
	if st := c.Stats(); st.Sent != n || st.PendingSends != 0 {
		t.Errorf("stats %+v", st)
	}
	if _, err := c.SendAsync(ctx, "queue://ordered", nil, client.Unconfirmed()); err == nil {
		t.Error("SendAsync took Unconfirmed")
	}
}

// While the broker is down, sends wait for it within the window; a full
// window holds the producer back; on restart they go out in order.
func TestSendAsyncWindowWhileBrokerDown(t *testing.T) {
	b := startBroker(t, "async-window")
	c, ev := dial(t, "failover:("+b.uri()+")?"+fast, client.WithSendWindow(3))
	ctx := testCtx(t, 60*time.Second)
	b.Stop()
	testutil.Eventually(t, 10*time.Second, func() bool { return ev.count(client.EventInterrupted) == 1 }, "not interrupted")
	var ps []*client.PendingSend
	for i := range 3 {
		p, err := c.SendAsync(ctx, "queue://held", fmt.Appendf(nil, "body-%d", i), client.Persistent())
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := c.SendAsync(short, "queue://held", []byte("body-3"), client.Persistent()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send beyond the window: %v, want a deadline error", err)
	}
	for _, p := range ps {
		if p.Err() != nil || isDone(p) {
			t.Fatalf("%s completed while the broker is down: %v", p.DuplicateID(), p.Err())
		}
	}
	b.Start()
	p, err := c.SendAsync(ctx, "queue://held", []byte("body-3"), client.Persistent())
	if err != nil {
		t.Fatal(err)
	}
	waitAll(t, ctx, append(ps, p))
	sub, err := c.Subscribe(ctx, "queue://held")
	if err != nil {
		t.Fatal(err)
	}
	receiveInOrder(t, ctx, sub, 4)
}

func isDone(p *client.PendingSend) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

// A broker restart in the middle of a window of persistent sends: every
// send completes, the consumer gets each message exactly once, and in the
// order sent.
func TestSendAsyncBrokerRestartMidWindow(t *testing.T) {
	b := startBroker(t, "async-restart")
	uri := "failover:(" + b.uri() + ")?" + fast
	producer, pev := dial(t, uri, client.WithSendWindow(64))
	consumer, _ := dial(t, uri)
	ctx := testCtx(t, 90*time.Second)
	sub, err := consumer.Subscribe(ctx, "queue://restart", client.AckIndividual, client.Prefetch(50))
	if err != nil {
		t.Fatal(err)
	}
	const total = 1500
	var (
		mu        sync.Mutex
		confirmed int
	)
	stopped := make(chan struct{})
	prodErr := make(chan error, 1)
	go func() {
		var ps []*client.PendingSend
		for i := range total {
			if i == total/2 {
				<-stopped // the restart falls mid-stream, with a window in flight
			}
			p, err := producer.SendAsync(ctx, "queue://restart", fmt.Appendf(nil, "body-%d", i), client.Persistent())
			if err != nil {
				prodErr <- err
				return
			}
			ps = append(ps, p)
			go func() {
				if p.Wait(ctx) == nil {
					mu.Lock()
					confirmed++
					mu.Unlock()
				}
			}()
		}
		for _, p := range ps {
			if err := p.Wait(ctx); err != nil {
				prodErr <- fmt.Errorf("%s: %w", p.DuplicateID(), err)
				return
			}
		}
		prodErr <- nil
	}()
	seen := map[string]int{}
	next := 0
	consErr := make(chan error, 1)
	go func() {
		for next < total {
			m, err := sub.Next(ctx)
			if err != nil {
				consErr <- err
				return
			}
			body := string(m.Body())
			seen[body]++
			if seen[body] == 1 {
				if want := fmt.Sprintf("body-%d", next); body != want {
					consErr <- fmt.Errorf("got %s, want %s (out of order)", body, want)
					return
				}
				next++
			}
			if err := m.Ack(ctx); err != nil {
				consErr <- err
				return
			}
		}
		consErr <- nil
	}()
	testutil.Eventually(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return confirmed >= 200
	}, "stream did not get going")
	b.Stop()
	close(stopped)
	testutil.Eventually(t, 10*time.Second, func() bool { return pev.count(client.EventInterrupted) > 0 }, "producer did not notice")
	b.Start()
	if err := <-prodErr; err != nil {
		t.Fatal(err)
	}
	if err := <-consErr; err != nil {
		t.Fatal(err)
	}
	for body, n := range seen {
		if n != 1 {
			t.Errorf("%s received %d times", body, n)
		}
	}
	st := producer.Stats()
	t.Logf("producer %+v", st)
	if st.PendingSends != 0 || st.Sent != total {
		t.Errorf("producer stats %+v", st)
	}
	// No stored duplicate: nothing is left on the queue.
	extra, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if m, err := sub.Next(extra); err == nil {
		t.Errorf("extra message %s", m.Body())
	}
}

// Expires carries an absolute expiry unchanged (to the millisecond), as a
// bridge passing a message on needs.
func TestExpiresIsAbsolute(t *testing.T) {
	b := startBroker(t, "expires")
	c, _ := dial(t, b.uri())
	ctx := testCtx(t, 10*time.Second)
	sub, err := c.Subscribe(ctx, "queue://exp")
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(time.Now().Add(time.Hour).UnixMilli())
	if err := c.Send(ctx, "queue://exp", []byte("x"), client.Expires(at)); err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Expires().Equal(at) {
		t.Errorf("expires %v, want %v", m.Expires(), at)
	}
}
