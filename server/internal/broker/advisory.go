package broker

import (
	"strconv"
	"strings"
)

// Consumer advisories, ActiveMQ's way of telling network bridges (and
// monitoring tools) where consumers are: every consumer added to or
// removed from a destination publishes a non-persistent message on
//
//	ActiveMQ.Advisory.Consumer.Queue.<name>   or   ActiveMQ.Advisory.Consumer.Topic.<name>
//
// with headers advisoryType (add|remove), consumerId, consumerDestination
// (queue://X), consumerCount (consumers on it now), consumerPriority, selector,
// networkBrokerPath (comma list; empty for a local consumer) and
// originBroker. A new subscription to an advisory topic first receives an
// "add" for every consumer that already exists, so a bridge that connects
// late learns the current demand.
const (
	AdvisoryPrefix      = "ActiveMQ.Advisory."
	AdvisoryConsumerPfx = AdvisoryPrefix + "Consumer."
)

// AdvisoryTopic returns the advisory topic for consumers of d.
func AdvisoryTopic(d Destination) string {
	if d.Kind == Topic {
		return AdvisoryConsumerPfx + "Topic." + d.Name
	}
	return AdvisoryConsumerPfx + "Queue." + d.Name
}

func advisable(c *Consumer) bool {
	return !strings.HasPrefix(c.opts.Dest.Name, AdvisoryPrefix)
}

func (b *Broker) advisoryMessage(c *Consumer, added bool, count int) *Message {
	kind := "remove"
	if added {
		kind = "add"
	}
	return &Message{
		Dest:     Destination{Topic, AdvisoryTopic(c.opts.Dest)},
		Priority: DefaultPriority,
		Headers: []Header{
			{"advisoryType", kind},
			{"consumerId", strconv.FormatUint(c.id, 10)},
			{"consumerDestination", c.opts.Dest.String()},
			{"consumerCount", strconv.Itoa(count)},
			{"consumerPriority", strconv.Itoa(c.priority)},
			{"selector", c.opts.Selector},
			{"networkBrokerPath", strings.Join(c.opts.NetworkPath, ",")},
			{"originBroker", b.cfg.Name},
		},
	}
}

// publishAdvisory sends an advisory through the normal topic path.
func (b *Broker) publishAdvisory(c *Consumer, added bool) {
	if !advisable(c) {
		return
	}
	b.mu.RLock()
	n := 0
	for _, x := range b.consumers {
		if x.opts.Dest == c.opts.Dest {
			n++
		}
	}
	b.mu.RUnlock()
	m := b.advisoryMessage(c, added, n)
	if err := b.prepare(m, nil); err != nil {
		return
	}
	m.size = m.memSize()
	b.mem.charge(m.size)
	m.refs = 1
	op := &commitOp{}
	b.routeInto(op, m)
	finish(op, nil)
}

// replayAdvisories gives a new advisory subscriber an "add" for every
// existing consumer it matches.
func (b *Broker) replayAdvisories(q *queue) {
	if q.sub == nil || !strings.HasPrefix(q.sub.pattern.Name, AdvisoryConsumerPfx) {
		return
	}
	b.mu.RLock()
	existing := make([]*Consumer, 0, len(b.consumers))
	for _, c := range b.consumers {
		existing = append(existing, c)
	}
	b.mu.RUnlock()
	counts := map[Destination]int{}
	for _, c := range existing {
		counts[c.opts.Dest]++
	}
	for _, c := range existing {
		if !advisable(c) {
			continue
		}
		m := b.advisoryMessage(c, true, counts[c.opts.Dest])
		if !topicMatches(q.sub.pattern.Name, m.Dest.Name) {
			continue
		}
		if err := b.prepare(m, nil); err != nil {
			continue
		}
		m.size = m.memSize()
		b.mem.charge(m.size)
		m.refs = 1
		q.enqueue(m, false)
		b.unref(m)
	}
}
