package stomp

import (
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/internal/broker"
)

// STOMP's spelling stays in the connector: /queue/X and /topic/X (and the
// broker's own queue://X, topic://X, bare names) name destinations going
// in, MESSAGE frames say /queue/X and /topic/X going out, and a dead
// letter's original-destination is translated both ways, so the broker
// keeps queue://X and can move a dead letter sent over STOMP back home.
func TestDestinationSpellings(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{})
	c := tb.dial()
	qs := subscribe(t, c, "/queue/spell", gostomp.AckAuto)
	ts := subscribe(t, c, "topic://spell.t", gostomp.AckAuto)
	waitConsumers(t, tb.b, 2)
	for _, d := range []string{"/queue/spell", "queue://spell", "spell"} {
		send(t, c, d, d)
		if m := recv(t, qs); string(m.Body) != d || m.Header.Get("destination") != "/queue/spell" {
			t.Fatalf("sent to %s: got %q on %s", d, m.Body, m.Header.Get("destination"))
		}
	}
	send(t, c, "/topic/spell.t", "t")
	if m := recv(t, ts); m.Header.Get("destination") != "/topic/spell.t" {
		t.Fatalf("topic message on %s", m.Header.Get("destination"))
	}

	// A dead letter sent over STOMP, as a tool replaying a DLQ would.
	send(t, c, "/queue/ActiveMQ.DLQ", "replayed", "persistent", "true", "original-destination", "/queue/home")
	testutil.Eventually(t, 5*time.Second, func() bool { return queueStat(tb.b, "queue://ActiveMQ.DLQ").Pending == 1 }, "dead letter stored")
	page, err := tb.b.BrowseQueue("ActiveMQ.DLQ", 0, 1)
	if err != nil || len(page) != 1 {
		t.Fatalf("browse the DLQ: %d, %v", len(page), err)
	}
	if v, _ := page[0].Header(broker.HeaderOriginalDestination); v != "queue://home" {
		t.Fatalf("the broker holds original-destination %q", v)
	}
	reader, err := gostomp.Dial("tcp", tb.addr, gostomp.ConnOpt.HeartBeat(0, 0), gostomp.ConnOpt.Logger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	dlq := subscribe(t, reader, "/queue/ActiveMQ.DLQ", gostomp.AckClientIndividual)
	m := recv(t, dlq)
	if got := m.Header.Get("original-destination"); got != "/queue/home" {
		t.Fatalf("a STOMP consumer reads original-destination %q", got)
	}
	reader.MustDisconnect() // unacknowledged: back in the DLQ
	testutil.Eventually(t, 5*time.Second, func() bool { return queueStat(tb.b, "queue://ActiveMQ.DLQ").InFlight == 0 }, "dead letter returned")
	if to, err := tb.b.MoveFromDLQ(page[0].ID); err != nil || to != (broker.Destination{Kind: broker.Queue, Name: "home"}) {
		t.Fatalf("move back: %v, %v", to, err)
	}
	home := subscribe(t, c, "/queue/home", gostomp.AckAuto)
	if m := recv(t, home); string(m.Body) != "replayed" {
		t.Fatalf("home got %q", m.Body)
	}
}
