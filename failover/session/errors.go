package session

import (
	"errors"
	"fmt"
)

// ErrConnectionLost reports that the session died before the operation was
// confirmed. The operation may or may not have reached the broker; the
// failover engine decides what to do about it (re-send, treat an ack as in
// doubt, roll a transaction back). Adapters wrap it with the cause.
var ErrConnectionLost = errors.New("connection lost")

// ErrUnsupported is matched (errors.Is) by every *UnsupportedError.
var ErrUnsupported = errors.New("not supported by this protocol")

// UnsupportedError is returned by an adapter asked for something its
// protocol cannot express (MQTT 3.1.1 has no headers, groups or NACK, for
// example). It is never retried.
type UnsupportedError struct {
	Protocol string // "stomp", "amqp", "mqtt"
	Feature  string // what was asked for, e.g. "message groups"
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Protocol, e.Feature, ErrUnsupported)
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// BrokerError is the broker refusing one operation (a STOMP ERROR frame that
// names the frame it answers, an AMQP rejected outcome, an MQTT CONNACK
// refusal). Re-sending the same operation would be refused again, so the
// failover engine hands it to the caller instead of retrying.
type BrokerError struct {
	Op      string // "connect", "send", "subscribe", "ack", "commit", ...
	Message string // the broker's short message
	Detail  string // the broker's long text, if any
}

func (e *BrokerError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("broker refused %s: %s (%s)", e.Op, e.Message, e.Detail)
	}
	return fmt.Sprintf("broker refused %s: %s", e.Op, e.Message)
}
