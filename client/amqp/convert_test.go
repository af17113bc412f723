package amqp

import (
	"errors"
	"slices"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
	"github.com/tethermq/tether/failover/session"
)

// TestOutcomeErr: Accepted confirms; every other outcome is the broker
// refusing the message, with its condition.
func TestOutcomeErr(t *testing.T) {
	if err := outcomeErr(&goamqp.StateAccepted{}); err != nil {
		t.Errorf("accepted: %v", err)
	}
	err := outcomeErr(&goamqp.StateRejected{Error: &goamqp.Error{Condition: "amqp:resource-limit-exceeded", Description: "full"}})
	var be *session.BrokerError
	if !errors.As(err, &be) || be.Op != "send" || be.Message != "amqp:resource-limit-exceeded" || be.Detail != "full" {
		t.Errorf("rejected: %v", err)
	}
	for _, st := range []goamqp.DeliveryState{&goamqp.StateRejected{}, &goamqp.StateReleased{}, &goamqp.StateModified{}, &goamqp.StateReceived{}} {
		if !errors.As(outcomeErr(st), &be) {
			t.Errorf("%T: %v, want a *BrokerError", st, outcomeErr(st))
		}
	}
}

// TestMessageRoundTrip: what toMessage writes, toDelivery reads back.
func TestMessageRoundTrip(t *testing.T) {
	rt := session.Destination{Kind: session.Topic, Name: "replies"}
	exp := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	out := &session.Outgoing{
		Destination: session.Destination{Name: "orders"}, Body: []byte("b"), Persistent: true, Priority: -1,
		Expires: exp, GroupID: "g", GroupSeq: -1, CorrelationID: "c", ReplyTo: &rt, DuplicateID: "d",
		Headers: map[string]string{"z": "1", "a": "2"},
	}
	m, err := toMessage(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Priority != 4 || *m.Properties.GroupSequence != 0xFFFFFFFF || *m.Properties.To != "queue://orders" {
		t.Errorf("message %+v %+v", m.Header, m.Properties)
	}
	d := toDelivery(m, &subscription{id: "s", dest: out.Destination})
	if d.GroupSeq != -1 || d.GroupID != "g" || d.DuplicateID != "d" || !d.Persistent || d.Priority != 4 ||
		d.CorrelationID != "c" || *d.ReplyTo != rt || !d.Expires.Equal(exp) || string(d.Body) != "b" {
		t.Errorf("delivery %+v", d)
	}
	if want := (session.Headers{"_AMQ_DUPL_ID", "d", "a", "2", "z", "1"}); !slices.Equal(d.Headers, want) {
		t.Errorf("headers %v (sorted by name)", d.Headers)
	}
}

func TestIDString(t *testing.T) {
	for id, want := range map[any]string{
		nil: "", "plain": "plain", uint64(7): "AMQP_ULONG:7", string([]byte{1}): "\x01",
	} {
		if got := idString(id); got != want {
			t.Errorf("%v: %q, want %q", id, got, want)
		}
	}
	if got := idString([]byte{0xab, 0x01}); got != "AMQP_BINARY:AB01" {
		t.Errorf("binary: %q", got)
	}
}

// TestServerList reads Artemis's failover-server-list in the shapes go-amqp
// decodes AMQP maps to, skipping what it cannot read.
func TestServerList(t *testing.T) {
	v := []any{
		map[any]any{goamqp.Symbol("hostname"): "backup1", goamqp.Symbol("port"): int32(5673)},
		map[any]any{"hostname": "backup2", "port": "5674", "scheme": "amqps"},
		map[string]any{"hostname": "backup3", "port": uint16(5675), "scheme": "ws"},
		map[any]any{"hostname": "no-port"},
		"garbage",
	}
	got := serverList(v, "amqp")
	want := []string{"amqp://backup1:5673", "amqps://backup2:5674", "amqp://backup3:5675"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i, u := range got {
		if u.String() != want[i] {
			t.Errorf("%d: %s, want %s", i, u, want[i])
		}
	}
	if serverList(nil, "amqp") != nil {
		t.Error("no property, yet URIs")
	}
}
