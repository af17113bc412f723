package client

import (
	"context"

	"github.com/tethermq/tether/failover"
)

// Tx is a transaction: its sends become visible and its acks take effect at
// Commit, or not at all. A failover before Commit is confirmed rolls it back
// (ErrTxRolledBack); redo the work in a new transaction.
type Tx struct {
	c  *Conn
	ft *failover.Tx
}

// Send sends body to dest inside the transaction.
func (t *Tx) Send(ctx context.Context, dest string, body []byte, opts ...SendOption) error {
	m, err := t.c.outgoing(dest, body, opts)
	if err != nil {
		return err
	}
	return t.ft.Send(ctx, m)
}

// Ack acknowledges msg inside the transaction.
func (t *Tx) Ack(ctx context.Context, msg *Message) error { return t.ft.Ack(ctx, msg.m) }

// Commit makes the transaction's work permanent.
func (t *Tx) Commit(ctx context.Context) error { return t.ft.Commit(ctx) }

// Abort rolls the transaction back.
func (t *Tx) Abort(ctx context.Context) error { return t.ft.Abort(ctx) }
