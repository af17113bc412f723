package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tethermq/tether/client"
	clientstomp "github.com/tethermq/tether/client/stomp"
	"github.com/tethermq/tether/server/broker"
)

// bridgeHeartBeat is offered both ways on the bridge's connection, so a
// silent remote (not a closed one) is noticed within about two intervals.
const bridgeHeartBeat = 5 * time.Second

// bridge is one connection to a remote broker, from connect to loss. Every
// goroutine it starts is in wg and stops when ctx ends; teardown then closes
// the local session (whatever the bridge held goes back to its queue) and
// the remote connection (whatever the remote had pushed to us is
// redelivered there).
type bridge struct {
	l    *link
	opts *Options
	env  *Env
	log  *slog.Logger
	ctx  context.Context
	fail func(error) // ends the bridge

	remote      *client.Conn
	tap         *sessionTap
	remoteName  string
	established bool
	lsess       *broker.Session
	filter      destFilter
	outbox      broker.Destination
	wg          sync.WaitGroup

	fwd   *forwarder
	mov   *mover
	watch *localWatch // set when duplex or replayWhenNoConsumers
	pull  *puller     // set when duplex
}

// runBridge connects, runs the bridge until the connection is lost or ctx
// ends, and tears it down. upFor is how long it was established (0 if it
// never was).
func runBridge(ctx context.Context, l *link) (upFor time.Duration, err error) {
	c := l.c
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b := &bridge{
		l: l, opts: &c.opts, env: &c.env, ctx: ctx, fail: cancel,
		log: c.log.With("link", l.key), filter: newDestFilter(&c.opts),
	}
	b.tap = &sessionTap{inner: clientstomp.Dialer{}}
	opts := []client.Option{
		client.WithClientID(b.clientID()),
		client.WithHeartBeat(bridgeHeartBeat, bridgeHeartBeat),
		client.WithCloseTimeout(2 * time.Second),
		client.WithLogger(b.log),
		client.WithEventHandler(func(e client.Event) {
			if e.Kind == client.EventInterrupted || e.Kind == client.EventFailed {
				cancel(fmt.Errorf("connection to %s lost: %w", e.URI, e.Err))
			}
		}),
	}
	for _, scheme := range clientstomp.Schemes {
		opts = append(opts, client.WithDialer(scheme, b.tap))
	}
	if c.env.TLS != nil {
		opts = append(opts, client.WithTLS(c.env.TLS))
	}
	if c.opts.UserName != "" {
		opts = append(opts, client.WithCredentials(c.opts.UserName, c.opts.Password))
	}
	remote, err := client.Dial(ctx, l.uri, opts...)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	b.remote = remote
	defer b.teardown()

	if b.remoteName, err = hello(ctx, remote); err != nil {
		return 0, err
	}
	if b.remoteName == c.env.Name {
		return 0, fmt.Errorf("the remote broker is named %q too: broker names must differ for loop prevention", b.remoteName)
	}
	if err := b.start(); err != nil {
		return 0, err
	}
	established := time.Now()
	b.established = true
	l.setRemote(b.remoteName)
	b.log.Info("network bridge established", "local", c.env.Name, "remote", b.remoteName, "uri", remote.URI(), "duplex", c.opts.Duplex)
	<-ctx.Done()
	upFor = time.Since(established)
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
		return upFor, err
	}
	return upFor, nil
}

// start brings the bridge's parts up: the outbox forwarder first (messages
// staged by an earlier bridge are settled before anything else), then
// demand forwarding, then, for a duplex bridge, pulling.
func (b *bridge) start() error {
	var err error
	if b.lsess, err = b.env.Broker.NewSession(broker.SessionOptions{}); err != nil {
		return fmt.Errorf("local session: %w", err)
	}
	b.outbox = broker.Destination{Kind: broker.Queue, Name: outboxPrefix + b.opts.Name + "." + b.l.key}
	b.fwd = newForwarder(b)
	if err := b.fwd.start(); err != nil {
		return err
	}
	b.mov = newMover(b)
	if b.opts.Duplex {
		b.pull = newPuller(b)
	}
	if b.opts.Duplex || b.opts.ReplayWhenNoConsumers {
		b.watch = newLocalWatch(b)
	}
	b.goRun(b.mov.run)
	if b.pull != nil {
		b.pull.start()
	}
	statics, _ := parseStatics(b.opts.StaticallyIncludedDestinations) // validated by Options.Validate
	for _, d := range statics {
		b.mov.events.push(demandEvent{add: true, static: true, dest: d})
		if b.pull != nil {
			b.pull.events.push(demandEvent{add: true, static: true, dest: d})
		}
	}
	if b.watch != nil {
		if err := b.watch.start(); err != nil {
			return err
		}
	}
	if !b.opts.StaticBridge {
		if err := b.followRemoteDemand(); err != nil {
			return err
		}
	}
	return nil
}

// followRemoteDemand subscribes to the remote's consumer advisories (the
// subscription first replays an "add" for every existing consumer) and
// feeds them to the mover.
func (b *bridge) followRemoteDemand() error {
	sub, err := b.remote.Subscribe(b.ctx, "topic://"+broker.AdvisoryConsumerPfx+">")
	if err != nil {
		return fmt.Errorf("subscribe to the remote's consumer advisories: %w", err)
	}
	b.goRun(func() {
		for {
			m, err := sub.Next(b.ctx)
			if err != nil {
				b.fail(fmt.Errorf("remote consumer advisories: %w", err))
				return
			}
			// The consumer's priority is not readable over STOMP (see
			// parseAdvisory): it counts as 0, as for most consumers.
			get := func(name string) string {
				if name == "priority" {
					return ""
				}
				return m.Header(name)
			}
			d, err := broker.ParseDestination(m.Destination())
			if err != nil {
				continue
			}
			if ev, ok := parseAdvisory(d.Name, get); ok {
				b.mov.events.push(ev)
			}
		}
	})
	return nil
}

// wantsDemand applies ActiveMQ's rules to a consumer advisory: skip
// plumbing and filtered destinations, demand that came from `from` (it
// would loop), and demand that has already travelled consumerTTL hops.
func (b *bridge) wantsDemand(ev demandEvent, from string) bool {
	return b.filter.allows(ev.dest) && !slices.Contains(ev.path, from) && len(ev.path) < b.opts.consumerTTL()
}

// clientID is the same for every bridge of this connector to this remote,
// before and after a master change (the identity belongs to the store): a
// new bridge connection takes over a stale one the remote has not noticed
// dying yet, which returns that one's unacknowledged messages at once.
func (b *bridge) clientID() string {
	return "tether-bridge." + b.env.Identity + "." + b.opts.Name + "." + b.l.key
}

func (b *bridge) goRun(fn func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		fn()
	}()
}

func (b *bridge) teardown() {
	b.fail(context.Canceled)
	b.wg.Wait()
	if b.lsess != nil {
		b.lsess.Close()
	}
	_ = b.remote.Close()
	b.l.setRemote("")
	if !b.established {
		return // the link reports why it could not be established
	}
	if err := context.Cause(b.ctx); !errors.Is(err, context.Canceled) {
		b.log.Warn("network bridge stopped", "remote", b.remoteName, "err", err)
	} else {
		b.log.Info("network bridge stopped", "remote", b.remoteName)
	}
}
