package mqtt

import (
	"fmt"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

// TestQoSBothWays publishes at every QoS to subscribers at every QoS: the
// publisher's token completes only on PUBACK/PUBCOMP (inbound handshake),
// the subscriber receives at min(publish, subscription) QoS, and the
// outbound handshake completes both in the broker (the delivery is acked)
// and on the wire (the packet id is freed).
func TestQoSBothWays(t *testing.T) {
	e := newEnv(t, Options{})
	for pq := byte(0); pq <= 2; pq++ {
		for sq := byte(0); sq <= 2; sq++ {
			name := fmt.Sprintf("pub%d-sub%d", pq, sq)
			t.Run(name, func(t *testing.T) {
				topic := "qos/" + name
				in := newInbox()
				sub := e.client(t, "s-"+name, true, nil)
				waitToken(t, sub.Subscribe(topic, sq, in.handler))
				pub := e.client(t, "p-"+name, true, nil)
				waitToken(t, pub.Publish(topic, pq, false, "payload "+name))
				m := in.next(t)
				if m.Topic() != topic || string(m.Payload()) != "payload "+name {
					t.Fatalf("got %s %q", m.Topic(), m.Payload())
				}
				if want := min(pq, sq); m.Qos() != want {
					t.Errorf("delivered at QoS %d, want %d", m.Qos(), want)
				}
				if m.Retained() || m.Duplicate() {
					t.Errorf("retained=%v dup=%v on a first live delivery", m.Retained(), m.Duplicate())
				}
				testutil.Eventually(t, 5*time.Second, func() bool {
					return e.brokerInFlight() == 0 && e.outstanding() == 0
				}, "acknowledgements did not complete: broker in flight %d, packet ids %d", e.brokerInFlight(), e.outstanding())
				sub.Disconnect(250)
				pub.Disconnect(250)
			})
		}
	}
}

// TestLargeMessage crosses the reader's large-body path both ways.
func TestLargeMessage(t *testing.T) {
	e := newEnv(t, Options{})
	in := newInbox()
	c := e.client(t, "large", true, nil)
	waitToken(t, c.Subscribe("large/t", 1, in.handler))
	payload := make([]byte, 300<<10)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	waitToken(t, c.Publish("large/t", 1, false, payload))
	if m := in.next(t); string(m.Payload()) != string(payload) {
		t.Fatalf("got %d bytes back, want the %d sent", len(m.Payload()), len(payload))
	}
}
