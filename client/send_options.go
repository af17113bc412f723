package client

import (
	"fmt"
	"maps"
	"time"

	"github.com/tethermq/tether/failover/session"
)

// SendOption configures one Send.
type SendOption interface{ applySend(*sendConfig) }

type sendConfig struct {
	m           session.Outgoing
	ttl         time.Duration
	expires     time.Time
	unconfirmed bool
	err         error
}

type sendFunc func(*sendConfig)

func (f sendFunc) applySend(c *sendConfig) { f(c) }

// Persistent makes the broker store the message on disk before confirming
// it; it then survives a broker restart.
func Persistent() SendOption {
	return sendFunc(func(c *sendConfig) { c.m.Persistent = true })
}

// TTL makes the message expire d after it is sent.
func TTL(d time.Duration) SendOption {
	return sendFunc(func(c *sendConfig) { c.ttl, c.expires = d, time.Time{} })
}

// Headers is both a SendOption (application headers, or properties, of the
// message) and a SubOption (extra headers of the subscription itself, for
// broker features without an option of their own, such as
// activemq.noLocal or activemq.retroactive over STOMP). Names the protocol
// or another option sets (destination, receipt, persistent, selector,
// activemq.prefetchSize, ...) are refused: use the matching option.
// Protocols without subscription headers (AMQP, MQTT) refuse them.
func Headers(h map[string]string) interface {
	SendOption
	SubOption
} {
	return headers(h)
}

type headers map[string]string

func (h headers) applySend(c *sendConfig) {
	if c.m.Headers == nil {
		c.m.Headers = make(map[string]string, len(h))
	}
	maps.Copy(c.m.Headers, h)
}

func (h headers) applySub(c *subConfig) {
	if c.spec.Headers == nil {
		c.spec.Headers = make(map[string]string, len(h))
	}
	maps.Copy(c.spec.Headers, h)
}

// Expires makes the message expire at t (JMSExpiration): for a message
// whose expiry was fixed elsewhere, such as one a network bridge passes
// on. TTL is the relative form; the later of the two options counts.
func Expires(t time.Time) SendOption {
	return sendFunc(func(c *sendConfig) { c.ttl, c.expires = 0, t })
}

// Group puts the message in message group id (JMSXGroupID): the broker
// hands a group's messages to one consumer at a time, in order.
func Group(id string) SendOption {
	return sendFunc(func(c *sendConfig) { c.m.GroupID = id })
}

// GroupSeq sets the message's sequence number in its group (JMSXGroupSeq);
// a negative number closes the group.
func GroupSeq(n int) SendOption {
	return sendFunc(func(c *sendConfig) { c.m.GroupSeq = n })
}

// CorrelationID sets the correlation id.
func CorrelationID(id string) SendOption {
	return sendFunc(func(c *sendConfig) { c.m.CorrelationID = id })
}

// ReplyTo names the destination replies should go to.
func ReplyTo(dest string) SendOption {
	return sendFunc(func(c *sendConfig) {
		d, err := session.ParseDestination(dest)
		if err != nil {
			c.err = fmt.Errorf("reply-to: %w", err)
			return
		}
		c.m.ReplyTo = &d
	})
}

// DuplicateID sets the message's duplicate-detection id instead of a fresh
// random one: re-sending after an *InDoubtError with the id it reports is
// then stored at most once by a broker with duplicate detection.
func DuplicateID(id string) SendOption {
	return sendFunc(func(c *sendConfig) { c.m.DuplicateID = id })
}

// Unconfirmed makes a non-persistent Send return once the message is
// written, without waiting for the broker's confirmation: a round trip
// faster, but the message is lost if the connection drops first.
func Unconfirmed() SendOption {
	return sendFunc(func(c *sendConfig) { c.unconfirmed = true })
}

// Priority is both a SendOption (the message's priority, 0-9, default 4) and
// a SubOption (the consumer's priority: the broker prefers higher ones).
func Priority(n int) interface {
	SendOption
	SubOption
} {
	return priority(n)
}

type priority int

func (p priority) applySend(c *sendConfig) {
	if p < 0 || p > 9 {
		c.err = fmt.Errorf("priority %d: want 0-9", int(p))
		return
	}
	c.m.Priority = int(p)
}

func (p priority) applySub(c *subConfig) { c.spec.Priority = int(p) }
