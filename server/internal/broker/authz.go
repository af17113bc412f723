package broker

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Authorization, as ActiveMQ's authorizationPlugin: every send needs write
// on its destination, every subscription read, and whichever of the two
// first names a destination that does not exist yet needs admin too
// (creating it). The broker itself (advisories, the DLQ, network bridges'
// local sessions) acts with no Policy and is never checked.
//
// Invariants:
//   - A session with a Policy never stores a message on, nor receives one
//     from, a destination its user was not granted: Send checks before the
//     message is routed (a transacted send at Send time, not at commit),
//     Subscribe before the consumer exists.
//   - A wildcard subscription creates nothing, so it needs read only.
//   - Consumer advisory topics (ActiveMQ.Advisory.>) count as existing:
//     the broker creates them (ActiveMQ 6.2.7+), so subscribing to them
//     needs read only.

// Action is what a session asks to do with a destination.
type Action uint8

const (
	ActionRead  Action = iota // consume or browse
	ActionWrite               // send
	ActionAdmin               // create a destination that does not exist yet
)

func (a Action) String() string {
	switch a {
	case ActionRead:
		return "read from"
	case ActionWrite:
		return "write to"
	case ActionAdmin:
		return "create"
	}
	return "use"
}

// ErrUnauthorized is wrapped by every refusal of Policy, so that connectors
// map it to their protocol's refusal of that one operation.
var ErrUnauthorized = errors.New("not authorized")

// UnauthorizedError names the user, action and destination refused.
type UnauthorizedError struct {
	User   string
	Action Action
	Dest   Destination
}

func (e *UnauthorizedError) Error() string {
	user := e.User
	if user == "" {
		user = "anonymous"
	}
	// ActiveMQ's wording, which operators grep for.
	return fmt.Sprintf("User %s is not authorized to %s: %s", user, e.Action, e.Dest)
}

func (e *UnauthorizedError) Unwrap() error { return ErrUnauthorized }

// Policy decides whether user may perform a on d. d may be a wildcard (a
// subscription pattern): a Policy grants it only if it grants every
// destination the pattern matches.
type Policy interface {
	Allowed(user string, a Action, d Destination) bool
}

// AccessControl applies a Policy to one broker's sessions: give the same
// AccessControl to every session of that broker (SessionOptions.Access).
// It remembers the topics created through it, since the broker keeps no
// object for a topic without subscribers.
type AccessControl struct {
	b      *Broker
	policy Policy

	mu     sync.RWMutex
	topics map[string]struct{}
}

// NewAccessControl checks b's sessions against p.
func NewAccessControl(b *Broker, p Policy) *AccessControl {
	return &AccessControl{b: b, policy: p, topics: map[string]struct{}{}}
}

// check refuses user's a on d, with admin too when d does not exist yet.
// A user with admin on d needs no look-up of whether it exists.
func (ac *AccessControl) check(user string, a Action, d Destination) error {
	if !ac.policy.Allowed(user, a, d) {
		return &UnauthorizedError{User: user, Action: a, Dest: d}
	}
	if d.IsWildcard() {
		return nil // a wildcard subscription creates nothing
	}
	if ac.policy.Allowed(user, ActionAdmin, d) {
		ac.created(d)
		return nil
	}
	if !ac.exists(d) {
		return &UnauthorizedError{User: user, Action: ActionAdmin, Dest: d}
	}
	return nil
}

// created records that d exists from now on (topics only: queues are the
// broker's own record).
func (ac *AccessControl) created(d Destination) {
	if d.Kind != Topic || d.IsWildcard() {
		return
	}
	ac.mu.RLock()
	_, ok := ac.topics[d.Name]
	ac.mu.RUnlock()
	if !ok {
		ac.mu.Lock()
		ac.topics[d.Name] = struct{}{}
		ac.mu.Unlock()
	}
}

func (ac *AccessControl) exists(d Destination) bool {
	if d.Kind == Queue {
		ac.b.mu.RLock()
		_, ok := ac.b.queues[d.Name]
		ac.b.mu.RUnlock()
		return ok
	}
	if strings.HasPrefix(d.Name, AdvisoryPrefix) {
		return true
	}
	ac.mu.RLock()
	_, ok := ac.topics[d.Name]
	ac.mu.RUnlock()
	if ok {
		return true
	}
	// A topic subscribed to exactly, or with a durable subscription (which
	// survives restarts), exists too; remembered so the search runs once.
	ac.b.mu.RLock()
	found := len(ac.b.topicExact[d.Name]) > 0
	for _, s := range ac.b.durables {
		if found {
			break
		}
		found = s.pattern == d
	}
	ac.b.mu.RUnlock()
	if found {
		ac.created(d)
	}
	return found
}

// Check reports whether the session's user may perform a on d (nil when the
// session has no AccessControl). Connectors call it to refuse early, e.g.
// when an AMQP producer link attaches; Send and Subscribe check anyway.
func (s *Session) Check(a Action, d Destination) error {
	if s.opts.Access == nil {
		return nil
	}
	return s.opts.Access.check(s.opts.User, a, d)
}
