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
	"github.com/tethermq/tether/server/internal/broker"
)

// bridge is one connection's worth of bridging to a remote broker, from
// the link's connection being established to its interruption. Every
// goroutine it starts is in wg and stops when ctx ends; teardown then closes
// the local session (whatever the bridge held goes back to its queue) and
// ends the bridge's subscriptions on the remote (whatever the remote had
// pushed to us is redelivered there).
type bridge struct {
	l    *link
	opts *Options
	env  *Env
	log  *slog.Logger
	ctx  context.Context
	fail func(error) // ends the bridge

	remote      *client.Conn // the link's; it outlives the bridge
	remoteName  string
	established bool
	lsess       *broker.Session
	filter      destFilter
	outbox      broker.Destination
	wg          sync.WaitGroup
	subsMu      sync.Mutex
	subs        []*client.Subscription // on the remote, ended by teardown

	fwd   *forwarder
	mov   *mover
	watch *localWatch // set when duplex or replayWhenNoConsumers
	pull  *puller     // set when duplex
}

// runBridge runs a bridge over the link's connection until the connection
// is interrupted, the bridge fails or ctx ends, and tears it down. lost is
// the link's interruption count when the connection was seen live: if it
// moved on since, the bridge does not start. upFor is how long it was
// established (0 if it never was).
func runBridge(ctx context.Context, l *link, remote *client.Conn, lost uint64) (upFor time.Duration, err error) {
	c := l.c
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if !l.attach(lost, cancel) {
		return 0, errors.New("the connection was interrupted before the bridge started")
	}
	defer l.detach()
	b := &bridge{
		l: l, opts: &c.opts, env: &c.env, ctx: ctx, fail: cancel, remote: remote,
		log: c.log.With("link", l.key), filter: newDestFilter(&c.opts),
	}
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
	if b.lsess, err = b.env.Broker.NewSession(broker.SessionOptions{Protocol: "network", RemoteAddr: b.remote.URI()}); err != nil {
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
	b.track(sub)
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

// track records a subscription on the remote for teardown to end.
func (b *bridge) track(sub *client.Subscription) {
	b.subsMu.Lock()
	b.subs = append(b.subs, sub)
	b.subsMu.Unlock()
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
	// The connection stays with the link. While it is down an unsubscribe
	// only stops the SDK from restoring the subscription; while it is up it
	// makes the remote redeliver what it had pushed to this bridge.
	b.subsMu.Lock()
	subs := b.subs
	b.subs = nil
	b.subsMu.Unlock()
	for _, s := range subs {
		unsubscribe(s)
	}
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
