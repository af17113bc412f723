package wire

import (
	"errors"
	"reflect"
	"testing"
)

func TestMessageRoundTrip(t *testing.T) {
	ttl := uint32(5000)
	exp := Timestamp(1700000000000)
	seq := uint32(0xffffffff)
	msgs := []*Message{
		{
			Header:                &Header{Durable: true, Priority: 7, TTL: &ttl, DeliveryCount: 2},
			DeliveryAnnotations:   Map{{Symbol("x-opt-d"), "d"}},
			MessageAnnotations:    Map{{Symbol("x-opt-m"), int64(1)}},
			Properties:            &Properties{MessageID: "id-1", UserID: []byte("u"), To: "queue://q", Subject: "s", ReplyTo: "queue://r", CorrelationID: uint64(9), ContentType: "text/plain", ContentEncoding: "gzip", AbsoluteExpiryTime: &exp, CreationTime: &exp, GroupID: "g", GroupSequence: &seq, ReplyToGroupID: "rg"},
			ApplicationProperties: Map{{"k", "v"}, {"n", int32(42)}},
			Data:                  [][]byte{[]byte("hello "), []byte("world")},
			Footer:                Map{{Symbol("f"), true}},
		},
		{Header: &Header{Priority: DefaultPriority}, Value: "text body", HasValue: true},
		{Value: List{uint32(1), "x"}, HasValue: true},
		{Sequences: [][]byte{AppendValue(nil, List{"a"}), AppendValue(nil, List{})}},
		{Properties: &Properties{MessageID: UUID{1}, CorrelationID: []byte{1, 2}}},
		{},
	}
	for _, m := range msgs {
		enc := AppendMessage(nil, m)
		got, err := DecodeMessage(enc)
		if err != nil {
			t.Errorf("DecodeMessage(% x): %v", enc, err)
			continue
		}
		if m.HasValue && m.ValueRaw == nil {
			m.ValueRaw = AppendValue(nil, m.Value)
		}
		// Sections tile the encoding, in order, each where its bytes are.
		off := 0
		for _, sec := range got.Sections {
			if sec.Start != off || sec.End <= sec.Start {
				t.Errorf("section %#x at [%d:%d], want it to start at %d", sec.Code, sec.Start, sec.End, off)
			}
			if one, err := DecodeMessage(enc[sec.Start:sec.End]); err != nil || len(one.Sections) != 1 || one.Sections[0].Code != sec.Code {
				t.Errorf("section %#x bytes do not decode alone as that section: %v", sec.Code, err)
			}
			off = sec.End
		}
		if off != len(enc) {
			t.Errorf("sections end at %d of %d bytes", off, len(enc))
		}
		got.Sections = nil
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip:\n got %#v\nwant %#v", got, m)
		}
		// A decoded message re-encodes to the same bytes (pass-through).
		if again := AppendMessage(nil, got); string(again) != string(enc) {
			t.Errorf("re-encoding changed the bytes:\n% x\n% x", enc, again)
		}
	}
}

func TestDecodeMessageErrors(t *testing.T) {
	section := func(code uint64, v any) []byte { return appendSection(nil, code, v) }
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	cases := []struct {
		name string
		in   []byte
	}{
		{"not a section", []byte{0x41}},
		{"unknown section", section(0x99, List{})},
		{"two headers", cat(section(codeHeader, List{}), section(codeHeader, List{}))},
		{"data and value", cat(section(codeData, []byte("a")), section(codeAMQPValue, "b"))},
		{"data not binary", section(codeData, "text")},
		{"properties not a list", section(codeProperties, "x")},
		{"message id of a bad type", section(codeProperties, List{true})},
		{"header priority of a bad type", section(codeHeader, List{nil, "high"})},
		{"application properties not a map", section(codeApplicationProperties, List{})},
		{"truncated", section(codeData, []byte("abc"))[:5]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeMessage(c.in)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("DecodeMessage(% x) = %v, want a *DecodeError", c.in, err)
			}
		})
	}
}
