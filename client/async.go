package client

import (
	"context"
	"errors"

	"github.com/tethermq/tether/failover"
)

// PendingSend is a send made with SendAsync: it completes when the broker
// confirmed the message (Err is then nil), or when the send was refused or
// given up (the Conn closed, or stopped reconnecting). Done, Err and Wait
// are safe for concurrent use.
type PendingSend = failover.AsyncSend

// DefaultSendWindow is how many SendAsync sends may await their
// confirmation at once unless WithSendWindow says otherwise.
const DefaultSendWindow = failover.DefaultSendWindow

// SendAsync sends body to dest with a confirmation, without waiting for
// it: many sends are then in flight at once over one connection, and the
// adapter writes them to the socket in batches. It returns once the message
// is queued on the connection (or, while disconnected, kept for the next
// one); the PendingSend completes when the broker confirmed it.
//
// Safe across failover: a send still unconfirmed when the connection is
// lost is re-sent on the next one with its duplicate id, so the broker
// stores it once; sends from one goroutine reach the broker in call order,
// re-sent ones included. At most the send window (WithSendWindow, default
// DefaultSendWindow) is unconfirmed at a time: SendAsync waits for room, at
// most until ctx ends, which is how a slow broker slows a fast producer.
//
// Every SendAsync send is confirmed, persistent or not; Unconfirmed is
// refused (WithConfirmNonPersistent does not apply). The timeout option does not bound a PendingSend: bound the wait
// with Wait's context. Transactional sends go through Tx.Send.
func (c *Conn) SendAsync(ctx context.Context, dest string, body []byte, opts ...SendOption) (*PendingSend, error) {
	var probe sendConfig
	for _, o := range opts {
		o.applySend(&probe)
	}
	if probe.unconfirmed {
		return nil, errors.New("tether: send: a SendAsync send is always confirmed; Unconfirmed belongs to Send")
	}
	m, err := c.outgoing(dest, body, opts)
	if err != nil {
		return nil, err
	}
	return c.fc.SendAsync(ctx, m)
}
