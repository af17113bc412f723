package mqtt

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/tethermq/tether/server/internal/broker"
)

// table is a small persistent map from string keys to messages, kept as
// ordinary persistent messages in one broker queue. It lives in the
// broker's store, so it survives restarts and master changes with the rest
// of the broker's state, and it needs no broker API beyond Send, Subscribe
// and Ack.
//
// How it works:
//   - put sends a message carrying the key in a header, remove sends a
//     tombstone; the queue's order is the order of updates.
//   - One exclusive consumer with unbounded prefetch receives every message
//     and never acks the current value of a key: its in-flight set is the
//     table. When a newer message for a key arrives, the older one is acked
//     (deleted from the store); a tombstone is acked with the value it
//     removes, the tombstone last and synchronously, so a crash can never
//     keep the tombstone's deletion but lose the value's.
//   - At open, Subscribe dispatches the stored messages in store order, so
//     replaying them rebuilds the table (later wins) and the acks of stale
//     values finish any compaction a crash interrupted.
//   - The broker counts deliveries and dead-letters a message after
//     MaxRedeliveries, and every reopen within one broker process is a
//     redelivery; so open re-sends redelivered values as fresh messages,
//     which supersede (and ack) the old ones.
//
// Readers (get, collect) see the view, not the stored entries: put and
// remove change the view before they send, so a reader never sees an
// update later than the messages that follow it (a retained PUBLISH is
// in the view before its live copy reaches any subscriber). A failed
// write puts the previous value back if nothing replaced it since.
//
// Invariants:
//   - deliver runs under the queue's lock: it only updates the map and
//     queues acks for the acker goroutine, it never calls the broker.
//   - A value is acked only after its successor is stored, because the
//     successor's delivery is what queues the ack.
type table struct {
	dest broker.Destination
	log  *slog.Logger
	sess *broker.Session

	// wmu orders view changes with their sends, so the stored order of
	// updates to a key is the order the view saw.
	wmu sync.Mutex

	mu      sync.Mutex
	entries map[string]*broker.Message // stored values, for the acks
	view    map[string]*broker.Message // what readers see
	opening bool
	stale   []*broker.Message // redelivered values seen while opening
	acks    []tableAck

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

const refreshTimeout = 30 * time.Second

type tableAck struct {
	c    *broker.Consumer
	id   string
	sync bool
}

// Header names of table messages. They are user headers, so they survive
// the broker's store encoding unchanged.
const (
	tableKeyHeader       = "ActiveMQ.MQTT.TableKey"
	tableTombstoneHeader = "ActiveMQ.MQTT.TableTombstone"
)

// openTable loads the table kept in queue and keeps it until close.
func openTable(b *broker.Broker, queue string, log *slog.Logger) (*table, error) {
	sess, err := b.NewSession(broker.SessionOptions{User: "mqtt-connector"})
	if err != nil {
		return nil, fmt.Errorf("mqtt: open table %s: %w", queue, err)
	}
	t := &table{
		dest: broker.Destination{Kind: broker.Queue, Name: queue},
		log:  log.With("table", queue), sess: sess,
		entries: map[string]*broker.Message{}, view: map[string]*broker.Message{}, opening: true,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go t.ackLoop()
	c, err := sess.Subscribe(broker.ConsumerOptions{
		Dest: t.dest, AckMode: broker.AckIndividual, Prefetch: math.MaxInt32,
		// Exclusive, so that a stray consumer of the internal queue (any
		// protocol can name it) never takes entries away from the table.
		Exclusive: true, Priority: 127,
	}, t.deliver)
	if err != nil {
		t.close()
		return nil, fmt.Errorf("mqtt: open table %s: %w", queue, err)
	}
	// Stored entries are paged in from disk after Subscribe returns: the
	// table is complete only once they all are.
	c.WaitLoaded()
	t.mu.Lock()
	t.opening = false
	var stale []*broker.Message
	for _, m := range t.stale {
		if key, _ := m.Header(tableKeyHeader); t.entries[key] == m {
			stale = append(stale, m) // still current: superseded ones are acked anyway
		}
	}
	t.stale = nil
	t.mu.Unlock()
	if err := t.refresh(stale); err != nil {
		t.close()
		return nil, fmt.Errorf("mqtt: open table %s: %w", queue, err)
	}
	t.log.Debug("table loaded", "entries", t.len(), "refreshed", len(stale))
	return t, nil
}

// refresh re-sends redelivered values so that their delivery count starts
// again; each copy supersedes its original when it is delivered.
func (t *table) refresh(stale []*broker.Message) error {
	// Bounded: a table larger than the broker's memory limit would
	// otherwise wait for memory that nothing frees.
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	errs := make(chan error, len(stale))
	for _, m := range stale {
		cp := &broker.Message{Dest: t.dest, Body: m.Body, Persistent: true, Priority: m.Priority,
			Headers: append([]broker.Header(nil), m.Headers...)}
		t.sess.Send(ctx, cp, "", func(err error) { errs <- err })
	}
	for range stale {
		if err := <-errs; err != nil {
			return fmt.Errorf("refresh: %w", err)
		}
	}
	return nil
}

func (t *table) deliver(d *broker.Delivery) {
	m := d.Message
	t.mu.Lock()
	defer t.mu.Unlock()
	key, ok := m.Header(tableKeyHeader)
	if !ok {
		// Not ours: someone sent to the internal queue. Drop it.
		t.queueAckLocked(tableAck{d.Consumer, m.ID, false})
		return
	}
	old := t.entries[key]
	if old != nil {
		t.queueAckLocked(tableAck{d.Consumer, old.ID, false})
	}
	if _, tomb := m.Header(tableTombstoneHeader); tomb {
		delete(t.entries, key)
		if t.opening {
			delete(t.view, key)
		}
		t.queueAckLocked(tableAck{d.Consumer, m.ID, true})
		return
	}
	t.entries[key] = m
	if t.opening {
		// Afterwards the view is ahead of deliveries: put set it already.
		t.view[key] = m
	}
	if d.Redelivered && t.opening {
		t.stale = append(t.stale, m)
	}
}

func (t *table) queueAckLocked(a tableAck) {
	t.acks = append(t.acks, a)
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// ackLoop acks superseded messages outside the queue's lock, in order.
func (t *table) ackLoop() {
	defer close(t.done)
	for {
		stopping := false
		select {
		case <-t.kick:
		case <-t.stop:
			stopping = true
		}
		t.mu.Lock()
		acks := t.acks
		t.acks = nil
		t.mu.Unlock()
		for _, a := range acks {
			a.c.Ack(a.id, "", a.sync, nil)
		}
		if stopping {
			return
		}
	}
}

// put stores body under key; done reports when it is durable.
func (t *table) put(ctx context.Context, key string, body []byte, headers []broker.Header, done func(error)) {
	hs := make([]broker.Header, 0, len(headers)+1)
	hs = append(append(hs, broker.Header{Name: tableKeyHeader, Value: key}), headers...)
	t.write(ctx, key, &broker.Message{Dest: t.dest, Body: body, Persistent: true,
		Priority: broker.DefaultPriority, Headers: hs}, false, done)
}

// write changes the view of key (to m, or to nothing for a tombstone),
// then sends m to the store.
func (t *table) write(ctx context.Context, key string, m *broker.Message, tomb bool, done func(error)) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.Lock()
	prev, had := t.view[key]
	if tomb {
		delete(t.view, key)
	} else {
		t.view[key] = m
	}
	t.mu.Unlock()
	t.sess.Send(ctx, m, "", func(err error) {
		if err != nil {
			t.mu.Lock()
			if cur, ok := t.view[key]; (tomb && !ok) || (!tomb && cur == m) {
				if had {
					t.view[key] = prev
				} else {
					delete(t.view, key)
				}
			}
			t.mu.Unlock()
		}
		done(err)
	})
}

// remove deletes key. The tombstone is sent even when the key looks absent:
// a put still on its way to the store would otherwise win over this later
// remove.
func (t *table) remove(ctx context.Context, key string, done func(error)) {
	t.write(ctx, key, &broker.Message{Dest: t.dest, Persistent: true, Priority: broker.DefaultPriority,
		Headers: []broker.Header{{Name: tableKeyHeader, Value: key}, {Name: tableTombstoneHeader, Value: "1"}}}, true, done)
}

// get returns the current value of key.
func (t *table) get(key string) (*broker.Message, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.view[key]
	return m, ok
}

// collect returns the entries whose key satisfies keep.
func (t *table) collect(keep func(key string) bool) map[string]*broker.Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]*broker.Message{}
	for k, m := range t.view {
		if keep(k) {
			out[k] = m
		}
	}
	return out
}

func (t *table) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.view)
}

// close acks what is pending and ends the session; the current values go
// back to the queue's pending list, in the store as before.
func (t *table) close() {
	close(t.stop)
	<-t.done
	t.sess.Close()
}

// wait runs an asynchronous table write and waits for its completion,
// bounded by ctx. The callback may still run after ctx ends; its channel is
// buffered so it never blocks the broker.
func wait(ctx context.Context, op func(done func(error))) error {
	ch := make(chan error, 1)
	op(func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
