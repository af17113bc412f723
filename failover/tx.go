package failover

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/tethermq/tether/failover/session"
)

// Tx is a transaction. It lives on one connection: if that connection is
// lost before Commit is confirmed, the transaction is rolled back (in doubt
// means rolled back, as in ActiveMQ) and every later call on it, Commit
// included, fails with ErrTxRolledBack. Its sends are not re-sent and its
// acks are not remembered: the application redoes the work.
type Tx struct {
	c  *Conn
	id string
	g  *generation

	mu   sync.Mutex
	done bool
}

// Begin starts a transaction, waiting for a connection like Send.
func (c *Conn) Begin(ctx context.Context) (*Tx, error) {
	id := "tether-tx-" + strconv.FormatUint(c.ids.Add(1), 10)
	var g *generation
	for {
		next, err := c.nextLive(ctx, g)
		if err != nil {
			return nil, fmt.Errorf("failover: begin: %w", err)
		}
		g = next
		err = g.sess.Begin(ctx, id)
		if err == nil {
			return &Tx{c: c, id: id, g: g}, nil
		}
		if !lost(err) {
			return nil, fmt.Errorf("failover: begin: %w", err)
		}
	}
}

// ID returns the transaction's name on the wire.
func (t *Tx) ID() string { return t.id }

// usable reports why the transaction cannot take more work, if it cannot.
func (t *Tx) usable() error {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	if done {
		return ErrTxDone
	}
	if t.c.isRetired(t.g) {
		return t.rolledBack(nil)
	}
	return nil
}

func (t *Tx) rolledBack(cause error) error {
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
	if cause != nil {
		return fmt.Errorf("failover: transaction %s: %w: %w", t.id, ErrTxRolledBack, cause)
	}
	return fmt.Errorf("failover: transaction %s: %w: connection to %s lost", t.id, ErrTxRolledBack, redact(t.g.uri))
}

// Send sends m inside the transaction and returns once the broker confirmed
// it. The broker makes it visible at Commit.
func (t *Tx) Send(ctx context.Context, m *session.Outgoing) error {
	if err := t.usable(); err != nil {
		return err
	}
	m.Tx = t.id
	m.Confirm = true
	if m.DuplicateID == "" {
		m.DuplicateID = NewDuplicateID()
	}
	conf, err := t.g.sess.Send(ctx, m)
	if err == nil {
		select {
		case err = <-conf:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	return t.result("send", err)
}

// Ack acknowledges msg inside the transaction. A message delivered on an
// earlier connection cannot join it: the broker redelivers that message.
func (t *Tx) Ack(ctx context.Context, msg *Message) error {
	if err := t.usable(); err != nil {
		return err
	}
	if msg.g != t.g {
		return fmt.Errorf("failover: transaction %s: ack %s: %w", t.id, msg.d.MessageID, ErrStaleMessage)
	}
	msg.s.takeCovered(msg)
	return t.result("ack", t.g.sess.Ack(ctx, msg.d, t.id))
}

// Commit makes the transaction's work permanent and returns once the
// broker confirmed it. If the connection is lost first, the outcome is in
// doubt and Commit reports ErrTxRolledBack.
func (t *Tx) Commit(ctx context.Context) error {
	if err := t.usable(); err != nil {
		return err
	}
	err := t.result("commit", t.g.sess.Commit(ctx, t.id))
	t.finish()
	return err
}

// Abort rolls the transaction back. A transaction already rolled back by a
// failover aborts without error.
func (t *Tx) Abort(ctx context.Context) error {
	if err := t.usable(); err != nil {
		if errors.Is(err, ErrTxRolledBack) {
			return nil
		}
		return err
	}
	err := t.g.sess.Abort(ctx, t.id)
	t.finish()
	if err != nil && !lost(err) {
		return fmt.Errorf("failover: abort %s: %w", t.id, err)
	}
	return nil
}

func (t *Tx) finish() {
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
}

func (t *Tx) result(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case lost(err):
		return t.rolledBack(err)
	default:
		return fmt.Errorf("failover: transaction %s: %s: %w", t.id, op, err)
	}
}
