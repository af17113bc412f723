package mqtt

import "context"

// Begin is refused: MQTT has no transactions.
func (s *Session) Begin(context.Context, string) error { return unsupported("transactions") }

// Commit is refused like Begin.
func (s *Session) Commit(context.Context, string) error { return unsupported("transactions") }

// Abort is refused like Begin.
func (s *Session) Abort(context.Context, string) error { return unsupported("transactions") }
