package network

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tethermq/tether/client"
)

// bridgeHeartBeat is offered both ways on the bridge's connection, so a
// silent remote (not a closed one) is noticed within about two intervals.
const bridgeHeartBeat = 5 * time.Second

// link keeps a bridge to one remote (a broker, or a master/slave list) for
// as long as its context lasts. It holds one SDK connection for its whole
// life: the SDK reconnects, with the connector's reconnect options handed
// over as typed client options, and re-sends what the remote had not
// confirmed. Each time the connection is (re-)established the link runs a
// bridge over it; an interruption tears that bridge down, and the next one
// starts once the SDK has resumed. The link itself never reconnects.
type link struct {
	c       *Connector
	key     string
	brokers []*url.URL
	cancel  context.CancelFunc
	done    chan struct{}

	up       chan struct{} // capacity 1: a connection is live (or a retry is due)
	gaveUp   chan struct{} // closed on the SDK's Failed event
	gaveOnce sync.Once

	mu         sync.Mutex
	remote     string
	since      time.Time
	lost       uint64                  // interruptions so far
	forwarded  atomic.Uint64           // messages the remote confirmed (BridgeInfo)
	stopBridge context.CancelCauseFunc // the running bridge's, nil between bridges
}

func newLink(c *Connector, key string, brokers []*url.URL, cancel context.CancelFunc) *link {
	return &link{
		c: c, key: key, brokers: brokers, cancel: cancel, done: make(chan struct{}),
		up: make(chan struct{}, 1), gaveUp: make(chan struct{}),
	}
}

// dialURI is what the link hands client.Dial: the broker itself, or the
// master/slave list as a failover list in the order written (the master
// first). Every option travels as a typed client option (clientOptions).
func dialURI(brokers []*url.URL) string {
	if len(brokers) == 1 {
		return brokers[0].String()
	}
	parts := make([]string, len(brokers))
	for i, u := range brokers {
		parts[i] = u.String()
	}
	return "failover:(" + strings.Join(parts, ",") + ")"
}

// clientOptions maps the connector's reconnect options onto the SDK's:
// static:'s maxReconnectAttempts 0 means "forever", the SDK's -1. The list
// is tried in order (the master first) with ActiveMQ's exact delays.
func (r reconnectOptions) clientOptions() []client.Option {
	attempts := r.MaxReconnectAttempts
	if attempts == 0 {
		attempts = -1
	}
	return []client.Option{
		client.Randomize(false),
		client.ReconnectJitter(0),
		client.InitialReconnectDelay(r.InitialReconnectDelay.Truncate(time.Millisecond)),
		client.MaxReconnectDelay(r.MaxReconnectDelay.Truncate(time.Millisecond)),
		client.UseExponentialBackOff(r.UseExponentialBackOff),
		client.ReconnectDelayExponent(r.BackOffMultiplier),
		client.MaxReconnectAttempts(attempts),
		client.StartupMaxReconnectAttempts(attempts),
	}
}

// clientID is the same for every connection of this connector to this
// remote, before and after a master change (the identity belongs to the
// store): a reconnecting bridge takes over a stale connection the remote has
// not noticed dying yet, which returns that one's unacknowledged messages
// at once.
func (l *link) clientID() string {
	return "tether-bridge." + l.c.env.Identity + "." + l.c.opts.Name + "." + l.key
}

func (l *link) run(ctx context.Context) {
	c := l.c
	log := c.log.With("link", l.key)
	uri := dialURI(l.brokers)
	opts := append(c.tgt.retry.clientOptions(),
		client.WithClientID(l.clientID()),
		client.WithHeartBeat(bridgeHeartBeat, bridgeHeartBeat),
		client.WithCloseTimeout(2*time.Second),
		client.WithLogger(log),
		client.WithSendWindow(2*c.opts.PrefetchSize),
		client.WithEventHandler(l.onEvent),
	)
	if c.opts.UserName != "" {
		opts = append(opts, client.WithCredentials(c.opts.UserName, c.opts.Password))
	}
	if c.env.TLS != nil {
		opts = append(opts, client.WithTLS(c.env.TLS))
	}
	// The SDK retries unreachable brokers itself (startupMaxReconnectAttempts);
	// a broker that answers with a refusal (credentials, its connection
	// limit) fails Dial at once, and is asked again after the connector's
	// delays, as ActiveMQ's connector keeps asking. The same delays space
	// out restarts of a bridge that fails on a live connection (the remote
	// refused a message, its name clashes, ...).
	bo := newBackoff(c.tgt.retry)
	var remote *client.Conn
	for {
		var err error
		if remote, err = client.Dial(ctx, uri, opts...); err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		var refused *client.BrokerError
		wait, again := bo.failed(0)
		if !errors.As(err, &refused) || !again {
			log.Error("network bridge gave up: could not connect", "uri", uri, "err", err)
			return
		}
		log.Warn("the remote refused the bridge's connection; asking again", "in", wait, "uri", uri, "err", err)
		if !sleepCtx(ctx, wait) {
			return
		}
	}
	defer remote.Close()

	for {
		select {
		case <-ctx.Done():
			return
		case <-l.gaveUp:
			log.Error("network bridge gave up: maxReconnectAttempts reached", "uri", uri)
			return
		case <-l.up:
		}
		l.mu.Lock()
		lost := l.lost
		l.mu.Unlock()
		upFor, err := runBridge(ctx, l, remote, lost)
		if ctx.Err() != nil {
			return
		}
		if l.interruptedSince(lost) {
			log.Warn("network bridge down; the client reconnects", "upFor", upFor.Round(time.Millisecond), "err", err)
			continue
		}
		wait, again := bo.failed(upFor)
		if !again {
			log.Error("network bridge gave up: maxReconnectAttempts reached", "uri", uri, "err", err)
			return
		}
		log.Warn("network bridge failed; starting it again", "in", wait, "err", err)
		if !sleepCtx(ctx, wait) {
			return
		}
		l.signalUp()
	}
}

// sleepCtx waits d, or reports false if ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// onEvent follows the SDK connection: a live connection lets the next
// bridge start, an interruption ends the running one.
func (l *link) onEvent(e client.Event) {
	switch e.Kind {
	case client.EventConnected, client.EventResumed:
		l.signalUp()
	case client.EventInterrupted, client.EventFailed:
		l.mu.Lock()
		l.lost++
		stop := l.stopBridge
		l.mu.Unlock()
		if stop != nil {
			cause := e.Err
			if cause == nil {
				cause = errors.New("interrupted")
			}
			stop(fmt.Errorf("connection to %s lost: %w", e.URI, cause))
		}
		if e.Kind == client.EventFailed {
			l.gaveOnce.Do(func() { close(l.gaveUp) })
		}
	}
}

func (l *link) signalUp() {
	select {
	case l.up <- struct{}{}:
	default:
	}
}

func (l *link) interruptedSince(lost uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost != lost
}

// attach makes stop the running bridge's, unless the connection was
// interrupted since lost was read: that bridge must not start.
func (l *link) attach(lost uint64, stop context.CancelCauseFunc) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != lost {
		return false
	}
	l.stopBridge = stop
	return true
}

func (l *link) detach() {
	l.mu.Lock()
	l.stopBridge = nil
	l.mu.Unlock()
}

func (l *link) setRemote(name string) {
	l.mu.Lock()
	l.remote = name
	if name != "" {
		l.since = time.Now()
	}
	l.mu.Unlock()
}

func (l *link) info() BridgeInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	bi := BridgeInfo{Link: l.key, Remote: l.remote, Forwarded: l.forwarded.Load()}
	if l.remote != "" {
		bi.Since = l.since
	}
	return bi
}
