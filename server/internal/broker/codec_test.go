package broker

import (
	"bytes"
	"reflect"
	"testing"
)

// Version 2 carries the AMQP connector's pass-through sections; a record
// truncated anywhere before the body is refused.
func TestCodecV2KeepsAMQPSections(t *testing.T) {
	m := &Message{ID: "ID:b-1-3", Dest: Destination{Queue, "q"}, Body: []byte("payload"), Persistent: true,
		Priority: 4, Headers: []Header{{"n", "7"}}, AMQP: []byte{0x00, 0x53, 0x73, 0x45, 0xff}, seq: 7}
	enc := encodeMessage(m)
	if enc[0] != 2 {
		t.Fatalf("encoded as version %d, want 2", enc[0])
	}
	got, err := decodeMessage(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
	}
	for i := range len(enc) - len(m.Body) {
		if _, err := decodeMessage(enc[:i]); err == nil {
			t.Fatalf("truncated at %d decoded without error", i)
		}
	}
}

// A store written before version 2 stays readable.
func TestCodecDecodesVersion1(t *testing.T) {
	m := &Message{ID: "ID:b-1-4", Dest: Destination{Topic, "t"}, Body: []byte("old\x00body"), Persistent: true,
		Priority: 9, Expires: 5, Timestamp: 6, CorrelationID: "c", GroupID: "g", GroupSeq: 3,
		Headers: []Header{{"a", "b"}}, BrokerPath: []string{"b1"}, seq: 11}
	v2 := encodeMessage(m)
	// Version 1 is version 2 without the amqp field, which for a message
	// without one is the single zero length byte just before the body.
	at := len(v2) - len(m.Body) - 1
	if v2[at] != 0 {
		t.Fatalf("no empty amqp field before the body: % x", v2)
	}
	v1 := append([]byte{1}, v2[1:at]...)
	v1 = append(v1, m.Body...)
	got, err := decodeMessage(v1)
	if err != nil {
		t.Fatalf("decode version 1: %v", err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("version 1:\n got %+v\nwant %+v", got, m)
	}
	if _, err := decodeMessage(append([]byte{3}, v2[1:]...)); err == nil {
		t.Fatal("an unknown version decoded without error")
	}
	if !bytes.Equal(got.Body, m.Body) {
		t.Fatal("body changed")
	}
}
