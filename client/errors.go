package client

import (
	"errors"

	"github.com/tethermq/tether/failover"
	"github.com/tethermq/tether/failover/session"
)

// The errors of the failover contract, for errors.Is.
var (
	ErrInvalidURI      = failover.ErrInvalidURI
	ErrTimeout         = failover.ErrTimeout
	ErrDisconnected    = failover.ErrDisconnected
	ErrReconnectFailed = failover.ErrReconnectFailed
	ErrClosed          = failover.ErrClosed
	ErrTxRolledBack    = failover.ErrTxRolledBack
	ErrTxDone          = failover.ErrTxDone
	ErrInDoubt         = failover.ErrInDoubt
	ErrStaleMessage    = failover.ErrStaleMessage
	ErrUnsupported     = session.ErrUnsupported
	// ErrClientIDRequired: a durable subscription needs WithClientID.
	ErrClientIDRequired = errors.New("durable subscription needs a client id (WithClientID)")
)

// Typed errors, for errors.As.
type (
	// URIError reports an unusable connection URI, naming the bad option.
	URIError = failover.URIError
	// InDoubtError reports a send that may have reached the broker but was
	// not confirmed before the context ended; re-send with DuplicateID.
	InDoubtError = failover.InDoubtError
	// BrokerError is the broker refusing an operation.
	BrokerError = session.BrokerError
	// UnsupportedError is a protocol unable to express what was asked.
	UnsupportedError = session.UnsupportedError
)
