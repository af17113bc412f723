package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tethermq/tether/failover"
	"github.com/tethermq/tether/failover/session"
)

// Conn is a connection to a broker that survives failover. It is safe for
// concurrent use.
type Conn struct {
	fc  *failover.Conn
	cfg config
}

// Dial connects using an ActiveMQ-style URI and returns once a broker
// completed the protocol handshake:
//
//	failover:(tcp://amq1:61616,tcp://amq2:61616)?randomize=false
//	masterslave:(tcp://amq1:61616,tcp://amq2:61616)
//	stomp://localhost:61613
//
// The scheme picks the protocol: tcp, ssl, stomp and stomp+ssl are STOMP.
// Failover options may also be given in code (MaxReconnectAttempts,
// InitialReconnectDelay, ...); an option set in the URI wins over the same
// option given in code.
// Dial waits as long as ctx allows and startupMaxReconnectAttempts permits.
// A broker refusing the connection (bad credentials) fails Dial at once.
func Dial(ctx context.Context, uri string, opts ...Option) (*Conn, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	spec, err := failover.Parse(uri)
	if err != nil {
		return nil, err
	}
	for _, s := range cfg.failover {
		if err := spec.SetDefault(s.name, s.value); err != nil {
			return nil, fmt.Errorf("tether: %w", err)
		}
	}
	if err := spec.Check(); err != nil {
		return nil, fmt.Errorf("tether: %w", err)
	}
	dialer, err := dialerFor(spec.Brokers, cfg.dialers)
	if err != nil {
		return nil, err
	}
	logger := cfg.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if !cfg.closeTimeoutOK {
		cfg.closeTimeout = spec.Options.ConnectTimeout
	}
	fc, err := failover.Dial(ctx, spec, failover.Config{
		Dialer:      dialer,
		Session:     cfg.session,
		Logger:      logger,
		OnEvent:     cfg.onEvent,
		AuditWindow: cfg.auditWindow,
		SendWindow:  cfg.sendWindow,
	})
	if err != nil {
		return nil, err
	}
	return &Conn{fc: fc, cfg: cfg}, nil
}

// Send sends body to dest (queue://X, topic://X, or X for a queue) and, by
// default, returns once the broker confirmed it. While disconnected it waits
// for the next connection, bounded by ctx and the timeout option.
func (c *Conn) Send(ctx context.Context, dest string, body []byte, opts ...SendOption) error {
	m, err := c.outgoing(dest, body, opts)
	if err != nil {
		return err
	}
	return c.fc.Send(ctx, m)
}

func (c *Conn) outgoing(dest string, body []byte, opts []SendOption) (*session.Outgoing, error) {
	d, err := session.ParseDestination(dest)
	if err != nil {
		return nil, fmt.Errorf("tether: send: %w", err)
	}
	sc := sendConfig{m: session.Outgoing{Destination: d, Body: body, Priority: -1}}
	for _, o := range opts {
		o.applySend(&sc)
	}
	if sc.err != nil {
		return nil, fmt.Errorf("tether: send to %s: %w", dest, sc.err)
	}
	if sc.ttl > 0 {
		sc.m.Expires = time.Now().Add(sc.ttl)
	} else if !sc.expires.IsZero() {
		sc.m.Expires = sc.expires
	}
	sc.m.Confirm = sc.m.Persistent || (c.cfg.confirmAll && !sc.unconfirmed)
	if sc.unconfirmed && sc.m.Persistent {
		return nil, errors.New("tether: send: a persistent send is always confirmed; Unconfirmed applies to non-persistent sends only")
	}
	return &sc.m, nil
}

// Subscribe subscribes to dest. The subscription is re-created with the same
// options after every reconnect.
func (c *Conn) Subscribe(ctx context.Context, dest string, opts ...SubOption) (*Subscription, error) {
	d, err := session.ParseDestination(dest)
	if err != nil {
		return nil, fmt.Errorf("tether: subscribe: %w", err)
	}
	sc := subConfig{spec: session.SubscribeSpec{Destination: d, Priority: -1}}
	for _, o := range opts {
		o.applySub(&sc)
	}
	if sc.err != nil {
		return nil, fmt.Errorf("tether: subscribe to %s: %w", dest, sc.err)
	}
	if sc.spec.Durable != "" {
		if c.cfg.session.ClientID == "" {
			return nil, fmt.Errorf("tether: subscribe to %s: %w", dest, ErrClientIDRequired)
		}
		if d.Kind != session.Topic {
			return nil, fmt.Errorf("tether: subscribe to %s: a durable subscription needs a topic", dest)
		}
	}
	fs, err := c.fc.Subscribe(ctx, sc.spec)
	if err != nil {
		return nil, err
	}
	return newSubscription(fs), nil
}

// Begin starts a transaction.
func (c *Conn) Begin(ctx context.Context) (*Tx, error) {
	ft, err := c.fc.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &Tx{c: c, ft: ft}, nil
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats { return c.fc.Stats() }

// URI returns the broker currently connected to, or "" while reconnecting.
func (c *Conn) URI() string { return c.fc.URI() }

// Close disconnects gracefully (waiting at most the close timeout for the
// broker's confirmation) and ends every subscription. Operations still
// waiting fail with ErrClosed.
func (c *Conn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.closeTimeout)
	defer cancel()
	return c.fc.Close(ctx)
}
