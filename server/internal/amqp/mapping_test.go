package amqp

import (
	"reflect"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tethermq/tether/server/internal/broker"
)

func TestPropertiesRoundTrip(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	snd := e.sender(s, "props", nil)
	rcv := e.receiver(s, "props", &goamqp.ReceiverOptions{Credit: 10})
	created := time.UnixMilli(1700000000123)
	in := &goamqp.Message{
		Header: &goamqp.MessageHeader{Durable: true, Priority: 7, TTL: time.Hour},
		Properties: &goamqp.MessageProperties{
			MessageID:     "order-42",
			CorrelationID: uint64(99),
			ReplyTo:       ptr("queue://replies"),
			Subject:       ptr("OrderPlaced"),
			ContentType:   ptr("application/json"),
			CreationTime:  &created,
		},
		ApplicationProperties: map[string]any{"s": "text", "n": int32(42), "b": true, "f": 1.5},
		Data:                  [][]byte{[]byte(`{"id":42}`)},
	}
	send(t, snd, in)
	out := receive(t, rcv)
	accept(t, rcv, out)

	if h := out.Header; h == nil || !h.Durable || h.Priority != 7 || h.TTL <= 0 || h.TTL > time.Hour {
		t.Errorf("header %+v, want durable, priority 7, ttl <= 1h", out.Header)
	}
	p := out.Properties
	if p == nil {
		t.Fatal("no properties")
	}
	if p.MessageID != "order-42" {
		t.Errorf("message-id %#v", p.MessageID)
	}
	if p.CorrelationID != uint64(99) {
		t.Errorf("correlation-id %#v, want uint64 99", p.CorrelationID)
	}
	if p.ReplyTo == nil || *p.ReplyTo != "queue://replies" || p.Subject == nil || *p.Subject != "OrderPlaced" {
		t.Errorf("reply-to %v subject %v", p.ReplyTo, p.Subject)
	}
	if p.ContentType == nil || *p.ContentType != "application/json" {
		t.Errorf("content-type %v", p.ContentType)
	}
	if p.CreationTime == nil || !p.CreationTime.Equal(created) {
		t.Errorf("creation-time %v, want %v", p.CreationTime, created)
	}
	if p.AbsoluteExpiryTime != nil {
		t.Errorf("absolute-expiry-time %v added by the broker", p.AbsoluteExpiryTime)
	}
	// Application properties keep their types, AMQP to AMQP.
	if !reflect.DeepEqual(out.ApplicationProperties, in.ApplicationProperties) {
		t.Errorf("application-properties %#v, want %#v", out.ApplicationProperties, in.ApplicationProperties)
	}
	if string(out.GetData()) != `{"id":42}` {
		t.Errorf("body %q", out.GetData())
	}
}

func TestMessageIDTypesRoundTrip(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	snd := e.sender(s, "ids", nil)
	rcv := e.receiver(s, "ids", &goamqp.ReceiverOptions{Credit: 10})
	ids := []any{uint64(7), goamqp.UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, []byte{0xca, 0xfe}, "AMQP_ULONG:not-a-number"}
	for _, id := range ids {
		send(t, snd, &goamqp.Message{Properties: &goamqp.MessageProperties{MessageID: id, CorrelationID: id}, Data: [][]byte{nil}})
	}
	for _, id := range ids {
		m := receive(t, rcv)
		accept(t, rcv, m)
		if !reflect.DeepEqual(m.Properties.MessageID, id) || !reflect.DeepEqual(m.Properties.CorrelationID, id) {
			t.Errorf("id %#v came back as %#v / %#v", id, m.Properties.MessageID, m.Properties.CorrelationID)
		}
	}
	// Without a message-id the bare message stays without one; the
	// broker's own id is in a message annotation.
	send(t, snd, goamqp.NewMessage([]byte("x")))
	m := receive(t, rcv)
	if m.Properties != nil {
		t.Errorf("properties %+v added by the broker", m.Properties)
	}
	if id, ok := m.Annotations[string(annBrokerID)].(string); !ok || id == "" {
		t.Errorf("broker message-id annotation %#v", m.Annotations)
	}
}

func TestBodyKindsRoundTrip(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	snd := e.sender(s, "bodies", nil)
	rcv := e.receiver(s, "bodies", &goamqp.ReceiverOptions{Credit: 10})
	msgs := []*goamqp.Message{
		{Value: "a text body"},
		{Value: map[string]any{"k": int64(1)}},
		{Sequence: [][]any{{"a", int64(2)}, {true}}},
		{Data: [][]byte{[]byte("two "), []byte("sections")}},
	}
	for _, m := range msgs {
		send(t, snd, m)
	}
	for i, in := range msgs {
		out := receive(t, rcv)
		accept(t, rcv, out)
		switch i {
		case 3:
			if !reflect.DeepEqual(out.Data, in.Data) {
				t.Errorf("data sections came back as %q", out.Data)
			}
		default:
			if !reflect.DeepEqual(out.Value, in.Value) || !reflect.DeepEqual(out.Sequence, in.Sequence) {
				t.Errorf("message %d: value %#v sequence %#v, want %#v %#v", i, out.Value, out.Sequence, in.Value, in.Sequence)
			}
		}
	}
	// The text body is plain text in the broker, for other protocols.
	snd2 := e.sender(s, "text-for-stomp", nil)
	send(t, snd2, &goamqp.Message{Value: "plain"})
	got := brokerReceive(t, e, broker.Destination{Kind: broker.Queue, Name: "text-for-stomp"})
	if string(got.Body) != "plain" {
		t.Errorf("broker body %q", got.Body)
	}
}

// brokerReceive takes one message straight from the broker, as another
// protocol's connector would see it.
func brokerReceive(t *testing.T, e *env, d broker.Destination) *broker.Message {
	t.Helper()
	bs, err := e.b.NewSession(broker.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	got := make(chan *broker.Delivery, 1)
	c, err := bs.Subscribe(broker.ConsumerOptions{Dest: d, Prefetch: 1, AckMode: broker.AckIndividual}, func(dl *broker.Delivery) {
		select {
		case got <- dl:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case dl := <-got:
		c.Ack(dl.Message.ID, "", false, nil)
		return dl.Message
	case <-time.After(testTimeout):
		t.Fatalf("no message on %s", d)
		return nil
	}
}

func TestGroupsRoundTrip(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	snd := e.sender(s, "grouped", nil)
	seqs := []uint32{1, 2, 0xffffffff}
	for _, seq := range seqs {
		send(t, snd, &goamqp.Message{
			Properties: &goamqp.MessageProperties{GroupID: ptr("g1"), GroupSequence: ptr(seq)},
			Data:       [][]byte{[]byte("m")},
		})
	}
	// The broker sees JMSXGroupID / JMSXGroupSeq, -1 closing the group.
	d := broker.Destination{Kind: broker.Queue, Name: "grouped"}
	for _, want := range []int32{1, 2, -1} {
		m := brokerReceive(t, e, d)
		if m.GroupID != "g1" || m.GroupSeq != want {
			t.Errorf("broker group %q/%d, want g1/%d", m.GroupID, m.GroupSeq, want)
		}
	}
	// And AMQP consumers get them back unchanged.
	for _, seq := range seqs {
		send(t, snd, &goamqp.Message{
			Properties: &goamqp.MessageProperties{GroupID: ptr("g2"), GroupSequence: ptr(seq)},
			Data:       [][]byte{[]byte("m")},
		})
	}
	rcv := e.receiver(s, "grouped", &goamqp.ReceiverOptions{Credit: 10})
	for _, seq := range seqs {
		m := receive(t, rcv)
		accept(t, rcv, m)
		p := m.Properties
		if p.GroupID == nil || *p.GroupID != "g2" || p.GroupSequence == nil || *p.GroupSequence != seq {
			t.Errorf("group %v/%v, want g2/%d", p.GroupID, p.GroupSequence, seq)
		}
	}
	if err := rcv.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// JMSXGroupID in application-properties works too.
	send(t, snd, &goamqp.Message{ApplicationProperties: map[string]any{"JMSXGroupID": "g3", "JMSXGroupSeq": int32(5)}, Data: [][]byte{nil}})
	if m := brokerReceive(t, e, d); m.GroupID != "g3" || m.GroupSeq != 5 {
		t.Errorf("JMSX group properties gave %q/%d", m.GroupID, m.GroupSeq)
	}
}

// A second send with the same _AMQ_DUPL_ID is accepted but not stored.
func TestDuplicateDetection(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	snd := e.sender(s, "dedupe", nil)
	for _, body := range []string{"first", "again", "next"} {
		id := "dup-1"
		if body == "next" {
			id = "dup-2"
		}
		send(t, snd, &goamqp.Message{ApplicationProperties: map[string]any{"_AMQ_DUPL_ID": id}, Data: [][]byte{[]byte(body)}})
	}
	rcv := e.receiver(s, "dedupe", &goamqp.ReceiverOptions{Credit: 10})
	for _, want := range []string{"first", "next"} {
		m := receive(t, rcv)
		accept(t, rcv, m)
		if string(m.GetData()) != want {
			t.Fatalf("got %q, want %q (the duplicate was delivered)", m.GetData(), want)
		}
		if m.ApplicationProperties["_AMQ_DUPL_ID"] == nil {
			t.Errorf("_AMQ_DUPL_ID not passed on")
		}
	}
	if st := e.stats("dedupe"); st.Enqueued != 2 {
		t.Errorf("enqueued %d, want 2", st.Enqueued)
	}
}

func TestExpiry(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	snd := e.sender(s, "ttl", nil)
	past := time.Now().Add(-time.Second)
	send(t, snd, &goamqp.Message{Properties: &goamqp.MessageProperties{AbsoluteExpiryTime: &past}, Data: [][]byte{[]byte("stale")}})
	before := time.Now()
	send(t, snd, &goamqp.Message{Header: &goamqp.MessageHeader{TTL: time.Hour}, Data: [][]byte{[]byte("fresh")}})
	m := brokerReceive(t, e, broker.Destination{Kind: broker.Queue, Name: "ttl"})
	if string(m.Body) != "fresh" {
		t.Fatalf("an expired message was delivered: %q", m.Body)
	}
	if exp := time.UnixMilli(m.Expires); exp.Before(before.Add(time.Hour-time.Millisecond)) || exp.After(time.Now().Add(time.Hour)) {
		t.Errorf("ttl of 1h gave expiry %v", exp)
	}
}
