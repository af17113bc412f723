package amqp

import (
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
)

// txnPeer drives transactions by hand (go-amqp has no transaction API;
// Qpid Proton covers them in the interop tests): one session, a
// coordinator link on handle 0.
type txnPeer struct {
	*raw
	nextID uint32 // next delivery id we send
}

func newTxnPeer(t *testing.T, e *env) *txnPeer {
	r := e.raw(t)
	r.open()
	r.frame(0, &wire.Begin{IncomingWindow: 1000, OutgoingWindow: 1000, HandleMax: 10})
	readUntil[*wire.Begin](r)
	r.frame(0, &wire.Attach{Name: "coord", Handle: 0, Role: wire.RoleSender, Source: &wire.Source{},
		Coordinator: &wire.Coordinator{Capabilities: []wire.Symbol{"amqp:local-transactions"}}})
	a, _ := readUntil[*wire.Attach](r)
	if a.Coordinator == nil {
		t.Fatalf("coordinator refused: %+v", a)
	}
	readUntil[*wire.Flow](r)
	return &txnPeer{raw: r}
}

// transfer sends one unsettled message on handle h and returns the
// broker's disposition state for it.
func (p *txnPeer) transfer(h uint32, payload []byte, state wire.DeliveryState) wire.DeliveryState {
	p.t.Helper()
	id, format, settled := p.nextID, uint32(0), false
	p.nextID++
	p.write(wire.AppendFrame(nil, 0, &wire.Transfer{Handle: h, DeliveryID: &id, DeliveryTag: []byte{byte(id)},
		MessageFormat: &format, Settled: &settled, State: state}, payload))
	for {
		d, _ := readUntil[*wire.Disposition](p.raw)
		if d.Role == wire.RoleReceiver && d.First == id {
			return d.State
		}
	}
}

func valueMessage(body []byte) []byte {
	return append([]byte{0x00, 0x53, 0x77}, body...) // amqp-value section
}

func (p *txnPeer) declare() []byte {
	p.t.Helper()
	st := p.transfer(0, valueMessage(wire.AppendDeclare(nil)), nil)
	d, ok := st.(*wire.Declared)
	if !ok || len(d.TxnID) == 0 {
		p.t.Fatalf("declare answered with %#v", st)
	}
	return d.TxnID
}

func (p *txnPeer) discharge(id []byte, fail bool) wire.DeliveryState {
	p.t.Helper()
	return p.transfer(0, valueMessage(wire.AppendDischarge(nil, &wire.Discharge{TxnID: id, Fail: fail})), nil)
}

// sender attaches a sending link to addr on handle h.
func (p *txnPeer) sender(h uint32, addr string) {
	p.frame(0, &wire.Attach{Name: "snd-" + addr, Handle: h, Role: wire.RoleSender, Source: &wire.Source{}, Target: &wire.Target{Address: addr}})
	readUntil[*wire.Attach](p.raw)
	readUntil[*wire.Flow](p.raw)
}

// receiver attaches a receiving link from addr on handle h, with credit.
func (p *txnPeer) receiver(h uint32, addr string, credit uint32) {
	p.frame(0, &wire.Attach{Name: "rcv-" + addr, Handle: h, Role: wire.RoleReceiver, Source: &wire.Source{Address: addr}, Target: &wire.Target{}})
	readUntil[*wire.Attach](p.raw)
	next, dc := uint32(0), uint32(0)
	p.frame(0, &wire.Flow{NextIncomingID: &next, IncomingWindow: 1000, NextOutgoingID: p.nextID, OutgoingWindow: 1000,
		Handle: &h, DeliveryCount: &dc, LinkCredit: &credit})
}

func dataMessage(body string) []byte {
	return append([]byte{0x00, 0x53, 0x75, 0xa0, byte(len(body))}, body...)
}

// Transactional sends reach the queue only at commit; a rollback
// discards them.
func TestTransactionalSends(t *testing.T) {
	e := startEnv(t, Options{}, "")
	p := newTxnPeer(t, e)
	p.sender(1, "txq")

	rolled := p.declare()
	for range 2 {
		st := p.transfer(1, dataMessage("discarded"), &wire.TransactionalState{TxnID: rolled})
		if ts, ok := st.(*wire.TransactionalState); !ok || ts.Outcome != (wire.Accepted{}) {
			t.Fatalf("transactional send answered with %#v", st)
		}
	}
	if st := p.discharge(rolled, true); st != (wire.Accepted{}) {
		t.Fatalf("rollback answered with %#v", st)
	}
	committed := p.declare()
	p.transfer(1, dataMessage("kept"), &wire.TransactionalState{TxnID: committed})
	if n := e.stats("txq").Enqueued; n != 0 {
		t.Fatalf("%d messages enqueued before commit", n)
	}
	if st := p.discharge(committed, false); st != (wire.Accepted{}) {
		t.Fatalf("commit answered with %#v", st)
	}
	if n := e.stats("txq").Enqueued; n != 1 {
		t.Fatalf("%d messages enqueued after commit and rollback, want 1", n)
	}
	// An unknown transaction is refused.
	st := p.discharge([]byte("nope"), false)
	if r, ok := st.(*wire.Rejected); !ok || r.Error == nil || r.Error.Condition != wire.CondTxUnknownID {
		t.Fatalf("discharge of an unknown transaction answered with %#v", st)
	}
}

// Transactional acknowledgements take effect at commit; on rollback the
// messages come back, counted as redelivered.
func TestTransactionalAcks(t *testing.T) {
	e := startEnv(t, Options{}, "")
	p := newTxnPeer(t, e)
	p.sender(1, "txacks")
	p.transfer(1, dataMessage("m"), nil)
	p.receiver(2, "txacks", 10)

	ack := func(deliveryID uint32, txnID []byte) {
		p.frame(0, &wire.Disposition{Role: wire.RoleReceiver, First: deliveryID, Settled: true,
			State: &wire.TransactionalState{TxnID: txnID, Outcome: wire.Accepted{}}})
	}
	tr, f := readUntil[*wire.Transfer](p.raw)
	wm, err := wire.DecodeMessage(f.Payload)
	if err != nil || wm.Header != nil && wm.Header.DeliveryCount != 0 {
		t.Fatalf("first delivery: %+v %v", wm, err)
	}
	rolled := p.declare()
	ack(*tr.DeliveryID, rolled)
	p.discharge(rolled, true)
	tr, f = readUntil[*wire.Transfer](p.raw)
	if wm, err = wire.DecodeMessage(f.Payload); err != nil || wm.Header == nil || wm.Header.DeliveryCount != 1 {
		t.Fatalf("after rollback: %+v %v, want a redelivery", wm.Header, err)
	}

	committed := p.declare()
	ack(*tr.DeliveryID, committed)
	if st := e.stats("txacks"); st.Dequeued != 0 {
		t.Fatalf("acked before commit: %+v", st)
	}
	p.discharge(committed, false)
	if st := e.stats("txacks"); st.Dequeued != 1 || st.InFlight+st.Pending != 0 {
		t.Fatalf("after commit: %+v", st)
	}
}

// A transaction still open when the connection is lost is rolled back:
// its sends are discarded and its acknowledged messages redelivered.
func TestTransactionRolledBackOnConnectionLoss(t *testing.T) {
	e := startEnv(t, Options{}, "")
	p := newTxnPeer(t, e)
	p.sender(1, "txlost")
	p.transfer(1, dataMessage("acked in tx"), nil)
	p.receiver(2, "txlost", 10)
	tr, _ := readUntil[*wire.Transfer](p.raw)
	id := p.declare()
	p.transfer(1, dataMessage("sent in tx"), &wire.TransactionalState{TxnID: id})
	p.frame(0, &wire.Disposition{Role: wire.RoleReceiver, First: *tr.DeliveryID, Settled: true,
		State: &wire.TransactionalState{TxnID: id, Outcome: wire.Accepted{}}})
	p.nc.Close()
	testutil.Eventually(t, 5*time.Second, func() bool {
		st := e.stats("txlost")
		return st.Consumers == 0 && st.Pending == 1
	}, "after the connection loss: %+v", e.stats("txlost"))
	if st := e.stats("txlost"); st.Enqueued != 1 || st.Dequeued != 0 {
		t.Fatalf("after the connection loss: %+v, want only the first message, still there", st)
	}
}
