package groups

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync/atomic"
)

// Message is what a Dispatcher needs from a received message. The tether
// client's messages satisfy it; so can any other client's, through a small
// adapter.
type Message interface {
	// GroupID returns the message's group; "" means it has none.
	GroupID() string
	// FirstForConsumer reports the broker's JMSXGroupFirstForConsumer flag:
	// this consumer has just become the group's owner.
	FirstForConsumer() bool
	Ack(ctx context.Context) error
	Nack(ctx context.Context) error
}

// Handler processes one message. Returning nil acknowledges the message;
// returning an error negatively acknowledges it.
type Handler func(ctx context.Context, m Message) error

// Options configure a Dispatcher. The zero value is usable.
type Options struct {
	// Workers is the number of messages handled at once
	// (default runtime.GOMAXPROCS(0)).
	Workers int
	// MaxPending is the most messages the Dispatcher holds at once, queued
	// or being handled (default DefaultMaxPending). Run stops reading its
	// input while it holds that many, which lets the broker's prefetch
	// bound the flow.
	MaxPending int
	// OnOwnershipChange, if set, is called with a group's id before the
	// next message of that group is handled whenever this consumer may have
	// just become the group's owner: the message carries FirstForConsumer,
	// OwnershipMayHaveChanged was called since the group's last message, or
	// the group is new to this Run (or was idle long enough to be
	// forgotten). Use it to drop per-group state cached by the handler;
	// calls may be spurious. It runs on the worker that then handles the
	// message, never concurrently with a handler of the same group.
	OnOwnershipChange func(group string)
	// Logger receives handler and acknowledgement failures
	// (default slog.Default()).
	Logger *slog.Logger
}

// DefaultMaxPending is Options.MaxPending's default: ActiveMQ's default queue
// prefetch, so that by default the broker's prefetch, not the Dispatcher, is
// what limits the flow.
const DefaultMaxPending = 1000

// ErrRunning is returned by Run when the Dispatcher is already running.
var ErrRunning = errors.New("groups: Dispatcher is already running")

// Dispatcher is an ordered worker pool: messages of one group are handled
// one at a time, in arrival order; messages of different groups, and
// messages without a group, are handled in parallel. Each group has its own
// queue and idle workers take the next runnable group in turn, so a slow
// group occupies one worker and never holds up the groups behind it.
//
// After the handler returns nil the message is acknowledged; after an error
// it is negatively acknowledged (for redelivery, or the dead-letter queue,
// as the broker's policy says), the failure is logged, and the group goes on
// with its next message. A redelivered message therefore arrives after the
// messages of its group that were already received: a handler that must
// keep order across failures should retry inside the handler.
type Dispatcher struct {
	handler Handler
	workers int
	max     int
	notify  func(group string)
	log     *slog.Logger
	maxIdle int // idle groups whose notification state Run remembers

	epoch   atomic.Uint64
	running atomic.Bool
}

// NewDispatcher returns a Dispatcher that hands messages to h. It panics if h
// is nil.
func NewDispatcher(h Handler, o Options) *Dispatcher {
	if h == nil {
		panic("groups: NewDispatcher with a nil Handler")
	}
	d := &Dispatcher{
		handler: h,
		workers: o.Workers,
		max:     o.MaxPending,
		notify:  o.OnOwnershipChange,
		log:     o.Logger,
		maxIdle: DefaultMaxIdle,
	}
	if d.workers <= 0 {
		d.workers = runtime.GOMAXPROCS(0)
	}
	if d.max <= 0 {
		d.max = DefaultMaxPending
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	return d
}

// OwnershipMayHaveChanged tells the Dispatcher that any group may have moved
// to or from this consumer, as after a failover reconnect, when the broker
// sees a new consumer. OnOwnershipChange is then called for each group
// before its next message started after this call, so the SDK calls it
// before it delivers messages received on the new connection. It is safe to
// call from any goroutine.
func (d *Dispatcher) OwnershipMayHaveChanged() { d.epoch.Add(1) }
