package network

import (
	"fmt"
	"sync"

	"github.com/tethermq/tether/server/internal/broker"
)

// localWatch follows this broker's own consumer advisories, in process: a
// duplex bridge pulls for the destinations they show, and
// replayWhenNoConsumers needs to know whether a queue has an application
// consumer here. The subscription replays an "add" for every existing
// consumer first, so the watch starts with the full picture.
type localWatch struct {
	b    *bridge
	in   *mailbox[*broker.Delivery]
	cons *broker.Consumer

	mu    sync.Mutex
	local map[broker.Destination]map[string]bool // application consumers by destination
}

func newLocalWatch(b *bridge) *localWatch {
	return &localWatch{b: b, in: newMailbox[*broker.Delivery](), local: map[broker.Destination]map[string]bool{}}
}

func (w *localWatch) start() error {
	cons, err := w.b.lsess.Subscribe(broker.ConsumerOptions{
		Dest: broker.Destination{Kind: broker.Topic, Name: broker.AdvisoryConsumerPfx + ">"}, AckMode: broker.AckAuto,
	}, w.in.push)
	if err != nil {
		return fmt.Errorf("local consumer advisories: %w", err)
	}
	w.cons = cons
	w.b.goRun(w.run)
	return nil
}

func (w *localWatch) run() {
	for {
		select {
		case <-w.b.ctx.Done():
			return
		case <-w.in.ready():
		}
		for _, d := range w.in.take() {
			w.cons.Ack(d.Message.ID, "", false, nil) // auto ack: frees the prefetch
			ev, ok := parseAdvisory(d.Message.Dest.Name, func(name string) string { return headerValue(d.Message, name) })
			if !ok {
				continue
			}
			w.track(ev)
			if w.b.pull != nil {
				w.b.pull.events.push(ev)
			}
		}
	}
}

// track counts application consumers (those with no broker path).
func (w *localWatch) track(ev demandEvent) {
	if len(ev.path) > 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := w.local[ev.dest]
	if ev.add {
		if ids == nil {
			ids = map[string]bool{}
			w.local[ev.dest] = ids
		}
		ids[ev.consumerID] = true
		return
	}
	delete(ids, ev.consumerID)
	if len(ids) == 0 {
		delete(w.local, ev.dest)
	}
}

// hasLocalConsumers is called from a consumer filter, under a queue lock:
// it takes only the watch's own lock.
func (w *localWatch) hasLocalConsumers(d broker.Destination) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.local[d]) > 0
}
