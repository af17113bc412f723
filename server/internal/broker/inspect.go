package broker

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/tethermq/tether/groups"
)

// The admin side of the broker: read-only views for the console, the JSON
// API and the metrics, and the few operator actions (purge, delete, move a
// dead letter back). Views copy what they report under the locks that
// guard it and hold no reference into the broker afterwards.

// ErrNoDestination is returned by admin actions naming a destination that
// does not exist.
var ErrNoDestination = errors.New("no such destination")

// ErrNoMessage is returned when a message to move is not (or no longer)
// waiting where the action looks for it.
var ErrNoMessage = errors.New("no such message")

// ErrInUse is returned when a destination to delete still has consumers.
var ErrInUse = errors.New("destination has consumers")

// ConnectionInfo describes one client session.
type ConnectionInfo struct {
	ID         string    `json:"id"`
	ClientID   string    `json:"clientId,omitempty"`
	User       string    `json:"user,omitempty"`
	Protocol   string    `json:"protocol"`
	RemoteAddr string    `json:"remoteAddr,omitempty"`
	Since      time.Time `json:"since"`
	Consumers  int       `json:"consumers"`
}

// Connections lists the open sessions, oldest first. Sessions a connector
// opens for itself (no protocol given) are reported as "internal".
func (b *Broker) Connections() []ConnectionInfo {
	var out []ConnectionInfo
	b.sessions.Range(func(k, v any) bool {
		s := k.(*Session)
		s.mu.Lock()
		n := len(s.consumers)
		s.mu.Unlock()
		p := s.opts.Protocol
		if p == "" {
			p = "internal"
		}
		out = append(out, ConnectionInfo{ID: s.id, ClientID: s.opts.ClientID, User: s.opts.User, Protocol: p,
			RemoteAddr: s.opts.RemoteAddr, Since: v.(time.Time), Consumers: n})
		return true
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ConsumerInfo describes one consumer of a queue or subscription.
type ConsumerInfo struct {
	ID          uint64   `json:"id"`
	Session     string   `json:"session"`
	ClientID    string   `json:"clientId,omitempty"`
	Selector    string   `json:"selector,omitempty"`
	Prefetch    int      `json:"prefetch"`
	InFlight    int      `json:"inFlight"`
	Priority    int      `json:"priority"`
	Exclusive   bool     `json:"exclusive,omitempty"`
	Groups      int      `json:"groups"`
	NetworkPath []string `json:"networkPath,omitempty"` // a network bridge's consumer
}

// QueueDetail is a queue's (or subscription's) counters, consumers and
// message groups.
type QueueDetail struct {
	QueueStats
	Durable       bool               `json:"durable,omitempty"`  // a durable subscription
	ClientID      string             `json:"clientId,omitempty"` // its client id
	Selector      string             `json:"selector,omitempty"`
	Active        bool               `json:"active"` // has a consumer
	ConsumerList  []ConsumerInfo     `json:"consumerList"`
	GroupOwners   []groups.Ownership `json:"groupOwners,omitempty"`
	GroupsOmitted int                `json:"groupsOmitted,omitempty"` // beyond the listed ones
}

func (q *queue) detail(maxGroups int) QueueDetail {
	d := QueueDetail{QueueStats: q.stats()}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, c := range q.consumers {
		ci := ConsumerInfo{ID: c.id, Session: c.s.id, ClientID: c.s.opts.ClientID, Selector: c.opts.Selector,
			Prefetch: c.prefetch, InFlight: c.inflight.n, Priority: c.priority, Exclusive: c.exclusive,
			NetworkPath: slices.Clone(c.opts.NetworkPath)}
		if q.groups != nil {
			ci.Groups = q.groups.Count(c.id)
		}
		d.ConsumerList = append(d.ConsumerList, ci)
	}
	d.Active = len(q.consumers) > 0
	if q.groups != nil {
		d.GroupOwners = q.groups.Owners(maxGroups)
		d.GroupsOmitted = q.groups.Len() - len(d.GroupOwners)
	}
	if s := q.sub; s != nil {
		d.Durable, d.ClientID, d.Selector = s.durable, s.clientID, s.selText
	}
	return d
}

// Queues describes every queue, sorted by name, each with at most
// maxGroups group owners listed.
func (b *Broker) Queues(maxGroups int) []QueueDetail {
	b.mu.RLock()
	qs := make([]*queue, 0, len(b.queues))
	for _, q := range b.queues {
		qs = append(qs, q)
	}
	b.mu.RUnlock()
	out := make([]QueueDetail, 0, len(qs))
	for _, q := range qs {
		out = append(out, q.detail(maxGroups))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Destination < out[j].Destination })
	return out
}

// Queue describes one queue.
func (b *Broker) Queue(name string, maxGroups int) (QueueDetail, error) {
	b.mu.RLock()
	q := b.queues[name]
	b.mu.RUnlock()
	if q == nil {
		return QueueDetail{}, fmt.Errorf("queue %q: %w", name, ErrNoDestination)
	}
	return q.detail(maxGroups), nil
}

// Subscriptions describes every topic subscription, durable or not, sorted
// by topic, then client id and name.
func (b *Broker) Subscriptions() []QueueDetail {
	b.mu.RLock()
	seen := map[*subscription]bool{}
	var subs []*subscription
	add := func(s *subscription) {
		if !seen[s] {
			seen[s] = true
			subs = append(subs, s)
		}
	}
	for _, l := range b.topicExact {
		for _, s := range l {
			add(s)
		}
	}
	for _, s := range b.topicWild {
		add(s)
	}
	for _, s := range b.durables {
		add(s)
	}
	b.mu.RUnlock()
	out := make([]QueueDetail, 0, len(subs))
	for _, s := range subs {
		out = append(out, s.q.detail(0))
	}
	sort.Slice(out, func(i, j int) bool {
		a, c := out[i], out[j]
		if a.Destination != c.Destination {
			return a.Destination < c.Destination
		}
		if a.ClientID != c.ClientID {
			return a.ClientID < c.ClientID
		}
		return a.Subscription < c.Subscription
	})
	return out
}

// BrowseQueue returns up to limit of a queue's waiting messages after
// skipping offset of them, in the order a consumer would get them; paged
// out messages are read from the store as far as the page needs.
func (b *Broker) BrowseQueue(name string, offset, limit int) ([]*Message, error) {
	b.mu.RLock()
	q := b.queues[name]
	b.mu.RUnlock()
	if q == nil {
		return nil, fmt.Errorf("browse queue %q: %w", name, ErrNoDestination)
	}
	br, err := (&Session{b: b}).Browse(Destination{Kind: Queue, Name: name}, "")
	if err != nil {
		return nil, err
	}
	for offset > 0 {
		n := min(offset, 500)
		got := br.Next(n)
		offset -= len(got)
		if len(got) < n {
			return nil, nil
		}
	}
	return br.Next(limit), nil
}

// PurgeQueue drops every waiting message of a queue (in memory and paged
// out; those in flight to consumers stay) and returns how many it dropped
// once their deletion is stored.
func (b *Broker) PurgeQueue(name string) (int, error) {
	b.mu.RLock()
	q := b.queues[name]
	b.mu.RUnlock()
	if q == nil {
		return 0, fmt.Errorf("purge queue %q: %w", name, ErrNoDestination)
	}
	q.mu.Lock()
	n := q.npending + q.spool.len()
	keys := q.purgeLocked()
	q.mu.Unlock()
	if err := b.storeDeletes(keys); err != nil {
		return n, fmt.Errorf("purge queue %q: %w", name, err)
	}
	b.log.Info("queue purged by an operator", "queue", name, "messages", n)
	return n, nil
}

// DeleteQueue deletes a queue with its waiting messages. A queue with
// consumers is refused (ErrInUse): they would go on waiting on a queue
// that no longer exists. A message whose send races with the delete may
// land in a new queue of the same name.
func (b *Broker) DeleteQueue(name string) error {
	b.mu.Lock()
	q := b.queues[name]
	if q == nil {
		b.mu.Unlock()
		return fmt.Errorf("delete queue %q: %w", name, ErrNoDestination)
	}
	q.mu.Lock()
	if len(q.consumers) > 0 {
		q.mu.Unlock()
		b.mu.Unlock()
		return fmt.Errorf("delete queue %q: %w", name, ErrInUse)
	}
	delete(b.queues, name)
	q.closed = true
	keys := q.purgeLocked()
	q.mu.Unlock()
	b.mu.Unlock()
	if err := b.storeDeletes(keys); err != nil {
		return fmt.Errorf("delete queue %q: %w", name, err)
	}
	b.log.Info("queue deleted by an operator", "queue", name, "messages", len(keys))
	return nil
}

// DeleteDurable deletes an inactive durable subscription and its messages.
func (b *Broker) DeleteDurable(clientID, name string) error {
	err := b.deleteDurable(durableQID(clientID, name))
	if errors.Is(err, ErrDurableUnknown) {
		return fmt.Errorf("delete durable subscription %s/%s: %w (%w)", clientID, name, ErrNoDestination, err)
	}
	if errors.Is(err, ErrDurableActive) {
		return fmt.Errorf("delete durable subscription %s/%s: %w (%w)", clientID, name, ErrInUse, err)
	}
	return err
}

func (b *Broker) storeDeletes(keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	done := make(chan error, 1)
	b.commit.submit(&commitOp{deletes: keys, sync: true, done: func(err error) { done <- err }})
	return <-done
}

// MoveFromDLQ sends the dead letter msgID back to the destination it came
// from (its original-destination header), as a new message there without
// the dead-letter headers. One store batch deletes it from the DLQ and
// adds it to its queue, so it is never lost nor in both. It returns where
// it went.
func (b *Broker) MoveFromDLQ(msgID string) (Destination, error) {
	b.mu.RLock()
	dlq := b.queues[DLQ.Name]
	b.mu.RUnlock()
	if dlq == nil {
		return Destination{}, fmt.Errorf("move %s: %w", msgID, ErrNoDestination)
	}
	origin := func(m *Message) (Destination, error) {
		orig, _ := m.Header(HeaderOriginalDestination)
		to, err := ParseDestination(orig)
		if err != nil || orig == "" || to == DLQ || to.IsWildcard() {
			return Destination{}, fmt.Errorf("move %s: no usable original-destination header (%q)", msgID, orig)
		}
		return to, nil
	}
	var (
		old *Message
		to  Destination
		err error
	)
	op := &commitOp{sync: true}
	dlq.mu.Lock()
	for _, e := range dlq.allPendingLocked() {
		if e.msg.ID != msgID {
			continue
		}
		if to, err = origin(e.msg); err != nil {
			dlq.mu.Unlock()
			return Destination{}, err
		}
		old = e.msg
		dlq.removePendingLocked(e)
		// dropLocked releases the DLQ's hold: keep the message alive
		// until the copy below is taken.
		b.ref(old)
		if k := dlq.dropLocked(e, false); k != nil {
			op.deletes = append(op.deletes, k)
		}
		break
	}
	if old == nil {
		// Paged out: look for it on disk. Taking a sequence out of the
		// spool is safe while a page-in runs: it keeps only what is
		// still at the spool's head.
		for i := dlq.spool.head; i < len(dlq.spool.buf); i++ {
			m, lerr := b.loadMessage(dlq.qid, dlq.spool.buf[i])
			if lerr != nil || m.ID != msgID {
				continue
			}
			if to, err = origin(m); err != nil {
				dlq.mu.Unlock()
				return Destination{}, err
			}
			old = m
			m.refs = 1
			b.mem.charge(m.size)
			op.deletes = append(op.deletes, messageKey(dlq.qid, m.seq))
			dlq.spool.buf = slices.Delete(dlq.spool.buf, i, i+1)
			break
		}
	}
	dlq.mu.Unlock()
	if old == nil {
		return Destination{}, fmt.Errorf("move %s: not waiting in %s: %w", msgID, DLQ.Name, ErrNoMessage)
	}
	m := *old
	m.Dest = to
	m.seq = b.nextSeq()
	m.refs = 1
	m.Headers = slices.DeleteFunc(slices.Clone(old.Headers), func(h Header) bool {
		return h.Name == "original-destination" || h.Name == "dlqDeliveryFailureCause"
	})
	m.size = m.memSize()
	// restore puts the dead letter back in the DLQ (at its end) when it
	// cannot move: its store key was not deleted.
	restore := func() {
		dlq.enqueue(old, old.Persistent && len(op.deletes) > 0)
		b.unref(old)
	}
	var targets []*queue
	if to.Kind == Queue {
		targets = append(targets, b.queueFor(to))
	} else {
		// A topic's dead letter goes back to the subscriptions that match
		// it now, as a publish would.
		for _, s := range b.matchingSubs(&m) {
			targets = append(targets, s.q)
		}
	}
	if len(targets) == 0 {
		restore()
		return Destination{}, fmt.Errorf("move %s to %s: no subscription would receive it: %w", msgID, to, ErrNoDestination)
	}
	b.mem.charge(m.size)
	var enc []byte
	for _, q := range targets {
		if m.Persistent && q.durable {
			if enc == nil {
				enc = encodeMessage(&m)
			}
			op.sets = append(op.sets, [2][]byte{messageKey(q.qid, m.seq), enc})
		}
	}
	done := make(chan error, 1)
	op.apply = func(err error) {
		if err == nil {
			for _, q := range targets {
				q.enqueue(&m, m.Persistent && q.durable)
			}
			b.unref(old)
		} else {
			restore()
		}
		b.unref(&m)
	}
	op.done = func(err error) { done <- err }
	b.commit.submit(op)
	if err := <-done; err != nil {
		return Destination{}, fmt.Errorf("move %s to %s: %w", msgID, to, err)
	}
	b.log.Info("dead letter moved back by an operator", "msg", msgID, "to", to.String())
	return to, nil
}

// FlowControl reports producer flow control: sends waiting for memory now,
// and every send that had to wait since the broker started.
func (b *Broker) FlowControl() (waiting int64, waitedTotal uint64) {
	return b.mem.blocked.Load(), b.mem.blockedTotal.Load()
}

// CommitInfo describes one store batch the committer wrote.
type CommitInfo struct {
	Ops       int           // broker operations (sends, acks, ...) in the batch
	Mutations int           // store sets and deletes
	Sync      bool          // made durable (fsync) before it completed
	Took      time.Duration // the store's commit, fsync included
	Err       error
}

// ObserveCommits registers fn to be called, on the commit goroutine, after
// every batch written to the store; fn must be quick. One observer at a
// time: a later call replaces it, nil removes it.
func (b *Broker) ObserveCommits(fn func(CommitInfo)) {
	if fn == nil {
		b.commit.observer.Store(nil)
		return
	}
	b.commit.observer.Store(&fn)
}

func (c *committer) observe(start time.Time, ops, mutations int, sync bool, err error) {
	if fn := c.observer.Load(); fn != nil {
		(*fn)(CommitInfo{Ops: ops, Mutations: mutations, Sync: sync, Took: time.Since(start), Err: err})
	}
}
