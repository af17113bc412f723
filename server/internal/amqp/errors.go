package amqp

import (
	"fmt"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
)

// A frame handler returns one of these typed errors to say which endpoint
// the problem ends: the whole connection (close), one session (end) or one
// link (detach). Each carries the AMQP condition the peer is told.

// connError closes the connection.
type connError struct {
	cond wire.Symbol
	desc string
}

func (e *connError) Error() string { return fmt.Sprintf("connection error %s: %s", e.cond, e.desc) }

func errConn(cond wire.Symbol, format string, args ...any) *connError {
	return &connError{cond: cond, desc: fmt.Sprintf(format, args...)}
}

// sessionError ends one session; the connection carries on.
type sessionError struct {
	s    *session
	cond wire.Symbol
	desc string
}

func (e *sessionError) Error() string {
	return fmt.Sprintf("session %d error %s: %s", e.s.ch, e.cond, e.desc)
}

func errSession(s *session, cond wire.Symbol, format string, args ...any) *sessionError {
	return &sessionError{s: s, cond: cond, desc: fmt.Sprintf(format, args...)}
}

// linkError detaches (and closes) one link; its session carries on.
type linkError struct {
	s      *session
	handle uint32
	cond   wire.Symbol
	desc   string
}

func (e *linkError) Error() string {
	return fmt.Sprintf("link %d error %s: %s", e.handle, e.cond, e.desc)
}

func errLink(s *session, handle uint32, cond wire.Symbol, format string, args ...any) *linkError {
	return &linkError{s: s, handle: handle, cond: cond, desc: fmt.Sprintf(format, args...)}
}
