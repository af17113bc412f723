package client

import "github.com/tethermq/tether/failover"

// Event is a state change of a Conn, handed to the WithEventHandler
// callback in order from one goroutine.
type Event = failover.Event

// EventKind names an Event.
type EventKind = failover.EventKind

// The event kinds.
const (
	EventConnected        = failover.EventConnected
	EventInterrupted      = failover.EventInterrupted
	EventResumed          = failover.EventResumed
	EventReconnectFailed  = failover.EventReconnectFailed
	EventResent           = failover.EventResent
	EventDuplicateDropped = failover.EventDuplicateDropped
	EventFailed           = failover.EventFailed
)

// Stats is a snapshot of a Conn's counters.
type Stats = failover.Stats
