package failover

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/tethermq/tether/failover/session"
)

// fakeClock is a manual clock: timers fire only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c     *fakeClock
	when  time.Time
	ch    chan time.Time
	fired bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, when: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.fired = true
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return !t.fired
		}
	}
	return false
}

// pending returns the durations from now of the armed timers, soonest first.
func (c *fakeClock) pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, t := range c.timers {
		out = append(out, t.when.Sub(c.now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// advance moves the clock forward by d and fires every timer now due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if !t.when.After(c.now) {
			t.fired = true
			t.ch <- c.now
			continue
		}
		keep = append(keep, t)
	}
	c.timers = keep
}

// fakeNet is a set of in-memory brokers keyed by host:port, and a Dialer
// that records every attempt with the fake time it was made.
type fakeNet struct {
	clock *fakeClock

	mu       sync.Mutex
	up       map[string]bool
	refuse   map[string]error
	attempts []attempt
	sessions []*fakeSession
	confirm  bool // sessions confirm sends, subscribes and acks at once
	hook     func(*fakeSession)
}

type attempt struct {
	host string
	at   time.Time
}

func newFakeNet(clock *fakeClock) *fakeNet {
	return &fakeNet{clock: clock, up: map[string]bool{}, refuse: map[string]error{}, confirm: true}
}

func (n *fakeNet) setUp(host string, up bool) {
	n.mu.Lock()
	n.up[host] = up
	n.mu.Unlock()
}

func (n *fakeNet) Check(u *url.URL) error {
	if u.Scheme != "tcp" {
		return fmt.Errorf("fake: scheme %q", u.Scheme)
	}
	return nil
}

var errRefused = errors.New("connection refused")

func (n *fakeNet) Dial(ctx context.Context, t session.Target) (session.Session, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var at time.Time
	if n.clock != nil {
		at = n.clock.Now()
	}
	n.attempts = append(n.attempts, attempt{t.URI.Host, at})
	if err := n.refuse[t.URI.Host]; err != nil {
		return nil, err
	}
	if !n.up[t.URI.Host] {
		return nil, errRefused
	}
	s := &fakeSession{host: t.URI.Host, done: make(chan struct{}), confirm: n.confirm, subs: map[string]func(*session.Delivery){}}
	n.sessions = append(n.sessions, s)
	if n.hook != nil {
		n.hook(s)
	}
	return s, nil
}

func (n *fakeNet) attemptHosts() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, a := range n.attempts {
		out = append(out, a.host)
	}
	return out
}

func (n *fakeNet) attemptTimes() []time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []time.Time
	for _, a := range n.attempts {
		out = append(out, a.at)
	}
	return out
}

func (n *fakeNet) session(i int) *fakeSession {
	n.mu.Lock()
	defer n.mu.Unlock()
	if i >= len(n.sessions) {
		return nil
	}
	return n.sessions[i]
}

func (n *fakeNet) sessionCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.sessions)
}

// fakeSession records what the engine does on one connection. With confirm
// on, every confirmation resolves at once; otherwise sends wait in held
// until the test resolves them or kills the session.
type fakeSession struct {
	host    string
	confirm bool

	mu      sync.Mutex
	sent    []*session.Outgoing
	held    []chan error
	subs    map[string]func(*session.Delivery)
	subLog  []string
	acks    []string
	txLog   []string
	closed  bool
	done    chan struct{}
	err     error
	ackHold bool // acks never get an answer (until the session dies)
	ackWait []chan struct{}
}

func (s *fakeSession) lostErr() error { return fmt.Errorf("%w: fake", session.ErrConnectionLost) }

func (s *fakeSession) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

func (s *fakeSession) Send(ctx context.Context, m *session.Outgoing) (session.Confirmation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.alive() {
		return nil, s.lostErr()
	}
	cp := *m
	s.sent = append(s.sent, &cp)
	ch := make(chan error, 1)
	if s.confirm || !m.Confirm {
		ch <- nil
	} else {
		s.held = append(s.held, ch)
	}
	return ch, nil
}

func (s *fakeSession) Subscribe(ctx context.Context, spec session.SubscribeSpec, deliver func(*session.Delivery)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.alive() {
		return s.lostErr()
	}
	s.subs[spec.ID] = deliver
	s.subLog = append(s.subLog, spec.ID+"@"+spec.Destination.String())
	return nil
}

func (s *fakeSession) Unsubscribe(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.subs, id)
	return nil
}

func (s *fakeSession) Ack(ctx context.Context, d *session.Delivery, tx string) error {
	s.mu.Lock()
	if !s.alive() {
		s.mu.Unlock()
		return s.lostErr()
	}
	s.acks = append(s.acks, d.MessageID)
	hold := s.ackHold
	s.mu.Unlock()
	if hold {
		select {
		case <-s.done:
			return s.lostErr()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *fakeSession) Nack(ctx context.Context, d *session.Delivery, tx string) error { return nil }

func (s *fakeSession) txOp(op, tx string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.alive() {
		return s.lostErr()
	}
	s.txLog = append(s.txLog, op+":"+tx)
	return nil
}

func (s *fakeSession) Begin(ctx context.Context, tx string) error  { return s.txOp("begin", tx) }
func (s *fakeSession) Commit(ctx context.Context, tx string) error { return s.txOp("commit", tx) }
func (s *fakeSession) Abort(ctx context.Context, tx string) error  { return s.txOp("abort", tx) }

func (s *fakeSession) Done() <-chan struct{} { return s.done }

func (s *fakeSession) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// kill ends the session as a network failure would.
func (s *fakeSession) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.alive() {
		return
	}
	s.err = s.lostErr()
	close(s.done)
	for _, ch := range s.held {
		ch <- s.lostErr()
	}
	s.held = nil
}

func (s *fakeSession) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.kill()
	s.mu.Lock()
	s.err = nil
	s.mu.Unlock()
	return nil
}

// deliver pushes a message to subscription id as the broker would.
func (s *fakeSession) deliver(id string, d *session.Delivery) bool {
	s.mu.Lock()
	fn := s.subs[id]
	s.mu.Unlock()
	if fn == nil {
		return false
	}
	d.SubscriptionID = id
	fn(d)
	return true
}

func (s *fakeSession) sentIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.sent {
		out = append(out, m.DuplicateID)
	}
	return out
}

func (s *fakeSession) subscriptions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.subLog...)
}

func (s *fakeSession) ackedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.acks...)
}

func (s *fakeSession) heldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

func mustParse(raw string) *Spec {
	s, err := Parse(raw)
	if err != nil {
		panic(err)
	}
	return s
}

type (
	urlT       = url.URL
	brokerErrT = session.BrokerError
	outT       = session.Outgoing
	destT      = session.Destination
)
