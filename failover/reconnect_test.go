package failover

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

// eventLog collects events for assertions.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) of(kind EventKind) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// runConnect runs the reconnect loop on a fake clock, firing each delay as
// soon as the loop waits on it, and returns the delays it waited, in order.
func runConnect(t *testing.T, c *Conn, clk *fakeClock, startup bool, lostHost string) ([]time.Duration, error) {
	t.Helper()
	var lost *urlT
	for _, u := range c.spec.Brokers {
		if u.Host == lostHost {
			lost = u
		}
	}
	type result struct{ err error }
	done := make(chan result, 1)
	go func() {
		_, _, err := c.conn.connect(context.Background(), startup, lost)
		done <- result{err}
	}()
	var (
		delays   []time.Duration
		finished *result
	)
	for finished == nil {
		testutil.Eventually(t, 10*time.Second, func() bool {
			select {
			case r := <-done:
				finished = &r
				return true
			default:
				return len(clk.pending()) > 0
			}
		}, "reconnect loop neither waits nor finishes")
		if finished == nil {
			p := clk.pending()[0]
			delays = append(delays, p)
			clk.advance(p)
		}
	}
	return delays, finished.err
}

func newTestConn(t *testing.T, uri string, fnet *fakeNet, clk *fakeClock, shuffle func(int, func(int, int))) (*Conn, *eventLog) {
	t.Helper()
	log := &eventLog{}
	var cl Clock = clk
	if clk == nil {
		cl = nil
	}
	c := newConn(mustParse(uri), Config{Dialer: fnet, Clock: cl, OnEvent: log.add, Shuffle: shuffle})
	t.Cleanup(func() { c.stop(); c.events.close() })
	return c, log
}

func ms(v ...int) []time.Duration {
	var out []time.Duration
	for _, x := range v {
		out = append(out, time.Duration(x)*time.Millisecond)
	}
	return out
}

func TestBackoffBetweenPasses(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		delays []time.Duration
	}{
		{"ActiveMQ defaults: 10 ms doubling", "maxReconnectAttempts=6", ms(10, 20, 40, 80, 160)},
		{"capped at maxReconnectDelay", "maxReconnectAttempts=7&maxReconnectDelay=50", ms(10, 20, 40, 50, 50, 50)},
		{"no exponential backoff", "maxReconnectAttempts=4&useExponentialBackOff=false&initialReconnectDelay=25", ms(25, 25, 25)},
		{"reconnectDelayExponent 3", "maxReconnectAttempts=4&reconnectDelayExponent=3", ms(10, 30, 90)},
		{"startup limit overrides", "maxReconnectAttempts=9&startupMaxReconnectAttempts=3", ms(10, 20)},
		{"startup limit -1 falls back to maxReconnectAttempts", "maxReconnectAttempts=2&startupMaxReconnectAttempts=-1", ms(10)},
		{"maxReconnectAttempts=0 makes one pass at startup", "maxReconnectAttempts=0", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			fnet := newFakeNet(clk)
			c, log := newTestConn(t, "failover:(tcp://a:1,tcp://b:2,tcp://c:3)?randomize=false&reconnectJitter=false&"+tc.query, fnet, clk, nil)
			delays, err := runConnect(t, c, clk, true, "")
			if !errors.Is(err, ErrReconnectFailed) {
				t.Fatalf("err = %v, want ErrReconnectFailed", err)
			}
			if !slices.Equal(delays, tc.delays) {
				t.Errorf("delays %v, want %v", delays, tc.delays)
			}
			passes := len(tc.delays) + 1
			hostsTried := fnet.attemptHosts()
			if len(hostsTried) != 3*passes {
				t.Fatalf("%d attempts, want %d (3 per pass)", len(hostsTried), 3*passes)
			}
			// Within a pass the URIs are tried back to back (same instant);
			// the delay separates passes.
			times := fnet.attemptTimes()
			var at time.Duration
			for p := 0; p < passes; p++ {
				if p > 0 {
					at += tc.delays[p-1]
				}
				for i := 0; i < 3; i++ {
					if got := times[3*p+i].Sub(times[0]); got != at {
						t.Errorf("pass %d attempt %d at +%v, want +%v", p+1, i+1, got, at)
					}
					if want := []string{"a:1", "b:2", "c:3"}[i]; hostsTried[3*p+i] != want {
						t.Errorf("pass %d attempt %d to %s, want %s", p+1, i+1, hostsTried[3*p+i], want)
					}
				}
			}
			failed := log.of(EventReconnectFailed)
			if len(failed) != passes {
				t.Errorf("%d ReconnectFailed events, want %d", len(failed), passes)
			}
			for i, e := range failed {
				if e.Attempt != i+1 || !errors.Is(e.Err, errRefused) {
					t.Errorf("event %d: attempt %d err %v", i, e.Attempt, e.Err)
				}
			}
		})
	}
}

func TestJitterKeepsDelaysNearNominal(t *testing.T) {
	clk := newFakeClock()
	fnet := newFakeNet(clk)
	c, _ := newTestConn(t, "failover:(tcp://a:1)?maxReconnectAttempts=8&reconnectJitter=0.5", fnet, clk, nil)
	delays, err := runConnect(t, c, clk, true, "")
	if !errors.Is(err, ErrReconnectFailed) {
		t.Fatal(err)
	}
	nominal := ms(10, 20, 40, 80, 160, 320, 640)
	if len(delays) != len(nominal) {
		t.Fatalf("delays %v", delays)
	}
	exact := true
	for i, d := range delays {
		lo, hi := nominal[i]/2, nominal[i]*3/2
		if d < lo || d > hi {
			t.Errorf("delay %d = %v, outside [%v, %v]", i, d, lo, hi)
		}
		exact = exact && d == nominal[i]
	}
	if exact {
		t.Error("jitter on, yet every delay is exactly nominal")
	}
}

func TestPassOrderAfterLoss(t *testing.T) {
	clk := newFakeClock()
	fnet := newFakeNet(clk)
	var shuffles int
	reverse := func(n int, swap func(i, j int)) {
		shuffles++
		for i := 0; i < n/2; i++ {
			swap(i, n-1-i)
		}
	}
	c, _ := newTestConn(t, "failover:(tcp://a:1,tcp://b:2,tcp://c:3,tcp://d:4)?maxReconnectAttempts=2&reconnectJitter=false&initialReconnectDelay=15", fnet, clk, reverse)
	delays, err := runConnect(t, c, clk, false, "b:2")
	if !errors.Is(err, ErrReconnectFailed) {
		t.Fatal(err)
	}
	// initialReconnectDelay before the first pass after a loss, then the
	// backoff delay between the two passes.
	if !slices.Equal(delays, ms(15, 15)) {
		t.Errorf("delays %v, want [15ms 15ms]", delays)
	}
	// The list without b, shuffled (reversed) once per pass, b last.
	want := []string{"d:4", "c:3", "a:1", "b:2", "d:4", "c:3", "a:1", "b:2"}
	if got := fnet.attemptHosts(); !slices.Equal(got, want) {
		t.Errorf("attempts %v, want %v", got, want)
	}
	if shuffles != 2 {
		t.Errorf("shuffled %d times, want once per pass (2)", shuffles)
	}
}

func TestPassOrderPriorityFirst(t *testing.T) {
	u := mustParse("failover:(tcp://a:1,tcp://b:2,tcp://c:3)").Brokers
	prio := func(x *urlT) bool { return x.Host == "c:3" }
	got := passOrder(u, u[0], false, nil, prio)
	var names []string
	for _, x := range got {
		names = append(names, x.Host)
	}
	if strings.Join(names, " ") != "c:3 b:2 a:1" {
		t.Errorf("order %v, want c:3 b:2 a:1 (priority first, lost last)", names)
	}
}

func TestNoReconnectWhenMaxReconnectAttemptsIsZero(t *testing.T) {
	clk := newFakeClock()
	fnet := newFakeNet(clk)
	c, _ := newTestConn(t, "masterslave:(tcp://a:1,tcp://b:2)", fnet, clk, nil)
	_, err := runConnect(t, c, clk, false, "a:1")
	if !errors.Is(err, ErrReconnectFailed) || !errors.Is(err, errNoReconnect) {
		t.Fatalf("err = %v", err)
	}
	if n := len(fnet.attemptHosts()); n != 0 {
		t.Errorf("%d attempts after a loss, want none", n)
	}
}

func TestStartupRefusalFailsAtOnce(t *testing.T) {
	clk := newFakeClock()
	fnet := newFakeNet(clk)
	fnet.refuse["a:1"] = &brokerErrT{Op: "connect", Message: "bad credentials"}
	c, _ := newTestConn(t, "failover:(tcp://a:1,tcp://b:2)?randomize=false", fnet, clk, nil)
	_, err := runConnect(t, c, clk, true, "")
	var be *brokerErrT
	if !errors.As(err, &be) || be.Message != "bad credentials" {
		t.Fatalf("err = %v, want the broker's refusal", err)
	}
	if got := fnet.attemptHosts(); !slices.Equal(got, []string{"a:1"}) {
		t.Errorf("attempts %v", got)
	}
}

func TestTimeoutWhileDisconnected(t *testing.T) {
	clk := newFakeClock()
	fnet := newFakeNet(clk)
	fnet.setUp("a:1", true)
	ctx := context.Background()
	log := &eventLog{}
	c, err := Dial(ctx, mustParse("failover:(tcp://a:1)?timeout=500&reconnectJitter=false"), Config{Dialer: fnet, Clock: clk, OnEvent: log.add})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	fnet.setUp("a:1", false)
	fnet.session(0).kill()
	testutil.Eventually(t, 5*time.Second, func() bool { return len(log.of(EventInterrupted)) == 1 }, "interrupted")

	errc := make(chan error, 1)
	go func() { errc <- c.Send(ctx, &outT{Destination: destT{Name: "q"}, Confirm: true}) }()
	// The send waits on the failover timeout (500 ms); the reconnect loop
	// waits on its own delays. Fire everything up to 499 ms: still waiting.
	testutil.Eventually(t, 5*time.Second, func() bool { return slices.Contains(clk.pending(), 500*time.Millisecond) }, "send waiting on the timeout")
	clk.advance(499 * time.Millisecond)
	select {
	case err := <-errc:
		t.Fatalf("send returned early: %v", err)
	default:
	}
	clk.advance(time.Millisecond)
	select {
	case err := <-errc:
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
		if errors.Is(err, ErrInDoubt) {
			t.Errorf("a send that never reached the wire is not in doubt: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("send did not time out")
	}
}
