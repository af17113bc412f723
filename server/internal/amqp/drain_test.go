package amqp

import (
	"testing"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
)

// A drain is answered with a flow that consumes the credit left: the
// delivery-count advanced by every credit granted (sent or not), link
// credit zero, drain echoed (part 2, section 2.6.7).
func TestDrainAnsweredWithCreditConsumed(t *testing.T) {
	e := startEnv(t, Options{}, "")
	p := newTxnPeer(t, e) // only for its session; the coordinator is unused
	p.sender(1, "drain-q")
	p.transfer(1, dataMessage("one"), nil)
	p.transfer(1, dataMessage("two"), nil)

	for round, want := range []int{2, 0} { // two messages waiting, then none
		h := uint32(2 + round)
		p.frame(0, &wire.Attach{Name: "drainer" + string(rune('a'+round)), Handle: h, Role: wire.RoleReceiver,
			Source: &wire.Source{Address: "drain-q"}, Target: &wire.Target{}, SndSettleMode: wire.SndSettled})
		readUntil[*wire.Attach](p.raw)
		next, dc, credit := uint32(0), uint32(0), uint32(5)
		if round > 0 {
			next = 2
		}
		p.frame(0, &wire.Flow{NextIncomingID: &next, IncomingWindow: 1000, NextOutgoingID: p.nextID, OutgoingWindow: 1000,
			Handle: &h, DeliveryCount: &dc, LinkCredit: &credit, Drain: true})
		got := 0
		for {
			f := p.readFrame()
			switch b := f.Body.(type) {
			case *wire.Transfer:
				got++
				continue
			case *wire.Flow:
				if b.Handle == nil || *b.Handle != h {
					continue
				}
				if got != want || !b.Drain || b.LinkCredit == nil || *b.LinkCredit != 0 || b.DeliveryCount == nil || *b.DeliveryCount != 5 {
					t.Fatalf("round %d: %d transfers then flow drain=%v credit=%v delivery-count=%v; want %d, drain, 0, 5",
						round, got, b.Drain, deref(b.LinkCredit), deref(b.DeliveryCount), want)
				}
			default:
				continue
			}
			break
		}
	}
}

func deref(p *uint32) any {
	if p == nil {
		return nil
	}
	return *p
}
