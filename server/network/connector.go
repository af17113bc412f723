package network

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/tethermq/tether/server/internal/broker"
)

// Env is what a network connector needs from the broker that runs it.
type Env struct {
	Broker *broker.Broker
	// Name is the local broker's name, as it appears in message broker
	// paths and consumer advisories.
	Name string
	// Identity is stable for the store: both brokers of a shared-store
	// master/slave pair have the same one (LoadIdentity). It keeps duplicate
	// ids and the bridge's client id the same after a master change. Empty
	// falls back to Name.
	Identity string
	// MemoryLimit is the broker's memory limit in bytes (0: unlimited); near
	// it the bridge forwards without staging through its outbox.
	MemoryLimit int64
	Logger      *slog.Logger
	// TLS is what bridges dial ssl:// and stomp+ssl:// with: the roots
	// they trust and the certificate they present (the broker's
	// sslContext). Nil: the system's roots, no client certificate.
	TLS *tls.Config
}

// Connector is one running network connector: it keeps one bridge per
// remote broker (static:), one bridge over a master/slave list
// (masterslave:) or one bridge per discovered broker (multicast://), and
// re-establishes each bridge with its reconnect options when it ends.
type Connector struct {
	opts Options
	tgt  *target
	env  Env
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	links map[string]*link
}

// BridgeInfo describes one bridge of a connector.
type BridgeInfo struct {
	Link   string    // the remote's address, or "masterslave", or its discovered name
	Remote string    // the remote broker's name; "" while not connected
	Since  time.Time // when the current bridge was established
	// Forwarded counts the messages the remote confirmed, over every
	// bridge of this link.
	Forwarded uint64
}

// Start validates o and starts the connector's bridges in the background;
// they connect, and reconnect, on their own. Close stops them.
func Start(o Options, env Env) (*Connector, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("network connector %s: %w", o.Name, err)
	}
	if env.Broker == nil || env.Name == "" {
		return nil, errors.New("network connector: Env needs the broker and its name")
	}
	if env.Identity == "" {
		env.Identity = env.Name
	}
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	tgt, _ := parseTarget(o.URI)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Connector{
		opts: o, tgt: tgt, env: env, ctx: ctx, cancel: cancel, links: map[string]*link{},
		log: env.Logger.With("networkConnector", o.Name),
	}
	switch tgt.kind {
	case kindStatic:
		for _, u := range tgt.brokers {
			c.startLink(linkKey(u), []*url.URL{u})
		}
	case kindMasterSlave:
		c.startLink("masterslave", tgt.brokers)
	case kindMulticast:
		d, err := listenMulticast(tgt.mc, env.Name, c.log)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("network connector %s: multicast discovery on %s: %w", o.Name, tgt.mc.addr, err)
		}
		d.onUp = func(name, service string) {
			u, err := url.Parse(service)
			if err != nil {
				return
			}
			c.startLink(sanitize(name), []*url.URL{u})
		}
		d.onDown = func(name string) { c.stopLink(sanitize(name)) }
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			d.run(ctx)
		}()
		c.log.Info("network connector discovering brokers", "group", tgt.mc.group, "address", tgt.mc.addr.String())
	}
	return c, nil
}

// startLink runs a bridge to brokers under key until the connector stops or
// stopLink. A link that replaces one still shutting down waits for it, so
// that two bridges never share an outbox or a client id.
func (c *Connector) startLink(key string, brokers []*url.URL) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		return
	}
	prev := c.links[key]
	ctx, cancel := context.WithCancel(c.ctx)
	l := newLink(c, key, brokers, cancel)
	c.links[key] = l
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(l.done)
		if prev != nil {
			prev.cancel()
			select {
			case <-prev.done:
			case <-ctx.Done():
				return
			}
		}
		l.run(ctx)
	}()
}

func (c *Connector) stopLink(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.links[key]; l != nil {
		l.cancel()
		delete(c.links, key)
	}
}

// Bridges lists the connector's links and whether each is connected.
func (c *Connector) Bridges() []BridgeInfo {
	c.mu.Lock()
	links := make([]*link, 0, len(c.links))
	for _, l := range c.links {
		links = append(links, l)
	}
	c.mu.Unlock()
	out := make([]BridgeInfo, 0, len(links))
	for _, l := range links {
		out = append(out, l.info())
	}
	slices.SortFunc(out, func(a, b BridgeInfo) int {
		switch {
		case a.Link < b.Link:
			return -1
		case a.Link > b.Link:
			return 1
		}
		return 0
	})
	return out
}

// Close stops every bridge and waits for them: messages on their way stay
// in this broker (in their queue or in the outbox) for the next start.
func (c *Connector) Close() error {
	c.cancel()
	c.wg.Wait()
	return nil
}
