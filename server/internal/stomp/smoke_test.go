package stomp

import (
	"testing"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/tethermq/tether/server/internal/broker"
)

func TestSendReceiveQueue(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	c := tb.dial()
	sub, err := c.Subscribe("/queue/a", gostomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := c.Send("/queue/a", "text/plain", []byte{byte('0' + i)}, gostomp.SendOpt.Receipt, gostomp.SendOpt.Header("persistent", "true")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		m := recv(t, sub)
		if string(m.Body) != string([]byte{byte('0' + i)}) {
			t.Fatalf("message %d: body %q", i, m.Body)
		}
		if m.Header.Get("persistent") != "true" {
			t.Fatalf("persistent header missing: %v", m.Header)
		}
		if err := c.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
}
