package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tethermq/tether/failover/session"
)

// DefaultAuditWindow is how many message ids with an ack in doubt each
// subscription remembers, as ActiveMQ's audit depth.
const DefaultAuditWindow = 2048

// Config is what Dial needs besides the parsed URI.
type Config struct {
	// Dialer is the protocol adapter for the URI's scheme.
	Dialer session.Dialer
	// Session holds credentials, client id, TLS and heart-beats.
	Session session.Config
	// Logger receives the engine's logs; nil discards them.
	Logger *slog.Logger
	// OnEvent receives state changes in order, from one goroutine.
	OnEvent func(Event)
	// AuditWindow is how many in-doubt acked ids each subscription
	// remembers; 0 means DefaultAuditWindow.
	AuditWindow int
	// Clock drives reconnect delays and the failover timeout; nil is real time.
	Clock Clock
	// Shuffle reorders a pass when randomize is on; nil uses math/rand/v2.
	Shuffle func(n int, swap func(i, j int))
	// SendWindow is how many SendAsync sends may wait for their
	// confirmation at once; 0 means DefaultSendWindow.
	SendWindow int
}

// Conn is a connection that survives broker failover: operations wait for
// the next connection while it is down, and every subscription and
// unconfirmed send is restored on it. It is safe for concurrent use.
type Conn struct {
	spec   *Spec
	opts   Options
	cfg    Config
	clock  Clock
	log    *slog.Logger
	conn   *connector
	events *eventQueue

	stopCtx context.Context // ends every background goroutine on Close
	stop    context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever live, closed or fatal change
	live    *generation   // nil while disconnected or restoring
	closed  bool
	fatal   error
	lastGen uint64
	subs    map[string]*Subscription
	sends   map[uint64]*pendingSend

	switchCh chan candidate // priority failback offers
	window   chan struct{}  // one token per SendAsync send in flight
	cache    *sendCache     // trackMessages
	standby  *standbyPool
	ids      atomic.Uint64 // subscription, transaction and send sequence numbers
	stats    counters
}

// Dial parses nothing: it connects with an already parsed spec, making
// passes over spec.Brokers until one completes the handshake, bounded by ctx
// and startupMaxReconnectAttempts.
func Dial(ctx context.Context, spec *Spec, cfg Config) (*Conn, error) {
	if cfg.Dialer == nil {
		return nil, errors.New("failover: no protocol dialer")
	}
	for _, u := range spec.Brokers {
		if err := cfg.Dialer.Check(u); err != nil {
			return nil, &URIError{URI: spec.String(), Reason: err.Error()}
		}
	}
	c := newConn(spec, cfg)
	sess, uri, err := c.conn.connect(ctx, true, nil)
	if err != nil {
		c.stop()
		c.events.close()
		return nil, fmt.Errorf("failover: connect to %s: %w", spec.String(), err)
	}
	g, err := c.activate(sess, uri)
	if err != nil {
		// The session died during an empty restore; let the supervisor
		// reconnect as for any later loss.
		c.log.Warn("failover: first connection died at once", "uri", redact(uri), "err", err)
	}
	c.events.emit(Event{Kind: EventConnected, Time: c.clock.Now(), URI: redact(uri)})
	c.wg.Add(1)
	go c.supervise(g)
	if c.opts.Backup || c.opts.PriorityBackup {
		c.wg.Add(1)
		go c.keepStandby()
	}
	return c, nil
}

func newConn(spec *Spec, cfg Config) *Conn {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Shuffle == nil {
		cfg.Shuffle = rand.Shuffle
	}
	if cfg.AuditWindow <= 0 {
		cfg.AuditWindow = DefaultAuditWindow
	}
	if cfg.SendWindow <= 0 {
		cfg.SendWindow = DefaultSendWindow
	}
	if cfg.Session.Logger == nil {
		cfg.Session.Logger = cfg.Logger
	}
	c := &Conn{
		spec:     spec,
		opts:     spec.Options,
		cfg:      cfg,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		events:   newEventQueue(cfg.OnEvent),
		changed:  make(chan struct{}),
		subs:     map[string]*Subscription{},
		sends:    map[uint64]*pendingSend{},
		switchCh: make(chan candidate),
		cache:    newSendCache(spec.Options.MaxCacheSize),
		window:   make(chan struct{}, cfg.SendWindow),
	}
	c.stopCtx, c.stop = context.WithCancel(context.Background())
	if c.opts.Backup || c.opts.PriorityBackup {
		c.standby = newStandbyPool()
	}
	c.conn = &connector{
		opts:    &c.opts,
		brokers: spec.Brokers,
		dialer:  cfg.Dialer,
		cfg:     cfg.Session,
		clock:   c.clock,
		log:     c.log,
		shuffle: cfg.Shuffle,
		emit:    c.emit,
		standby: c.standby,
		backoff: newBackOff(&c.opts, c.clock),
	}
	return c
}

func (c *Conn) emit(e Event) {
	e.Time = c.clock.Now()
	c.events.emit(e)
}

// broadcast wakes everyone waiting for a state change. Call with c.mu held.
func (c *Conn) broadcast() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// nextLive returns the published generation other than after (nil: any),
// waiting while the Conn is disconnected, at most until ctx ends or the
// failover timeout passes.
func (c *Conn) nextLive(ctx context.Context, after *generation) (*generation, error) {
	return c.waitLive(ctx, after, c.opts.Timeout)
}

// awaitLive waits for a published generation with no failover timeout; the
// engine's own goroutines use it.
func (c *Conn) awaitLive(ctx context.Context) (*generation, error) {
	return c.waitLive(ctx, nil, 0)
}

func (c *Conn) waitLive(ctx context.Context, after *generation, limit time.Duration) (*generation, error) {
	var timeout <-chan time.Time
	for {
		c.mu.Lock()
		g, closed, fatal, changed := c.live, c.closed, c.fatal, c.changed
		c.mu.Unlock()
		switch {
		case closed:
			return nil, ErrClosed
		case fatal != nil:
			return nil, fatal
		case g != nil && g != after:
			return g, nil
		}
		if timeout == nil && limit > 0 {
			t := c.clock.NewTimer(limit)
			defer t.Stop()
			timeout = t.C()
		}
		select {
		case <-changed:
		case <-timeout:
			return nil, fmt.Errorf("%w: failover timeout of %d ms reached", ErrTimeout, limit.Milliseconds())
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrDisconnected, ctx.Err())
		}
	}
}

// isRetired reports whether g stopped being the connection.
func (c *Conn) isRetired(g *generation) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return g.retired
}

// URI returns the broker currently connected to, or "" while disconnected.
func (c *Conn) URI() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live == nil {
		return ""
	}
	return redact(c.live.uri)
}

// Close ends the connection: background work stops, waiting operations
// fail with ErrClosed, subscriptions close, and the session is closed
// gracefully within ctx.
func (c *Conn) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	g := c.live
	c.live = nil
	if g != nil {
		g.retired = true
	}
	subs := c.subList()
	c.broadcast()
	c.mu.Unlock()

	c.stop()
	for _, s := range subs {
		s.close(ErrClosed)
	}
	var err error
	if g != nil {
		err = g.sess.Close(ctx)
	}
	c.wg.Wait()
	c.failAsync(ErrClosed)
	c.standby.closeAll(ctx)
	c.events.close()
	return err
}

// subList returns the subscriptions in creation order. Call with c.mu held.
func (c *Conn) subList() []*Subscription {
	list := make([]*Subscription, 0, len(c.subs))
	for _, s := range c.subs {
		list = append(list, s)
	}
	sortBySeq(list)
	return list
}

// background runs fn on a goroutine that Close waits for, with a context
// that Close cancels. Once Close has begun it runs nothing: the Add must
// happen before Close's Wait.
func (c *Conn) background(fn func(ctx context.Context)) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		fn(c.stopCtx)
	}()
}

// lost reports whether err means the session died under the operation.
func lost(err error) bool { return errors.Is(err, session.ErrConnectionLost) }
