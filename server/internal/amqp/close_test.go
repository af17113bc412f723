package amqp

import (
	"fmt"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
)

// The probe: a producer sends four messages and closes its
// connection at once, without waiting for their outcomes. Every transfer
// the broker fully received before the close frame must be routed: 50
// rounds deliver 200 messages.
//
// go-amqp's Conn.Close writes close and shuts the socket without reading
// the broker's answer, so whatever the broker wrote meanwhile (outcomes of
// unsettled sends) is unread, and the client's kernel resets the
// connection, discarding what the broker had not read yet: that is the
// client aborting, not closing. Pre-settled sends get no outcomes, so
// go-amqp drives that case; the unsettled one is driven by a peer that
// closes properly (here by hand, in the timing: the four transfers
// and the close in one write; Qpid Proton in the interop tests).
func TestTransfersBeforeCloseAreRouted(t *testing.T) {
	const rounds, perRound = 50, 4
	want := uint64(rounds * perRound)
	t.Run("go-amqp pre-settled", func(t *testing.T) {
		e := startEnv(t, Options{}, "")
		settled := goamqp.SenderSettleModeSettled
		for r := range rounds {
			c := e.dial(nil)
			snd := e.sender(e.session(c), "probe-presettled", &goamqp.SenderOptions{SettlementMode: &settled})
			for i := range perRound {
				if err := snd.Send(ctxT(t), goamqpMessage(fmt.Sprintf("%d-%d", r, i)), nil); err != nil {
					t.Fatalf("round %d send %d: %v", r, i, err)
				}
			}
			if err := c.Close(); err != nil {
				t.Fatalf("round %d close: %v", r, err)
			}
		}
		testutil.Eventually(t, 10*time.Second, func() bool { return e.stats("probe-presettled").Enqueued == want },
			"enqueued %d of %d", e.stats("probe-presettled").Enqueued, want)
	})
	t.Run("unsettled, close in the same write", func(t *testing.T) {
		e := startEnv(t, Options{}, "")
		for r := range rounds {
			p := newTxnPeer(t, e)
			p.sender(1, "probe-unsettled")
			var b []byte
			for i := range perRound {
				id, format, settled := uint32(i), uint32(0), false
				b = wire.AppendFrame(b, 0, &wire.Transfer{Handle: 1, DeliveryID: &id, DeliveryTag: []byte{byte(i)},
					MessageFormat: &format, Settled: &settled}, dataMessage(fmt.Sprintf("%d-%d", r, i)))
			}
			p.write(wire.AppendFrame(b, 0, &wire.Close{}, nil))
			readUntil[*wire.Close](p.raw)
			p.nc.Close()
		}
		testutil.Eventually(t, 10*time.Second, func() bool { return e.stats("probe-unsettled").Enqueued == want },
			"enqueued %d of %d", e.stats("probe-unsettled").Enqueued, want)
	})
}
