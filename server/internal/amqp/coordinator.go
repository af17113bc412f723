package amqp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
	"github.com/tethermq/tether/server/internal/broker"
)

// Local transactions (part 4) on the broker's transaction machinery, the
// one STOMP's BEGIN/COMMIT/ABORT use:
//
//   - Declare on a coordinator link begins a broker transaction on the
//     connection's broker session; its txn-id is answered in Declared.
//   - A transfer whose state names the transaction is a transactional
//     send: the broker holds it until commit, and we answer with a
//     transactional state whose outcome is Accepted.
//   - An Accepted disposition whose state names the transaction is a
//     transactional acknowledgement. Other outcomes inside a transaction
//     (Released, Modified, Rejected) take effect at once, as they would
//     outside one: the broker's transactions hold only sends and acks.
//   - Discharge commits, or with fail=true rolls back. It is queued behind
//     the connection's earlier sends, so every transactional send the
//     client made before it is in the transaction. On rollback the
//     messages whose acknowledgements are discarded are redelivered
//     (counted, as JMS's rollback marks them redelivered).
//   - A transaction still open when its coordinator link or the connection
//     ends is rolled back (the broker session's Close does it for the
//     connection).
//
// Not supported: global (distributed) transactions, and transactional
// acquisition (a flow naming a transaction).

const capLocalTransactions = wire.Symbol("amqp:local-transactions")

// txn is a declared transaction.
type txn struct {
	name  string        // the broker's transaction name
	coord *receiverLink // the coordinator link that declared it
	acks  []txnAck      // acknowledgements in it, redelivered on rollback
}

type txnAck struct {
	c     *broker.Consumer
	msgID string
}

// control handles a message on a coordinator link: Declare or Discharge.
func (l *receiverLink) control(d *incoming, wm *wire.Message) {
	c := l.s.c
	if !wm.HasValue {
		l.reject(d, wire.CondDecodeError, errors.New("coordinator message without an amqp-value body"))
		return
	}
	ctl, err := wire.DecodeTxnControl(wm.Value)
	if err != nil {
		l.reject(d, wire.CondDecodeError, err)
		return
	}
	switch ctl := ctl.(type) {
	case *wire.Declare:
		if ctl.GlobalID {
			l.reject(d, wire.CondNotImplemented, errors.New("global transactions are not supported"))
			return
		}
		c.nextTxn++
		id := binary.BigEndian.AppendUint64(nil, c.nextTxn)
		t := &txn{name: fmt.Sprintf("amqp-txn-%d", c.nextTxn), coord: l}
		if err := c.bs.Begin(t.name); err != nil {
			l.reject(d, wire.CondInternalError, err)
			return
		}
		c.txns[string(id)] = t
		if !d.settled {
			l.dispose(d.id, &wire.Declared{TxnID: id})
		}
		l.grant()
	case *wire.Discharge:
		t := c.txns[string(ctl.TxnID)]
		if t == nil {
			l.reject(d, wire.CondTxUnknownID, fmt.Errorf("discharge of transaction %x, which is not declared", ctl.TxnID))
			return
		}
		delete(c.txns, string(ctl.TxnID))
		l.outstanding++
		fail := ctl.Fail
		c.prod.push(&sendReq{
			op: func(_ context.Context, done func(error)) {
				if fail {
					done(c.bs.Abort(t.name))
					return
				}
				c.bs.Commit(t.name, done)
			},
			opDone: func(err error) {
				l.outstanding--
				if fail || err != nil {
					c.redeliver(t)
				}
				if err != nil {
					c.log.Info("amqp transaction discharge failed", "txn", t.name, "rollback", fail, "err", err)
				}
				if !l.closed && !d.settled {
					if err != nil {
						l.dispose(d.id, &wire.Rejected{Error: &wire.Error{Condition: wire.CondTxRollback, Description: err.Error()}})
					} else {
						l.dispose(d.id, wire.Accepted{})
					}
				}
				l.grant()
			},
		})
	}
}

// redeliver returns the messages a rolled-back transaction had
// acknowledged. Those whose link closed meanwhile were already
// redelivered by the broker (their consumer closed).
func (c *conn) redeliver(t *txn) {
	for _, a := range t.acks {
		a.c.Nack(a.msgID, nil)
	}
}

// rollbackAll rolls back the transactions a closing coordinator link
// declared.
func (c *conn) rollbackAll(coord *receiverLink) {
	for id, t := range c.txns {
		if t.coord != coord {
			continue
		}
		delete(c.txns, id)
		c.prod.push(&sendReq{
			op: func(_ context.Context, done func(error)) { done(c.bs.Abort(t.name)) },
			opDone: func(err error) {
				c.redeliver(t)
				if err != nil {
					c.log.Info("amqp transaction rollback failed", "txn", t.name, "err", err)
				}
			},
		})
	}
}

// txnAckFor applies a transactional disposition state (with an outcome)
// to one delivery: Accepted becomes an ack in the transaction (nil is
// returned); any other outcome is returned, to be applied at once.
func (s *session) txnAckFor(d *outDelivery, ts *wire.TransactionalState) (wire.DeliveryState, error) {
	t := s.c.txns[string(ts.TxnID)]
	if t == nil {
		return nil, fmt.Errorf("disposition in transaction %x, which is not declared", ts.TxnID)
	}
	if _, ok := ts.Outcome.(wire.Accepted); !ok {
		return ts.Outcome, nil
	}
	c := d.link.consumer
	c.Ack(d.msgID, t.name, false, nil)
	t.acks = append(t.acks, txnAck{c: c, msgID: d.msgID})
	return nil, nil
}
