package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/server/internal/store"
)

// The core tests drive the broker through its API, as a connector does,
// record every delivery and every settlement in one log, and check the
// log against the package's invariants (doc.go) with checkLog.

// recStore is a store that remembers which keys are durable (written by a
// batch committed with sync, or by an earlier unsynced one that a synced
// commit followed), so that a test can tell, at the moment a message is
// handed to a consumer or its send completes, whether it was on disk.
type recStore struct {
	store.Store
	mu      sync.Mutex
	written map[string]bool // set, not yet synced
	durable map[string]bool
	batches []recBatch // every successful commit, in order
}

type recBatch struct {
	sets, deletes []string
	sync          bool
}

func newRecStore(t *testing.T, dir string) *recStore {
	t.Helper()
	st, err := store.OpenJournal(dir, store.JournalOptions{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	rs := &recStore{Store: st, written: map[string]bool{}, durable: map[string]bool{}}
	if err := st.ScanKeys(nil, func(k []byte) error { rs.durable[string(k)] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return rs
}

func (rs *recStore) NewBatch() store.Batch { return &recBatchW{Batch: rs.Store.NewBatch(), rs: rs} }

type recBatchW struct {
	store.Batch
	rs *recStore
	b  recBatch
}

func (w *recBatchW) Set(k, v []byte) { w.b.sets = append(w.b.sets, string(k)); w.Batch.Set(k, v) }
func (w *recBatchW) Delete(k []byte) { w.b.deletes = append(w.b.deletes, string(k)); w.Batch.Delete(k) }

func (w *recBatchW) Commit(sync bool) error {
	if err := w.Batch.Commit(sync); err != nil {
		return err
	}
	rs := w.rs
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, k := range w.b.deletes {
		delete(rs.written, k)
		delete(rs.durable, k)
	}
	for _, k := range w.b.sets {
		rs.written[k] = true
	}
	if sync {
		for k := range rs.written {
			rs.durable[k] = true
		}
		clear(rs.written)
	}
	w.b.sync = sync
	rs.batches = append(rs.batches, w.b)
	return nil
}

func (rs *recStore) isDurable(k []byte) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.durable[string(k)]
}

// present reports whether k is stored at all (durable or not yet synced).
func (rs *recStore) present(k []byte) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.durable[string(k)] || rs.written[string(k)]
}

// batchMoving reports whether one commit deleted from and set to exactly
// the given keys (a dead-letter move).
func (rs *recStore) batchMoving(del, set []byte) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, b := range rs.batches {
		if slices.Contains(b.deletes, string(del)) && slices.Contains(b.sets, string(set)) {
			return true
		}
	}
	return false
}

// coreBroker is a broker over a recStore in dir.
type coreBroker struct {
	*Broker
	rs *recStore
}

func startCore(t *testing.T, dir string, cfg Config) *coreBroker {
	t.Helper()
	rs := newRecStore(t, dir)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b, err := New(cfg, rs)
	if err != nil {
		rs.Close()
		t.Fatal(err)
	}
	cb := &coreBroker{Broker: b, rs: rs}
	t.Cleanup(cb.stop)
	return cb
}

// stop closes the broker and its store; it may be called twice.
func (cb *coreBroker) stop() {
	cb.Close()
	cb.rs.Close()
}

func (cb *coreBroker) session(t *testing.T, clientID string) *Session {
	t.Helper()
	s, err := cb.NewSession(SessionOptions{ClientID: clientID})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// send sends m and waits for its completion; a persistent message must be
// on disk by then (doc.go: before its sender's done callback runs).
func (cb *coreBroker) send(t *testing.T, s *Session, m *Message) *Message {
	t.Helper()
	done := make(chan error, 1)
	s.Send(context.Background(), m, "", func(err error) {
		if err == nil && m.Persistent && m.Dest.Kind == Queue && !cb.rs.present(messageKey(queueQID(m.Dest.Name), m.seq)) {
			err = fmt.Errorf("send of %s completed before its store write", m.ID)
		}
		done <- err
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return m
}

// evKind is what a log event records.
type evKind uint8

const (
	evDeliver evKind = iota
	evAck            // the test acknowledges (logged before the call: the broker may refill the slot at once)
	evNack           // the test returns it (logged before the call, likewise)
	evClosing        // Consumer.Close or Session.Close is called: its messages may go to others from now
	evClosed         // Consumer.Close or Session.Close returned for this consumer
)

func (k evKind) String() string {
	return [...]string{"deliver", "ack", "nack", "closing", "closed"}[k]
}

type event struct {
	kind       evKind
	consumer   string
	qid        string // the queue (or topic subscription) the consumer takes from
	msg        *Message
	cumulative bool // evAck in AckClient mode

	// evDeliver: what the broker said and saw, read under the queue lock.
	redelivered bool
	count       int
	prefetch    int
	inflight    int  // the consumer's in-flight count, this delivery included
	onDisk      bool // the message's store key was durable (persistent, stored queues only)
	stored      bool // the message is stored under its queue (persistent, stored queue)
	recovered   bool // stored by an earlier run of the broker: it may have been delivered then
}

func (e event) String() string {
	if e.msg == nil {
		return fmt.Sprintf("%s %s", e.kind, e.consumer)
	}
	return fmt.Sprintf("%s %s %s(%s)", e.kind, e.consumer, e.msg.ID, e.msg.Body)
}

// dlog is the delivery log of one test.
type dlog struct {
	rs   *recStore
	mu   sync.Mutex
	ev   []event
	wake chan struct{}
}

func newLog(cb *coreBroker) *dlog { return &dlog{rs: cb.rs, wake: make(chan struct{}, 1)} }

func (l *dlog) add(e event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// deliverTo is the deliver callback of the consumer called name: it only
// records (it runs under the queue's lock, doc.go).
func (l *dlog) deliverTo(name string) func(*Delivery) {
	return func(d *Delivery) {
		c, m := d.Consumer, d.Message
		e := event{kind: evDeliver, consumer: name, qid: c.q.qid, msg: m, redelivered: d.Redelivered, count: d.DeliveryCount,
			prefetch: c.prefetch, inflight: c.inflight.n, recovered: m.seq>>40 < c.s.b.epoch}
		if q := c.q; q.durable && m.Persistent {
			e.stored = true
			e.onDisk = l.rs.isDurable(messageKey(q.qid, m.seq))
		}
		l.add(e)
	}
}

// consume subscribes a consumer whose deliveries go to the log.
func (l *dlog) consume(t *testing.T, s *Session, name string, o ConsumerOptions) *Consumer {
	t.Helper()
	c, err := s.Subscribe(o, l.deliverTo(name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (l *dlog) ack(t *testing.T, name string, c *Consumer, m *Message) {
	t.Helper()
	l.add(event{kind: evAck, consumer: name, qid: c.q.qid, msg: m, cumulative: c.opts.AckMode == AckClient})
	done := make(chan error, 1)
	c.Ack(m.ID, "", true, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatalf("ack %s: %v", m.ID, err)
	}
}

// logAck records an acknowledgement made some other way (in a transaction).
func (l *dlog) logAck(name string, c *Consumer, m *Message) {
	l.add(event{kind: evAck, consumer: name, qid: c.q.qid, msg: m, cumulative: c.opts.AckMode == AckClient})
}

func (l *dlog) nack(t *testing.T, name string, c *Consumer, m *Message) {
	t.Helper()
	l.add(event{kind: evNack, consumer: name, qid: c.q.qid, msg: m, cumulative: c.opts.AckMode == AckClient})
	done := make(chan error, 1)
	c.Nack(m.ID, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatalf("nack %s: %v", m.ID, err)
	}
}

// closeConsumer closes c and logs it once Close returned.
func (l *dlog) closeConsumer(name string, c *Consumer) {
	l.add(event{kind: evClosing, consumer: name})
	c.Close()
	l.add(event{kind: evClosed, consumer: name})
}

// closeSession closes s and logs, for each named consumer of s, that it is
// closed.
func (l *dlog) closeSession(s *Session, names ...string) {
	for _, n := range names {
		l.add(event{kind: evClosing, consumer: n})
	}
	s.Close()
	for _, n := range names {
		l.add(event{kind: evClosed, consumer: n})
	}
}

// deliveries returns the deliveries logged so far, optionally only those
// to the named consumer.
func (l *dlog) deliveries(consumer string) []event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []event
	for _, e := range l.ev {
		if e.kind == evDeliver && (consumer == "" || e.consumer == consumer) {
			out = append(out, e)
		}
	}
	return out
}

// waitDeliveries waits until the named consumer ("" = any) has been handed
// at least n messages in all, and returns its deliveries.
func (l *dlog) waitDeliveries(t *testing.T, consumer string, n int) []event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := l.deliveries(consumer); len(got) >= n {
			return got
		}
		select {
		case <-l.wake:
		case <-deadline:
			t.Fatalf("%q: %d deliveries within 10 s, want %d", consumer, len(l.deliveries(consumer)), n)
		}
	}
}

// exactly checks that consumer ("" = any) has been handed exactly n
// messages so far. The broker dispatches within the call that makes a
// message deliverable (a send's completion, an ack, a nack, a close), so
// once that call returned, whatever it caused is in the log: no wait.
func (l *dlog) exactly(t *testing.T, consumer string, n int) []event {
	t.Helper()
	got := l.deliveries(consumer)
	if len(got) != n {
		t.Fatalf("%q: %d deliveries, want exactly %d: %s", consumer, len(got), n, bodies(got))
	}
	return got
}

// logSummary is what checkLog found. A topic message is one *Message in
// every subscription it reached, so counts are kept per copy: by message
// id and queue ("<id>@<qid>"): a dead letter keeps its id in the DLQ.
type logSummary struct {
	acked     map[string]int // copy -> acknowledgements
	delivered map[string]int // copy -> deliveries
	inflight  map[string][]*Message
}

// of returns the acknowledgements and deliveries of m's copy in queue
// name.
func (s logSummary) of(name string, m *Message) (acked, delivered int) {
	k := copyKey(queueQID(name), m)
	return s.acked[k], s.delivered[k]
}

// copyKey names one copy of a message: its id, qualified for a topic
// subscription's copy.
func copyKey(qid string, m *Message) string { return m.ID + "@" + qid }

// checkLog checks a delivery log against the broker's dispatch invariants
// and fails the test on the first violation. sent lists the test's
// messages in the order it sent them (for the order of message groups).
//
//   - A message is in one place at a time: never delivered while it is in
//     flight at any consumer (itself included), never after it was acked.
//   - A consumer never holds more unacknowledged messages than its prefetch.
//   - Delivery counts grow by one per delivery; a delivery after the first
//     is flagged redelivered, and a first one is not (unless the message
//     was stored by an earlier run, which may have delivered it).
//   - A group's messages are delivered in the order they were sent: when
//     one is handed out, every earlier message of its group is acked or in
//     flight at the same consumer, and no other consumer holds the group.
//   - Nothing is delivered to a consumer after its Close (or its session's)
//     returned.
//   - A persistent message of a stored queue is on disk before any
//     consumer sees it.
func checkLog(t *testing.T, l *dlog, sent []*Message) logSummary {
	t.Helper()
	l.mu.Lock()
	evs := slices.Clone(l.ev)
	l.mu.Unlock()
	sum := logSummary{acked: map[string]int{}, delivered: map[string]int{}, inflight: map[string][]*Message{}}
	where := map[string]string{} // message id -> consumer holding it
	closed := map[string]bool{}
	closing := map[string]bool{}
	groupIdx := map[string]int{} // message id -> index in its group's send order
	groupSent := map[string][]string{}
	for _, m := range sent {
		if m.GroupID != "" {
			groupIdx[m.ID] = len(groupSent[m.GroupID])
			groupSent[m.GroupID] = append(groupSent[m.GroupID], m.ID)
		}
	}
	fail := func(i int, format string, args ...any) {
		t.Helper()
		from := max(0, i-5)
		var ctx []string
		for j := from; j <= i; j++ {
			ctx = append(ctx, evs[j].String())
		}
		t.Fatalf("event %d: %s\n(last events: %s)", i, fmt.Sprintf(format, args...), strings.Join(ctx, "; "))
	}
	remove := func(c string, m *Message, key string) {
		sum.inflight[c] = slices.DeleteFunc(sum.inflight[c], func(x *Message) bool { return x == m })
		delete(where, key)
	}
	for i, e := range evs {
		c := e.consumer
		switch e.kind {
		case evDeliver:
			id := copyKey(e.qid, e.msg)
			if closed[c] {
				fail(i, "%s delivered to %s after its Close returned", id, c)
			}
			if h, ok := where[id]; ok {
				if !closing[h] {
					fail(i, "%s delivered to %s while in flight at %s", id, c, h)
				}
				remove(h, e.msg, id) // returned by the Close under way
			}
			if sum.acked[id] > 0 {
				fail(i, "%s delivered to %s after it was acknowledged", id, c)
			}
			sum.delivered[id]++
			if e.count != sum.delivered[id] {
				fail(i, "%s: delivery count %d at its delivery number %d", id, e.count, sum.delivered[id])
			}
			if e.redelivered != (e.count > 1 || e.recovered) {
				fail(i, "%s: redelivered=%v on delivery %d", id, e.redelivered, e.count)
			}
			if len(sum.inflight[c])+1 > e.prefetch || e.inflight > e.prefetch {
				fail(i, "%s: %s holds %d (broker: %d) with prefetch %d", id, c, len(sum.inflight[c])+1, e.inflight, e.prefetch)
			}
			if e.stored && !e.onDisk {
				fail(i, "persistent %s handed to %s before it was on disk", id, c)
			}
			if g := e.msg.GroupID; g != "" {
				if k, ok := groupIdx[id]; ok {
					for _, earlier := range groupSent[g][:k] {
						if sum.acked[earlier] == 0 && where[earlier] != c {
							fail(i, "group %s: %s (number %d) delivered to %s before %s was settled", g, id, k, c, earlier)
						}
					}
				}
				for other, ms := range sum.inflight {
					if other != c && !closing[other] && slices.ContainsFunc(ms, func(m *Message) bool { return m.GroupID == g }) {
						fail(i, "group %s at %s and %s at once", g, other, c)
					}
				}
			}
			where[id] = c
			sum.inflight[c] = append(sum.inflight[c], e.msg)
		case evAck, evNack:
			id := copyKey(e.qid, e.msg)
			if where[id] != c {
				fail(i, "%s of %s, which is not in flight at %s", e.kind, id, c)
			}
			var settled []*Message
			if e.cumulative {
				for _, m := range sum.inflight[c] {
					settled = append(settled, m)
					if m == e.msg {
						break
					}
				}
			} else {
				settled = []*Message{e.msg}
			}
			for _, m := range settled {
				remove(c, m, copyKey(e.qid, m))
				if e.kind == evAck {
					sum.acked[copyKey(e.qid, m)]++
				}
			}
		case evClosing:
			closing[c] = true
		case evClosed:
			for k, h := range where {
				if h == c {
					delete(where, k)
				}
			}
			delete(sum.inflight, c)
			closed[c] = true
		}
	}
	return sum
}

// sendN sends n messages built by mk(i) and returns them in send order.
func (cb *coreBroker) sendN(t *testing.T, s *Session, n int, mk func(i int) *Message) []*Message {
	t.Helper()
	out := make([]*Message, 0, n)
	for i := range n {
		out = append(out, cb.send(t, s, mk(i)))
	}
	return out
}

func bodies(evs []event) string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.msg.Body))
	}
	return strings.Join(out, " ")
}
