package failover

import (
	"errors"
	"fmt"
	"regexp"
)

// Errors callers can test with errors.Is. Operations never return a raw
// network error while a reconnect is still possible: they wait for the next
// connection and, if that takes too long, fail with one of these.
var (
	// ErrInvalidURI is matched by every *URIError.
	ErrInvalidURI = errors.New("invalid connection URI")
	// ErrTimeout: the operation waited for a connection longer than the
	// failover timeout option allows ("Failover timeout of N ms reached").
	ErrTimeout = errors.New("failover timeout reached")
	// ErrDisconnected: the caller's context ended while the operation was
	// waiting for a connection. The error also wraps the context's error.
	ErrDisconnected = errors.New("not connected")
	// ErrReconnectFailed: the reconnect attempts allowed by
	// maxReconnectAttempts (or startupMaxReconnectAttempts) are used up; the
	// Conn is dead and every operation fails with this error.
	ErrReconnectFailed = errors.New("reconnect attempts exhausted")
	// ErrClosed: the Conn (or the Subscription) was closed by its owner.
	ErrClosed = errors.New("connection closed")
	// ErrTxRolledBack: a failover interrupted the transaction (in doubt
	// means rolled back, as in ActiveMQ); none of its work is kept.
	ErrTxRolledBack = errors.New("transaction rolled back by failover")
	// ErrTxDone: the transaction was already committed or aborted.
	ErrTxDone = errors.New("transaction already finished")
	// ErrInDoubt is matched by every *InDoubtError.
	ErrInDoubt = errors.New("send in doubt")
	// ErrStaleMessage: a transaction cannot ack a message delivered on an
	// earlier connection; the broker redelivers that message.
	ErrStaleMessage = errors.New("message was delivered on an earlier connection")
)

// URIError reports a connection URI that cannot be used.
type URIError struct {
	URI    string
	Option string // the offending option, if any
	Reason string
}

func (e *URIError) Error() string {
	if e.Option != "" {
		return fmt.Sprintf("%v %q: option %q: %s", ErrInvalidURI, redactText(e.URI), e.Option, e.Reason)
	}
	return fmt.Sprintf("%v %q: %s", ErrInvalidURI, redactText(e.URI), e.Reason)
}

// passwordInURI matches the password of user:password@ in any URI of a
// (possibly composite) URI text.
var passwordInURI = regexp.MustCompile(`(://[^:/@\s,()]+:)[^@\s,()/]*@`)

// redactText hides passwords in URI text that is shown or logged.
func redactText(s string) string { return passwordInURI.ReplaceAllString(s, "${1}xxxxx@") }

// Is makes errors.Is(err, ErrInvalidURI) true.
func (e *URIError) Is(target error) bool { return target == ErrInvalidURI }

// InDoubtError reports a send that reached the wire but whose confirmation
// never arrived before the caller's context ended. The broker may have
// stored it. Re-sending with the same DuplicateID is safe on a broker with
// duplicate detection (tether's broker, Artemis): it is stored at most once.
type InDoubtError struct {
	DuplicateID string
	Err         error
}

func (e *InDoubtError) Error() string {
	return fmt.Sprintf("%v (duplicate id %s): %v", ErrInDoubt, e.DuplicateID, e.Err)
}

// Is makes errors.Is(err, ErrInDoubt) true.
func (e *InDoubtError) Is(target error) bool { return target == ErrInDoubt }

func (e *InDoubtError) Unwrap() error { return e.Err }
