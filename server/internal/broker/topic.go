package broker

import (
	"fmt"
	"strings"

	"github.com/tethermq/tether/server/internal/selector"
)

// subscription is one topic subscriber's private queue. Selection and
// noLocal are applied when a message is published, so the queue holds only
// what the subscriber will receive.
type subscription struct {
	pattern    Destination
	filter     func(*Message) bool
	q          *queue
	sel        *selector.Selector
	selText    string
	noLocal    bool
	sessionID  string
	durable    bool
	clientID   string
	name       string
	registered bool // in topicExact/topicWild
	active     *Consumer
}

func (s *subscription) accepts(m *Message) bool {
	if s.noLocal && m.ProducerConn == s.sessionID {
		return false
	}
	if !topicMatches(s.pattern.Name, m.Dest.Name) {
		return false
	}
	if strings.HasPrefix(m.Dest.Name, AdvisoryPrefix) && !strings.HasPrefix(s.pattern.Name, "ActiveMQ.") {
		// Advisories reach only subscribers that ask for them by name, not
		// every '>' (MQTT '#') wildcard.
		return false
	}
	if s.filter != nil && !s.filter(m) {
		return false
	}
	return s.sel == nil || s.sel.Matches(messageProperty(m))
}

// topicMatches applies ActiveMQ wildcards on '.'-separated names: '*' is
// one segment, '>' is everything after (at least nothing).
func topicMatches(pattern, name string) bool {
	if !strings.ContainsAny(pattern, "*>") {
		return pattern == name
	}
	for {
		var p, n string
		p, pattern, _ = strings.Cut(pattern, ".")
		if p == ">" {
			return true
		}
		if name == "" && p != "" {
			return false
		}
		n, name, _ = strings.Cut(name, ".")
		if p != "*" && p != n {
			return false
		}
		if pattern == "" || name == "" {
			return pattern == "" && name == "" || pattern == ">"
		}
	}
}

func (b *Broker) matchingSubs(m *Message) []*subscription {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []*subscription
	for _, s := range b.topicExact[m.Dest.Name] {
		if s.accepts(m) {
			out = append(out, s)
		}
	}
	for _, s := range b.topicWild {
		if s.accepts(m) {
			out = append(out, s)
		}
	}
	return out
}

func (b *Broker) registerSubLocked(s *subscription) {
	s.registered = true
	if s.pattern.IsWildcard() {
		b.topicWild = append(b.topicWild, s)
		return
	}
	b.topicExact[s.pattern.Name] = append(b.topicExact[s.pattern.Name], s)
}

func (b *Broker) removeSub(s *subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unregisterSubLocked(s)
}

func (b *Broker) unregisterSubLocked(s *subscription) {
	if !s.registered {
		return
	}
	s.registered = false
	remove := func(list []*subscription) []*subscription {
		for i, x := range list {
			if x == s {
				return append(list[:i:i], list[i+1:]...)
			}
		}
		return list
	}
	if s.pattern.IsWildcard() {
		b.topicWild = remove(b.topicWild)
		return
	}
	if l := remove(b.topicExact[s.pattern.Name]); len(l) > 0 {
		b.topicExact[s.pattern.Name] = l
	} else {
		delete(b.topicExact, s.pattern.Name)
	}
}

func (b *Broker) newTopicSub(sess *Session, o ConsumerOptions, sel *selector.Selector) *queue {
	qid := "t:" + sess.id + ":" + itoa(int(b.nextConsumerID.Load()))
	s := &subscription{pattern: o.Dest, sel: sel, selText: o.Selector, noLocal: o.NoLocal, sessionID: sess.id, filter: o.Filter}
	s.q = newQueue(b, o.Dest, qid, false)
	s.q.sub = s
	b.mu.Lock()
	b.registerSubLocked(s)
	b.mu.Unlock()
	return s.q
}

// durableFor finds or creates the durable subscription (client id, name).
// A changed topic or selector replaces it, dropping its messages, as JMS
// requires.
func (b *Broker) durableFor(sess *Session, o ConsumerOptions, sel *selector.Selector, c *Consumer) (*queue, error) {
	qid := durableQID(sess.opts.ClientID, o.DurableName)
	b.mu.Lock()
	s := b.durables[qid]
	if s != nil && s.active != nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("subscribe %s as %q: %w", o.Dest, o.DurableName, ErrDurableActive)
	}
	if s != nil && (s.pattern != o.Dest || s.selText != o.Selector || s.noLocal != o.NoLocal) {
		b.mu.Unlock()
		if err := b.deleteDurable(qid); err != nil {
			return nil, err
		}
		b.mu.Lock()
		s = nil
	}
	created := false
	if s == nil {
		s = &subscription{pattern: o.Dest, sel: sel, selText: o.Selector, noLocal: o.NoLocal,
			sessionID: sess.id, durable: true, clientID: sess.opts.ClientID, name: o.DurableName, filter: o.Filter}
		s.q = newQueue(b, o.Dest, qid, true)
		s.q.sub = s
		b.durables[qid] = s
		b.registerSubLocked(s)
		created = true
	}
	s.sessionID = sess.id
	s.active = c
	s.filter = o.Filter
	b.mu.Unlock()
	if created {
		done := make(chan error, 1)
		b.commit.submit(&commitOp{sets: [][2][]byte{{durableKey(qid), encodeDurable(s)}}, sync: true,
			done: func(err error) { done <- err }})
		if err := <-done; err != nil {
			return nil, fmt.Errorf("subscribe %s as %q: store: %w", o.Dest, o.DurableName, err)
		}
	}
	return s.q, nil
}

func (b *Broker) deleteDurable(qid string) error {
	b.mu.Lock()
	s := b.durables[qid]
	if s == nil {
		b.mu.Unlock()
		return ErrDurableUnknown
	}
	if s.active != nil {
		b.mu.Unlock()
		return ErrDurableActive
	}
	delete(b.durables, qid)
	b.unregisterSubLocked(s)
	b.mu.Unlock()
	s.q.mu.Lock()
	s.q.closed = true
	keys := s.q.purgeLocked()
	s.q.mu.Unlock()
	keys = append(keys, durableKey(qid))
	done := make(chan error, 1)
	b.commit.submit(&commitOp{deletes: keys, sync: true, done: func(err error) { done <- err }})
	return <-done
}

// encodeDurable stores a durable subscription's definition.
func encodeDurable(s *subscription) []byte {
	var b []byte
	b = append(b, 1) // version
	b = appendStr(b, s.pattern.Name)
	b = appendStr(b, s.selText)
	if s.noLocal {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = appendStr(b, s.clientID)
	b = appendStr(b, s.name)
	return b
}

func decodeDurable(v []byte) (*subscription, error) {
	d := &decoder{b: v}
	if d.byte() != 1 {
		return nil, errCorrupt
	}
	s := &subscription{durable: true}
	s.pattern = Destination{Topic, d.str()}
	s.selText = d.str()
	s.noLocal = d.byte() == 1
	s.clientID = d.str()
	s.name = d.str()
	if d.err != nil {
		return nil, d.err
	}
	sel, err := selector.Parse(s.selText)
	if err != nil {
		return nil, fmt.Errorf("durable %s: selector: %w", s.name, err)
	}
	s.sel = sel
	return s, nil
}
