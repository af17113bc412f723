package amqp

import "context"

// Begin is refused: tether's broker refuses the AMQP transaction
// coordinator, and go-amqp has no client side for it.
func (s *Session) Begin(context.Context, string) error { return unsupported("transactions") }

// Commit is refused like Begin.
func (s *Session) Commit(context.Context, string) error { return unsupported("transactions") }

// Abort is refused like Begin.
func (s *Session) Abort(context.Context, string) error { return unsupported("transactions") }
