package groups

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

// testMsg is a Message that counts its acknowledgements.
type testMsg struct {
	group   string
	seq     int
	first   bool
	ackErr  error
	nackErr error
	acks    atomic.Int32
	nacks   atomic.Int32
}

func (m *testMsg) GroupID() string        { return m.group }
func (m *testMsg) FirstForConsumer() bool { return m.first }
func (m *testMsg) Ack(context.Context) error {
	m.acks.Add(1)
	return m.ackErr
}
func (m *testMsg) Nack(context.Context) error {
	m.nacks.Add(1)
	return m.nackErr
}

// startRun runs d in a goroutine and returns where its result will appear.
func startRun(ctx context.Context, d *Dispatcher, in <-chan Message) <-chan error {
	res := make(chan error, 1)
	go func() { res <- d.Run(ctx, in) }()
	return res
}

func waitRun(t *testing.T, res <-chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(within):
		t.Fatalf("Run did not return within %v", within)
		return nil
	}
}

// feed sends msgs on a new channel from a goroutine and closes it after the
// last one; the goroutine ends when msgs are sent or ctx is done.
func feed(ctx context.Context, msgs []*testMsg) <-chan Message {
	in := make(chan Message)
	go func() {
		defer close(in)
		for _, m := range msgs {
			select {
			case in <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	return in
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// never watches cond for the whole window and fails the test if it ever holds:
// the negative counterpart of testutil.Eventually.
func never(t *testing.T, window time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	for deadline := time.Now().Add(window); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			t.Fatalf(msg, args...)
		}
	}
}

func TestDispatcherKeepsGroupOrderAndRunsGroupsInParallel(t *testing.T) {
	const groups, perGroup, ungrouped = 200, 100, 500
	rng := rand.New(rand.NewPCG(1, 2))

	// Interleave the groups at random while keeping each group's own order.
	var msgs []*testMsg
	next := make([]int, groups)
	for len(msgs) < groups*perGroup {
		g := rng.IntN(groups)
		if next[g] == perGroup {
			continue
		}
		msgs = append(msgs, &testMsg{group: fmt.Sprint("g", g), seq: next[g]})
		next[g]++
	}
	for i := range ungrouped {
		at := rng.IntN(len(msgs))
		msgs = append(msgs[:at], append([]*testMsg{{seq: i}}, msgs[at:]...)...)
	}

	type groupState struct {
		active atomic.Int32
		last   int // guarded by active
	}
	state := map[string]*groupState{}
	for g := range groups {
		state[fmt.Sprint("g", g)] = &groupState{last: -1}
	}
	var notified sync.Map
	var running, maxRunning atomic.Int32
	fail := func(format string, args ...any) { t.Errorf(format, args...) }
	delays := make(chan time.Duration, len(msgs))
	for range len(msgs) {
		delays <- time.Duration(rng.IntN(100)) * time.Microsecond
	}

	d := NewDispatcher(func(ctx context.Context, m Message) error {
		n := running.Add(1)
		defer running.Add(-1)
		for cur := maxRunning.Load(); n > cur && !maxRunning.CompareAndSwap(cur, n); cur = maxRunning.Load() {
		}
		tm := m.(*testMsg)
		if tm.group != "" {
			s := state[tm.group]
			if !s.active.CompareAndSwap(0, 1) {
				fail("two handlers at once for %s", tm.group)
				return nil
			}
			defer s.active.Store(0)
			if tm.seq != s.last+1 {
				fail("%s: got seq %d after %d", tm.group, tm.seq, s.last)
			}
			s.last = tm.seq
		}
		time.Sleep(<-delays) // simulated work
		return nil
	}, Options{
		Workers: 8,
		OnOwnershipChange: func(group string) {
			if state[group].active.Load() != 0 {
				fail("OnOwnershipChange(%s) while a handler of the group runs", group)
			}
			if _, dup := notified.LoadOrStore(group, true); dup {
				fail("OnOwnershipChange(%s) twice", group)
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := waitRun(t, startRun(ctx, d, feed(ctx, msgs)), 60*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, m := range msgs {
		if m.acks.Load() != 1 || m.nacks.Load() != 0 {
			t.Fatalf("message %s/%d acked %d, nacked %d", m.group, m.seq, m.acks.Load(), m.nacks.Load())
		}
	}
	for g, s := range state {
		if s.last != perGroup-1 {
			t.Fatalf("%s ended at %d", g, s.last)
		}
		if _, ok := notified.Load(g); !ok {
			t.Fatalf("no OnOwnershipChange for %s", g)
		}
	}
	if maxRunning.Load() < 2 {
		t.Fatalf("handlers never ran in parallel (max %d)", maxRunning.Load())
	}
}

func TestDispatcherNacksFailedMessages(t *testing.T) {
	var logs syncBuffer
	bad := &testMsg{group: "g", seq: 1, nackErr: errors.New("broker gone")}
	ackFails := &testMsg{group: "g", seq: 2, ackErr: errors.New("connection lost")}
	msgs := []*testMsg{{group: "g", seq: 0}, bad, ackFails, {group: "g", seq: 3}, {seq: 4}}
	var handled []int
	d := NewDispatcher(func(ctx context.Context, m Message) error {
		tm := m.(*testMsg)
		if tm.group == "g" {
			handled = append(handled, tm.seq) // one group, one at a time
		}
		if tm == bad {
			return errors.New("cannot parse")
		}
		return nil
	}, Options{Workers: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waitRun(t, startRun(ctx, d, feed(ctx, msgs)), 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if bad.nacks.Load() != 1 || bad.acks.Load() != 0 {
		t.Fatalf("failed message: %d acks, %d nacks", bad.acks.Load(), bad.nacks.Load())
	}
	for _, m := range msgs {
		if m != bad && (m.acks.Load() != 1 || m.nacks.Load() != 0) {
			t.Fatalf("message %d: %d acks, %d nacks", m.seq, m.acks.Load(), m.nacks.Load())
		}
	}
	if fmt.Sprint(handled) != "[0 1 2 3]" {
		t.Fatalf("handled %v: the group must go on after a failure", handled)
	}
	for _, want := range []string{"handler failed", "cannot parse", "nack failed", "broker gone", "ack failed", "connection lost"} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestDispatcherBlockedGroupDoesNotStopOthers(t *testing.T) {
	release := make(chan struct{})
	var msgs []*testMsg
	for i := range 5 {
		msgs = append(msgs, &testMsg{group: "stuck", seq: i})
	}
	for i := range 20 {
		for g := range 50 {
			msgs = append(msgs, &testMsg{group: fmt.Sprint("g", g), seq: i})
		}
	}
	var others atomic.Int32
	d := NewDispatcher(func(ctx context.Context, m Message) error {
		if m.GroupID() == "stuck" {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		}
		others.Add(1)
		return nil
	}, Options{Workers: 4})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := startRun(ctx, d, feed(ctx, msgs))

	testutil.Eventually(t, 10*time.Second, func() bool { return others.Load() == 1000 },
		"other groups did not complete their 1000 messages behind a blocked group")
	if msgs[1].acks.Load() != 0 {
		t.Fatal("stuck group overtook its own blocked message")
	}
	close(release)
	if err := waitRun(t, res, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, m := range msgs {
		if m.acks.Load() != 1 {
			t.Fatalf("%s/%d acked %d times", m.group, m.seq, m.acks.Load())
		}
	}
}

func TestDispatcherBackPressure(t *testing.T) {
	const maxPending, total = 10, 30
	tokens := make(chan struct{})
	var handled atomic.Int32
	d := NewDispatcher(func(ctx context.Context, m Message) error {
		select {
		case <-tokens:
		case <-ctx.Done():
			return ctx.Err()
		}
		handled.Add(1)
		return nil
	}, Options{Workers: 2, MaxPending: maxPending})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	in := make(chan Message)
	var sent atomic.Int32
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		defer close(in)
		for i := range total {
			select {
			case in <- &testMsg{group: fmt.Sprint("g", i%4), seq: i}:
				sent.Add(1)
			case <-ctx.Done():
				return
			}
		}
	}()
	res := startRun(ctx, d, in)

	testutil.Eventually(t, 10*time.Second, func() bool { return sent.Load() == maxPending },
		"producer did not get %d messages in before blocking", maxPending)
	// The producer must now stay blocked: nothing is finished, so Run may
	// not read more.
	never(t, 100*time.Millisecond, func() bool { return sent.Load() > maxPending },
		"producer got more than %d messages in while none finished", maxPending)
	tokens <- struct{}{} // one handler finishes: exactly one more may come in
	testutil.Eventually(t, 10*time.Second, func() bool { return sent.Load() == maxPending+1 },
		"producer did not get exactly one more message in after one finished")
	close(tokens)
	if err := waitRun(t, res, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	<-producerDone
	if handled.Load() != total {
		t.Fatalf("handled %d of %d", handled.Load(), total)
	}
}

func TestDispatcherCancellation(t *testing.T) {
	var running, started atomic.Int32
	d := NewDispatcher(func(ctx context.Context, m Message) error {
		running.Add(1)
		defer running.Add(-1)
		started.Add(1)
		<-ctx.Done()
		return ctx.Err()
	}, Options{Workers: 3, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := make(chan Message) // never closed: only cancellation can end Run
	msgs := make([]*testMsg, 5)
	for i := range msgs {
		msgs[i] = &testMsg{group: fmt.Sprint("g", i), seq: i}
	}
	res := startRun(ctx, d, in)
	for _, m := range msgs {
		in <- m
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return running.Load() == 3 },
		"3 handlers did not start")
	cancel()
	if err := waitRun(t, res, 10*time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if running.Load() != 0 {
		t.Fatalf("%d handlers still running after Run returned", running.Load())
	}
	var nacked, untouched int
	for _, m := range msgs {
		switch {
		case m.acks.Load() != 0:
			t.Fatalf("message %d acked", m.seq)
		case m.nacks.Load() == 1:
			nacked++
		case m.nacks.Load() == 0:
			untouched++
		}
	}
	if n := int(started.Load()); nacked != n || untouched != len(msgs)-n {
		t.Fatalf("started %d, nacked %d, untouched %d", n, nacked, untouched)
	}
}

func TestDispatcherOwnershipNotifications(t *testing.T) {
	var mu sync.Mutex
	var events []string
	record := func(e string) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	}
	var handled atomic.Int32
	d := NewDispatcher(func(ctx context.Context, m Message) error {
		tm := m.(*testMsg)
		record(fmt.Sprintf("%s/%d", tm.group, tm.seq))
		handled.Add(1)
		return nil
	}, Options{Workers: 2, OnOwnershipChange: func(g string) { record("owner " + g) }})
	d.maxIdle = 1
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := make(chan Message)
	res := startRun(ctx, d, in)
	n := int32(0)
	send := func(m *testMsg) {
		t.Helper()
		in <- m
		n++
		testutil.Eventually(t, 10*time.Second, func() bool { return handled.Load() == n },
			"message %s/%d not handled", m.group, m.seq)
	}

	send(&testMsg{group: "a", seq: 1})              // new to this Run
	send(&testMsg{group: "a", seq: 2})              // nothing changed
	send(&testMsg{group: "a", seq: 3, first: true}) // the broker says so
	d.OwnershipMayHaveChanged()                     // failover
	send(&testMsg{group: "a", seq: 4})
	send(&testMsg{group: "a", seq: 5})
	send(&testMsg{group: "b", seq: 1}) // a idle, b idle: a is forgotten (cap 1)
	send(&testMsg{group: "b", seq: 2})
	send(&testMsg{group: "a", seq: 6})
	send(&testMsg{seq: 7, first: true}) // ungrouped: no group to notify
	close(in)
	if err := waitRun(t, res, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := "owner a, a/1, a/2, owner a, a/3, owner a, a/4, a/5, owner b, b/1, b/2, owner a, a/6, /7"
	if got := strings.Join(events, ", "); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
}

func TestDispatcherRunsOnceAtATime(t *testing.T) {
	d := NewDispatcher(func(context.Context, Message) error { return nil }, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan Message)
	res := startRun(ctx, d, in)
	testutil.Eventually(t, 10*time.Second, d.running.Load, "Run did not start")
	if err := d.Run(ctx, in); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
	in <- nil // ignored
	close(in)
	if err := waitRun(t, res, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	cancel()
	// A finished Dispatcher can run again.
	done := make(chan Message)
	close(done)
	if err := d.Run(context.Background(), done); err != nil {
		t.Fatalf("second Run after the first ended: %v", err)
	}
}

func TestNewDispatcherDefaults(t *testing.T) {
	d := NewDispatcher(func(context.Context, Message) error { return nil }, Options{})
	if d.workers != runtime.GOMAXPROCS(0) || d.max != DefaultMaxPending || d.log == nil {
		t.Fatalf("defaults: workers %d, max %d, log %v", d.workers, d.max, d.log)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("NewDispatcher(nil) did not panic")
		}
	}()
	NewDispatcher(nil, Options{})
}
