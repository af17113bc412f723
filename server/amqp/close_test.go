package amqp

import (
	"fmt"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tethermq/tether/internal/testutil"
)

// The probe: a producer sends four messages and closes its
// connection at once, without waiting for their outcomes. Every transfer
// the broker fully received before the close frame must be routed: 50
// rounds deliver 200 messages, pre-settled or not.
func TestTransfersBeforeCloseAreRouted(t *testing.T) {
	for _, mode := range []struct {
		name string
		snd  goamqp.SenderSettleMode
	}{{"unsettled", goamqp.SenderSettleModeUnsettled}, {"presettled", goamqp.SenderSettleModeSettled}} {
		t.Run(mode.name, func(t *testing.T) {
			e := startEnv(t, Options{}, "")
			const rounds, perRound = 50, 4
			q := "probe-" + mode.name
			for r := range rounds {
				c := e.dial(nil)
				s := e.session(c)
				snd := e.sender(s, q, &goamqp.SenderOptions{SettlementMode: &mode.snd})
				for i := range perRound {
					m := goamqpMessage(fmt.Sprintf("%d-%d", r, i))
					var err error
					if mode.snd == goamqp.SenderSettleModeSettled {
						err = snd.Send(ctxT(t), m, nil) // returns once written
					} else {
						_, err = snd.SendWithReceipt(ctxT(t), m, nil) // does not wait for the outcome
					}
					if err != nil {
						t.Fatalf("round %d send %d: %v", r, i, err)
					}
				}
				if err := c.Close(); err != nil {
					t.Fatalf("round %d close: %v", r, err)
				}
			}
			want := uint64(rounds * perRound)
			testutil.Eventually(t, 10*time.Second, func() bool { return e.stats(q).Enqueued >= want },
				"enqueued %d of %d", e.stats(q).Enqueued, want)
			if got := e.stats(q).Enqueued; got != want {
				t.Fatalf("enqueued %d, want %d", got, want)
			}
		})
	}
}
