package failover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tethermq/tether/failover/session"
	"github.com/tethermq/tether/internal/testutil"
)

func dialWindow(t *testing.T, fnet *fakeNet, window int) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), mustParse("failover:(tcp://a:1)?"+fastQuery), Config{Dialer: fnet, SendWindow: window})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func asyncMsg(id string) *session.Outgoing {
	return &session.Outgoing{Destination: session.Destination{Name: "q"}, DuplicateID: id}
}

// releaseHeld confirms the n oldest sends a fake session holds.
func (s *fakeSession) releaseHeld(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.held[:n] {
		ch <- nil
	}
	s.held = s.held[n:]
}

// Sends written on a connection that dies, and sends made while there is
// none, all reach the next connection once, in call order, with their ids.
func TestSendAsyncAcrossReconnectKeepsOrder(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.confirm = false
	fnet.setUp("a:1", true)
	c := dialWindow(t, fnet, 0)
	s1 := fnet.session(0)
	ctx := context.Background()

	var all []*AsyncSend
	var want []string
	send := func(i int) {
		id := fmt.Sprintf("m%d", i)
		a, err := c.SendAsync(ctx, asyncMsg(id))
		if err != nil {
			t.Fatalf("SendAsync %s: %v", id, err)
		}
		all = append(all, a)
		want = append(want, id)
	}
	for i := range 5 {
		send(i)
	}
	if got := s1.sentIDs(); !slices.Equal(got, want) {
		t.Fatalf("written %v, want %v", got, want)
	}
	s1.releaseHeld(2) // m0 and m1 confirmed; m2-m4 in doubt when it dies
	testutil.Eventually(t, 5*time.Second, func() bool { return all[1].Err() == nil && isDone(all[1]) }, "m1 not confirmed")

	fnet.setUp("a:1", false)
	s1.kill()
	testutil.Eventually(t, 5*time.Second, func() bool { return !c.Stats().Connected }, "still connected")
	for i := 5; i < 8; i++ {
		send(i) // while disconnected: kept for the next connection
	}
	fnet.mu.Lock()
	fnet.confirm = true
	fnet.mu.Unlock()
	fnet.setUp("a:1", true)
	s2 := waitSessions(t, fnet, 2)
	for _, a := range all {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := a.Wait(wctx)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", a.DuplicateID(), err)
		}
	}
	if got := s2.sentIDs(); !slices.Equal(got, want[2:]) {
		t.Errorf("on the new connection %v, want %v", got, want[2:])
	}
	if st := c.Stats(); st.PendingSends != 0 || st.Sent != 8 || st.Resent != 3 {
		t.Errorf("stats %+v", st)
	}
}

func isDone(a *AsyncSend) bool {
	select {
	case <-a.Done():
		return true
	default:
		return false
	}
}

// A full window makes SendAsync wait until a confirmation frees a slot.
func TestSendAsyncWindowAppliesBackPressure(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.confirm = false
	fnet.setUp("a:1", true)
	c := dialWindow(t, fnet, 2)
	s1 := fnet.session(0)
	for _, id := range []string{"a", "b"} {
		if _, err := c.SendAsync(context.Background(), asyncMsg(id)); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.SendAsync(short, asyncMsg("c")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third send with a full window: %v, want a deadline error", err)
	}
	if got := s1.sentIDs(); len(got) != 2 {
		t.Fatalf("written %v with a full window", got)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.SendAsync(context.Background(), asyncMsg("c"))
		done <- err
	}()
	s1.releaseHeld(1)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SendAsync still blocked after a confirmation")
	}
	if got := s1.sentIDs(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("written %v", got)
	}
}

// Close completes what is still unconfirmed with ErrClosed (in doubt:
// it was written); a refusal completes its send with the broker's error.
func TestSendAsyncEndsOnCloseAndRefusal(t *testing.T) {
	fnet := newFakeNet(nil)
	fnet.confirm = false
	fnet.setUp("a:1", true)
	c := dialWindow(t, fnet, 0)
	s1 := fnet.session(0)
	refused, _ := c.SendAsync(context.Background(), asyncMsg("r"))
	held, _ := c.SendAsync(context.Background(), asyncMsg("h"))
	s1.mu.Lock()
	s1.held[0] <- &session.BrokerError{Op: "send", Message: "no"}
	s1.held = s1.held[1:]
	s1.mu.Unlock()
	var be *session.BrokerError
	wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := refused.Wait(wctx); !errors.As(err, &be) {
		t.Fatalf("refused send: %v", err)
	}
	c.Close(context.Background())
	if err := held.Wait(wctx); !errors.Is(err, ErrClosed) || !errors.Is(err, ErrInDoubt) {
		t.Fatalf("send pending at Close: %v", err)
	}
	if _, err := c.SendAsync(context.Background(), asyncMsg("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendAsync after Close: %v", err)
	}
}
