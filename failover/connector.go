package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/tethermq/tether/failover/session"
)

// connector runs the reconnect loop: passes over the broker list until one
// broker completes the protocol handshake.
type connector struct {
	opts    *Options
	brokers []*url.URL
	dialer  session.Dialer
	cfg     session.Config
	clock   Clock
	log     *slog.Logger
	shuffle func(n int, swap func(i, j int))
	emit    func(Event)
	standby *standbyPool // nil unless backup or priorityBackup
	backoff *backoff.ExponentialBackOff

	mu         sync.Mutex
	advertised []*url.URL // from brokers that advertise their cluster
}

// errNoReconnect: maxReconnectAttempts=0 forbids reconnecting after a loss.
var errNoReconnect = errors.New("maxReconnectAttempts=0 allows no reconnect after a lost connection")

// connect returns a handshaken session. startup selects the attempt limit
// (startupMaxReconnectAttempts) and skips the initial delay; lost is the
// broker whose connection was just lost, tried last in every pass.
func (c *connector) connect(ctx context.Context, startup bool, lost *url.URL) (session.Session, *url.URL, error) {
	limit := c.opts.MaxReconnectAttempts
	if startup && c.opts.StartupMaxReconnectAttempts != -1 {
		limit = c.opts.StartupMaxReconnectAttempts
	}
	if !startup && limit == 0 {
		return nil, nil, fmt.Errorf("%w: %w", ErrReconnectFailed, errNoReconnect)
	}
	c.backoff.Reset()
	if !startup {
		if sb := c.standby.take(); sb != nil {
			c.log.Info("failover: switching to standby connection", "uri", redact(sb.uri))
			return sb.sess, sb.uri, nil
		}
		if err := sleep(ctx, c.clock, c.opts.InitialReconnectDelay); err != nil {
			return nil, nil, err
		}
	}
	for attempt := 1; ; attempt++ {
		if sb := c.standby.take(); sb != nil {
			return sb.sess, sb.uri, nil // a priority probe that answered meanwhile
		}
		sess, uri, err := c.pass(ctx, startup, lost)
		if err == nil {
			c.backoff.Reset()
			return sess, uri, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		var refused *session.BrokerError
		if startup && errors.As(err, &refused) {
			return nil, nil, err
		}
		c.emit(Event{Kind: EventReconnectFailed, Attempt: attempt, Err: err})
		if limit != -1 && attempt >= limit {
			return nil, nil, fmt.Errorf("%w: reconnect attempts of %d exceeded: %w", ErrReconnectFailed, limit, err)
		}
		if w := c.opts.WarnAfterReconnectAttempts; w > 0 && attempt%w == 0 {
			c.log.Warn("failover: still failing to connect, continuing to retry", "attempts", attempt, "err", err)
		} else {
			c.log.Debug("failover: pass failed", "attempt", attempt, "err", err)
		}
		if err := sleep(ctx, c.clock, c.backoff.NextBackOff()); err != nil {
			return nil, nil, err
		}
	}
}

// pass tries every broker of one connect list back to back and returns the
// first that completes the handshake, or the last error.
func (c *connector) pass(ctx context.Context, startup bool, lost *url.URL) (session.Session, *url.URL, error) {
	list := c.connectList(ctx, lost)
	if len(list) == 0 {
		return nil, nil, errors.New("no broker URIs to connect to")
	}
	var last error
	for _, u := range list {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		sess, err := c.dial(ctx, u)
		if err == nil {
			return sess, u, nil
		}
		last = err
		c.log.Debug("failover: connect failed", "uri", redact(u), "err", err)
		var refused *session.BrokerError
		if startup && errors.As(err, &refused) {
			return nil, nil, err
		}
	}
	return nil, nil, last
}

// dial makes one connection attempt bounded by connectTimeout: TCP connect
// and protocol handshake together.
func (c *connector) dial(ctx context.Context, u *url.URL) (session.Session, error) {
	dctx, cancel := context.WithTimeout(ctx, c.opts.ConnectTimeout)
	defer cancel()
	sess, err := c.dialer.Dial(dctx, session.Target{URI: u, Config: c.cfg})
	if err != nil {
		if dctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("%s: no handshake within connectTimeout %v: %w", redact(u), c.opts.ConnectTimeout, err)
		}
		return nil, fmt.Errorf("%s: %w", redact(u), err)
	}
	if c.opts.UpdateURIsSupported {
		if adv, ok := sess.(session.Advertiser); ok {
			c.addAdvertised(adv.AdvertisedURIs())
		}
	}
	return sess, nil
}

// connectList is the order of one pass: the static brokers plus any read
// from updateURIsURL or advertised by a broker.
func (c *connector) connectList(ctx context.Context, lost *url.URL) []*url.URL {
	all := append([]*url.URL(nil), c.brokers...)
	if c.opts.UpdateURIsURL != "" {
		fromFile, err := readURIList(ctx, c.opts.UpdateURIsURL, c.opts.ConnectTimeout)
		if err != nil {
			c.log.Error("failover: cannot read updateURIsURL", "url", c.opts.UpdateURIsURL, "err", err)
		}
		for _, u := range fromFile {
			if err := c.dialer.Check(u); err != nil {
				c.log.Error("failover: ignoring URI from updateURIsURL", "uri", redact(u), "err", err)
				continue
			}
			if !containsBroker(all, u) {
				all = append(all, u)
			}
		}
	}
	c.mu.Lock()
	for _, u := range c.advertised {
		if !containsBroker(all, u) {
			all = append(all, u)
		}
	}
	c.mu.Unlock()
	var prio func(*url.URL) bool
	if c.opts.PriorityBackup {
		prio = c.isPriority
	}
	return passOrder(all, lost, c.opts.Randomize, c.shuffle, prio)
}

func (c *connector) addAdvertised(list []*url.URL) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, u := range list {
		if c.dialer.Check(u) == nil && !containsBroker(c.brokers, u) && !containsBroker(c.advertised, u) {
			c.advertised = append(c.advertised, u)
		}
	}
}

// isPriority tells whether u is a priority broker: one of priorityURIs, or
// the first broker of the list when priorityURIs is not set.
func (c *connector) isPriority(u *url.URL) bool {
	if len(c.opts.PriorityURIs) > 0 {
		return containsBroker(c.opts.PriorityURIs, u)
	}
	return len(c.brokers) > 0 && sameBroker(c.brokers[0], u)
}

// sleep waits d on clock, or until ctx ends.
func sleep(ctx context.Context, clock Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// redact hides a password in a URI before it is logged or shown.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Redacted()
}
