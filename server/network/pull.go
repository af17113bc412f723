package network

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/server/internal/broker"
)

// pullAckers is how many acknowledgements to the remote are in flight at once.
const pullAckers = 16

// puller is the other direction of a duplex bridge. In ActiveMQ the
// accepting broker runs a mirror bridge over the same connection; a STOMP
// broker cannot subscribe back over its client's connection, so here the
// initiating side does what that mirror would: for every destination with
// consumers here (learned from this broker's own consumer advisories) it
// subscribes on the remote as a network consumer, stores each message here
// under a duplicate id derived from the remote's message id, and
// acknowledges it on the remote only once stored. A message whose
// acknowledgement was lost comes again and is recognised as a duplicate.
type puller struct {
	b       *bridge
	events  *mailbox[demandEvent]
	demands map[string]*pullDemand // by destination; owned by run
	ackers  []*mailbox[pendingAck]
	next    atomic.Uint32
}

type pullDemand struct {
	dest   broker.Destination
	path   []string        // the local demand's broker path
	local  map[string]bool // local consumer ids
	static bool
	cancel context.CancelFunc
}

type pendingAck struct {
	m    *client.Message
	done func()
}

func newPuller(b *bridge) *puller {
	p := &puller{b: b, events: newMailbox[demandEvent](), demands: map[string]*pullDemand{}}
	for range pullAckers {
		p.ackers = append(p.ackers, newMailbox[pendingAck]())
	}
	return p
}

func (p *puller) start() {
	p.b.goRun(p.run)
	for _, a := range p.ackers {
		p.b.goRun(func() { p.runAcker(a) })
	}
}

func (p *puller) run() {
	for {
		for _, ev := range p.events.take() {
			p.apply(ev)
		}
		select {
		case <-p.b.ctx.Done():
			return
		case <-p.events.ready():
		}
	}
}

func (p *puller) apply(ev demandEvent) {
	b := p.b
	key := ev.dest.String()
	pd := p.demands[key]
	if ev.static {
		if pd == nil {
			pd = p.open(key, ev)
		}
		pd.static = true
		return
	}
	// Demand that came from the remote (our own network consumers
	// included) must not be sent back to it.
	if !b.wantsDemand(ev, b.remoteName) {
		return
	}
	if ev.add {
		if pd == nil {
			pd = p.open(key, ev)
		}
		pd.local[ev.consumerID] = true
		return
	}
	if pd == nil {
		return
	}
	delete(pd.local, ev.consumerID)
	if len(pd.local) == 0 && !pd.static {
		delete(p.demands, key)
		pd.cancel()
		b.log.Debug("pull demand gone", "destination", key, "remote", b.remoteName)
	}
}

func (p *puller) open(key string, ev demandEvent) *pullDemand {
	ctx, cancel := context.WithCancel(p.b.ctx)
	pd := &pullDemand{dest: ev.dest, path: ev.path, local: map[string]bool{}, cancel: cancel}
	p.demands[key] = pd
	p.b.goRun(func() { p.pullFrom(ctx, pd) })
	p.b.log.Debug("pulling on demand", "destination", key, "remote", p.b.remoteName)
	return pd
}

// pullFrom runs one subscription on the remote until its demand goes away
// (then it waits until everything taken is stored and acknowledged, and
// unsubscribes, so the remote redelivers the rest to others) or the bridge
// ends (then the remote redelivers what was not acknowledged).
func (p *puller) pullFrom(ctx context.Context, pd *pullDemand) {
	b := p.b
	path := append([]string{b.env.Name}, pd.path...)
	sub, err := b.remote.Subscribe(ctx, pd.dest.String(), client.AckIndividual,
		client.Prefetch(b.opts.PrefetchSize), client.Headers(map[string]string{hdrSubNetworkPath: strings.Join(path, ",")}))
	if err != nil {
		if ctx.Err() == nil {
			b.fail(fmt.Errorf("pull %s: %w", pd.dest, err))
		}
		return
	}
	b.track(sub)
	var taken inflight
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			break
		}
		p.store(m, &taken)
	}
	if taken.wait(b.ctx) != nil {
		return
	}
	uctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := sub.Unsubscribe(uctx); err != nil && b.ctx.Err() == nil {
		b.fail(fmt.Errorf("pull %s: unsubscribe: %w", pd.dest, err))
	}
}

// store writes a pulled message here; the acknowledgement to the remote
// follows once it is stored (on disk, for a persistent message).
func (p *puller) store(m *client.Message, taken *inflight) {
	b := p.b
	dest, err := broker.ParseDestination(m.Destination())
	if err != nil {
		b.log.Error("pulled a message with a bad destination", "destination", m.Destination(), "err", err)
		return
	}
	path := splitPath(m.Header(hdrBrokerPath))
	taken.add()
	if dest.Kind == broker.Topic && (slices.Contains(path, b.env.Name) || len(path) >= b.opts.messageTTL()) {
		// A copy of what this broker published, or one that may travel no
		// further: this broker's subscribers must not get it (again).
		p.ack(m, taken)
		return
	}
	lm := fromRemote(m, dest, b.pullDupID(m.ID()), append(path, b.remoteName))
	b.lsess.Send(b.ctx, lm, "", func(err error) {
		if err != nil {
			taken.done()
			b.fail(fmt.Errorf("store a message pulled from %s: %w", b.remoteName, err))
			return
		}
		p.ack(m, taken)
	})
}

// ack queues the remote acknowledgement; it runs on the store's completion
// path, so it must not block.
func (p *puller) ack(m *client.Message, taken *inflight) {
	a := p.ackers[p.next.Add(1)%uint32(len(p.ackers))]
	a.push(pendingAck{m: m, done: taken.done})
}

func (p *puller) runAcker(box *mailbox[pendingAck]) {
	b := p.b
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-box.ready():
		}
		for _, a := range box.take() {
			if err := a.m.Ack(b.ctx); err != nil {
				b.fail(fmt.Errorf("acknowledge a pulled message on %s: %w", b.remoteName, err))
				return
			}
			a.done()
		}
	}
}

// inflight counts messages taken from a subscription and not yet settled.
type inflight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{}
}

func (f *inflight) add() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	f.n--
	if f.n == 0 && f.zero != nil {
		close(f.zero)
		f.zero = nil
	}
	f.mu.Unlock()
}

// wait returns once nothing is in flight, or ctx's error.
func (f *inflight) wait(ctx context.Context) error {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return nil
	}
	if f.zero == nil {
		f.zero = make(chan struct{})
	}
	ch := f.zero
	f.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
