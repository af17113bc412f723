package amqp

import (
	"reflect"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"bytes"
	"encoding/binary"
	"testing"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
	"github.com/tethermq/tether/server/internal/broker"
)

// readFrame reads the next non-empty frame, payload included.
func (r *raw) readFrame() *wire.Frame {
	r.t.Helper()
	for {
		f, err := wire.ReadFrame(r.br, 1<<20)
		if err != nil {
			r.t.Fatalf("raw read: %v", err)
		}
		if f.Body != nil {
			return f
		}
	}
}

// readUntil reads frames until one of type T arrives.
func readUntil[T wire.Performative](r *raw) (T, *wire.Frame) {
	r.t.Helper()
	for {
		f := r.readFrame()
		if p, ok := f.Body.(T); ok {
			return p, f
		}
	}
}

// section encodes a section by hand: 0x00, smallulong code, then the
// value's bytes exactly as given, so that a test can use encodings a
// re-encoder would not choose (str32 for a short string, list32, ...).
func section(code byte, value []byte) []byte {
	return append([]byte{0x00, 0x53, code}, value...)
}

// compound32 encodes a list32 (0xd0) or map32 (0xd1) of count elements.
func compound32(ctor byte, count int, elems ...[]byte) []byte {
	body := binary.BigEndian.AppendUint32(nil, uint32(count))
	for _, e := range elems {
		body = append(body, e...)
	}
	out := append([]byte{ctor}, binary.BigEndian.AppendUint32(nil, uint32(len(body)))...)
	return append(out, body...)
}

func str32(s string) []byte {
	return append(append([]byte{0xb1}, binary.BigEndian.AppendUint32(nil, uint32(len(s)))...), s...)
}

func vbin32(b []byte) []byte {
	return append(append([]byte{0xb0}, binary.BigEndian.AppendUint32(nil, uint32(len(b)))...), b...)
}

func key8(s string) []byte { return append([]byte{0xa1, byte(len(s))}, s...) }

// bareMessage is a bare message in deliberately unusual (valid) encodings,
// with every simple property type, a null property and a footer.
func bareMessage(withID bool) []byte {
	var props []byte
	if withID {
		props = section(0x73, compound32(0xd0, 3, str32("m-1"), []byte{0x40}, str32("queue://bare")))
	} else {
		props = section(0x73, compound32(0xd0, 3, []byte{0x40}, []byte{0x40}, str32("queue://bare")))
	}
	appProps := section(0x74, compound32(0xd1, 16,
		key8("int"), []byte{0x71, 0, 0, 0, 7},
		key8("bool"), []byte{0x56, 0x01},
		key8("long"), []byte{0x81, 0, 0, 0, 0, 0, 0, 0, 9},
		key8("double"), []byte{0x82, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0},
		key8("string"), str32("text"),
		key8("null"), []byte{0x40},
		key8("uuid"), append([]byte{0x98}, bytes.Repeat([]byte{0xab}, 16)...),
		key8("binary"), vbin32([]byte{0, 1, 2}),
	))
	data := section(0x75, vbin32([]byte("hello bare")))
	footer := section(0x78, []byte{0xc1, 0x01, 0x00})
	return bytes.Join([][]byte{props, appProps, data, footer}, nil)
}

// AMQP to AMQP the bare message comes out byte for byte as it went in;
// the producer's header is replaced by the broker's, its delivery
// annotations are dropped (they were for the broker), its message
// annotations kept, with the broker's own id added when the bare message
// has no message-id.
func TestBareMessageUnchanged(t *testing.T) {
	e := startEnv(t, Options{}, "")
	r := e.raw(t)
	r.open()
	r.frame(0, &wire.Begin{NextOutgoingID: 0, IncomingWindow: 100, OutgoingWindow: 100, HandleMax: 10})
	readUntil[*wire.Begin](r)
	r.frame(0, &wire.Attach{Name: "in", Handle: 0, Role: wire.RoleSender, Source: &wire.Source{}, Target: &wire.Target{Address: "bare"}})
	readUntil[*wire.Attach](r)
	readUntil[*wire.Flow](r)

	producerHeader := section(0x70, []byte{0xc0, 0x02, 0x01, 0x41}) // durable
	deliveryAnn := section(0x71, []byte{0xc1, 0x01, 0x00})
	msgAnn := section(0x72, append([]byte{0xc1, 0x0c, 0x02}, append([]byte{0xa3, 0x07}, "x-opt-a\x54\x05"...)...))
	bares := [][]byte{bareMessage(true), bareMessage(false)}
	for i, bare := range bares {
		payload := bytes.Join([][]byte{producerHeader, deliveryAnn, msgAnn, bare}, nil)
		id, format, settled := uint32(i), uint32(0), false
		r.write(wire.AppendFrame(nil, 0, &wire.Transfer{Handle: 0, DeliveryID: &id, DeliveryTag: []byte{byte(i)},
			MessageFormat: &format, Settled: &settled}, payload))
		if d, _ := readUntil[*wire.Disposition](r); d.State != (wire.Accepted{}) {
			t.Fatalf("message %d: disposition %+v", i, d.State)
		}
	}

	r.frame(0, &wire.Attach{Name: "out", Handle: 1, Role: wire.RoleReceiver, Source: &wire.Source{Address: "bare"}, Target: &wire.Target{}})
	readUntil[*wire.Attach](r)
	h, dc, credit := uint32(1), uint32(0), uint32(10)
	next := uint32(0)
	r.frame(0, &wire.Flow{NextIncomingID: &next, IncomingWindow: 100, NextOutgoingID: 2, OutgoingWindow: 100,
		Handle: &h, DeliveryCount: &dc, LinkCredit: &credit})
	ourHeader := wire.AppendHeader(nil, &wire.Header{Durable: true, Priority: wire.DefaultPriority})
	for i, bare := range bares {
		_, f := readUntil[*wire.Transfer](r)
		got := f.Payload
		if !bytes.HasPrefix(got, ourHeader) {
			t.Fatalf("message %d: does not start with the broker's header % x:\n% x", i, ourHeader, got)
		}
		if !bytes.HasSuffix(got, bare) {
			t.Fatalf("message %d: bare message changed:\n got % x\nwant suffix % x", i, got, bare)
		}
		ann := got[len(ourHeader) : len(got)-len(bare)]
		if i == 0 {
			if !bytes.Equal(ann, msgAnn) {
				t.Fatalf("message annotations % x, want the producer's % x", ann, msgAnn)
			}
			continue
		}
		wm, err := wire.DecodeMessage(ann)
		if err != nil || len(wm.Sections) != 1 || wm.Sections[0].Code != wire.SectionMessageAnnotations {
			t.Fatalf("between header and bare message: % x (%v)", ann, err)
		}
		var sawA, sawID bool
		for _, en := range wm.MessageAnnotations {
			switch en.Key {
			case wire.Symbol("x-opt-a"):
				sawA = en.Value == int32(5)
			case annBrokerID:
				s, _ := en.Value.(string)
				sawID = s != ""
			}
		}
		if !sawA || !sawID {
			t.Fatalf("message annotations %v: want x-opt-a=5 and %s", wm.MessageAnnotations, annBrokerID)
		}
	}
}

// Typed application properties and the bare message survive a restart of
// a persistent store (broker.Message.AMQP is stored with the message).
func TestTypedPropertiesSurviveRestart(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	in := &goamqp.Message{
		Header:                &goamqp.MessageHeader{Durable: true},
		ApplicationProperties: map[string]any{"i": int32(7), "b": true, "l": int64(1 << 40), "d": 2.5, "s": "x", "n": nil, "y": []byte{1, 2}},
		Value:                 "typed",
	}
	send(t, e.sender(s, "typed-durable", nil), in)
	e.restart()
	rcv := e.receiver(e.client(), "typed-durable", nil)
	out := receive(t, rcv)
	accept(t, rcv, out)
	if !reflect.DeepEqual(out.ApplicationProperties, in.ApplicationProperties) || out.Value != "typed" {
		t.Fatalf("after restart: %#v %#v, want %#v", out.ApplicationProperties, out.Value, in.ApplicationProperties)
	}
}

// Values with no text form (null, decimals) are left out of the broker's
// headers, for other protocols, but do not get the message rejected; an
// AMQP receiver still gets them in the kept bare message.
func TestPropertiesWithoutTextForm(t *testing.T) {
	in := &wire.Message{ApplicationProperties: wire.Map{
		{Key: "null", Value: nil}, {Key: "dec", Value: wire.Decimal64{1, 2, 3, 4, 5, 6, 7, 8}}, {Key: "s", Value: "x"},
	}, Data: [][]byte{[]byte("b")}}
	enc := wire.AppendMessage(nil, in)
	wm, err := wire.DecodeMessage(enc)
	if err != nil {
		t.Fatal(err)
	}
	m, err := toBroker(wm, enc, broker.Destination{Name: "q"}, false, time.Now())
	if err != nil {
		t.Fatalf("rejected: %v", err)
	}
	if len(m.Headers) != 1 || m.Headers[0] != (broker.Header{Name: "s", Value: "x"}) {
		t.Fatalf("headers %v, want only s=x", m.Headers)
	}
	out := fromBroker(&broker.Delivery{Message: m, DeliveryCount: 1}, time.Now(), t.Logf)
	if !bytes.HasSuffix(out, enc) {
		t.Fatalf("bare message changed:\n% x\nwant suffix % x", out, enc)
	}
}

// Kept sections that do not parse (a damaged store record) do not lose the
// message: it goes out encoded from its fields.
func TestUnreadableKeptSectionsFallBack(t *testing.T) {
	m := &broker.Message{ID: "ID:x-1", Dest: broker.Destination{Name: "q"}, Body: []byte("body"), Priority: 4,
		Headers: []broker.Header{{Name: "k", Value: "v"}}, AMQP: []byte{passVersion, 0, 5}}
	var logged bool
	out := fromBroker(&broker.Delivery{Message: m, DeliveryCount: 1}, time.Now(), func(string, ...any) { logged = true })
	wm, err := wire.DecodeMessage(out)
	if err != nil {
		t.Fatal(err)
	}
	if !logged || wm.Properties == nil || wm.Properties.MessageID != "ID:x-1" || len(wm.Data) != 1 || string(wm.Data[0]) != "body" {
		t.Fatalf("logged %v, message %+v", logged, wm)
	}
}
