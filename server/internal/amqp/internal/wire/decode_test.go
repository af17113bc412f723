package wire

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestDecodePrimitives(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want any
	}{
		{"null", []byte{0x40}, nil},
		{"true", []byte{0x41}, true},
		{"false", []byte{0x42}, false},
		{"bool", []byte{0x56, 0x01}, true},
		{"ubyte", []byte{0x50, 0xff}, uint8(255)},
		{"ushort", []byte{0x60, 0x01, 0x02}, uint16(0x0102)},
		{"uint0", []byte{0x43}, uint32(0)},
		{"smalluint", []byte{0x52, 0x07}, uint32(7)},
		{"uint", []byte{0x70, 0xff, 0xff, 0xff, 0xff}, uint32(math.MaxUint32)},
		{"ulong0", []byte{0x44}, uint64(0)},
		{"smallulong", []byte{0x53, 0x10}, uint64(16)},
		{"ulong", []byte{0x80, 0, 0, 0, 1, 0, 0, 0, 0}, uint64(1 << 32)},
		{"byte", []byte{0x51, 0xfe}, int8(-2)},
		{"short", []byte{0x61, 0xff, 0xfe}, int16(-2)},
		{"smallint", []byte{0x54, 0xff}, int32(-1)},
		{"int", []byte{0x71, 0x80, 0, 0, 0}, int32(math.MinInt32)},
		{"smalllong", []byte{0x55, 0x80}, int64(-128)},
		{"long", []byte{0x81, 0, 0, 0, 0, 0, 0, 1, 0}, int64(256)},
		{"float", []byte{0x72, 0x3f, 0x80, 0, 0}, float32(1)},
		{"double", []byte{0x82, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}, float64(1)},
		{"char", []byte{0x73, 0, 0, 0, 'x'}, Char('x')},
		{"timestamp", []byte{0x83, 0, 0, 0, 0, 0, 0, 0x03, 0xe8}, Timestamp(1000)},
		{"uuid", append([]byte{0x98}, bytes.Repeat([]byte{7}, 16)...), UUID(bytes.Repeat([]byte{7}, 16))},
		{"vbin8", []byte{0xa0, 2, 'h', 'i'}, []byte("hi")},
		{"str8", []byte{0xa1, 2, 'h', 'i'}, "hi"},
		{"sym8", []byte{0xa3, 2, 'h', 'i'}, Symbol("hi")},
		{"str32", []byte{0xb1, 0, 0, 0, 1, 'x'}, "x"},
		{"list0", []byte{0x45}, List{}},
		{"list8", []byte{0xc0, 3, 2, 0x41, 0x40}, List{true, nil}},
		{"list32", []byte{0xd0, 0, 0, 0, 5, 0, 0, 0, 1, 0x42}, List{false}},
		{"map8", []byte{0xc1, 5, 2, 0xa1, 1, 'k', 0x41}, Map{{"k", true}}},
		{"array8 of uint", []byte{0xe0, 4, 2, 0x52, 1, 2}, Array{uint32(1), uint32(2)}},
		{"array of nulls", []byte{0xe0, 2, 3, 0x40}, Array{nil, nil, nil}},
		{"described", []byte{0x00, 0x53, 0x24, 0x45}, Described{uint64(0x24), List{}}},
		{"described array", []byte{0xe0, 6, 2, 0x00, 0xa3, 1, 'd', 0x41}, Array{Described{Symbol("d"), true}, Described{Symbol("d"), true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, n, err := Decode(c.in)
			if err != nil {
				t.Fatalf("Decode(% x): %v", c.in, err)
			}
			if n != len(c.in) {
				t.Errorf("used %d of %d bytes", n, len(c.in))
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Decode(% x) = %#v, want %#v", c.in, got, c.want)
			}
		})
	}
}

// Hostile lengths and counts must fail fast, before any large allocation.
func TestDecodeRejectsHostileInput(t *testing.T) {
	deep := bytes.Repeat([]byte{0xc0, 0xff, 1}, MaxDepth+2)
	cases := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown code", []byte{0xff}},
		{"truncated uint", []byte{0x70, 1, 2}},
		{"bool not 0 or 1", []byte{0x56, 2}},
		{"str32 longer than input", []byte{0xb1, 0xff, 0xff, 0xff, 0xff, 'x'}},
		{"list32 count beyond input", []byte{0xd0, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff}},
		{"list32 size beyond input", []byte{0xd0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}},
		{"list8 size lies short", []byte{0xc0, 1, 2, 0x41, 0x41}},
		{"list8 size lies long", []byte{0xc0, 4, 1, 0x41, 0x41, 0x41}},
		{"map with odd count", []byte{0xc1, 2, 1, 0x41}},
		{"array32 of nulls, huge count", []byte{0xf0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0x40}},
		{"array8 of nulls beyond budget", []byte{0xe0, 2, 0xff, 0x40}},
		{"array doubly described", []byte{0xe0, 4, 1, 0x00, 0x41, 0x00}},
		{"deep nesting", deep},
		{"deeply described", bytes.Repeat([]byte{0x00}, 200)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, _, err := Decode(c.in)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode(% x) = %#v, %v; want a *DecodeError", c.in, v, err)
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	long := strings.Repeat("x", 300)
	values := []any{
		nil, true, false, uint8(9), uint16(700), uint32(0), uint32(200), uint32(70000),
		uint64(0), uint64(255), uint64(1 << 40), int8(-1), int16(-300), int32(5), int32(-70000),
		int64(-5), int64(1 << 40), float32(1.5), 2.25, Char('é'), Timestamp(123456789),
		UUID{1, 2, 3}, Decimal32{1}, Decimal64{2}, Decimal128{3},
		[]byte{}, []byte(long), "", long, Symbol("amqp:accepted:list"), Symbol(long),
		List{}, List{uint32(1), "two", List{nil}}, Map{{"a", int64(1)}, {Symbol("b"), Map{}}},
		Array{}, Array{Symbol("x"), Symbol("y")}, Array{List{uint32(1)}, List{}},
		Array{long, "short"}, Array{Described{uint64(1), "a"}},
		Described{Symbol("x:y"), Map{{int32(1), nil}}},
		func() List { // a list too big for the one-byte form
			l := make(List, 300)
			for i := range l {
				l[i] = uint32(i)
			}
			return l
		}(),
	}
	for _, v := range values {
		enc := AppendValue(nil, v)
		got, n, err := Decode(enc)
		if err != nil {
			t.Errorf("%#v: encoded % x, decode: %v", v, enc, err)
			continue
		}
		if n != len(enc) {
			t.Errorf("%#v: decode used %d of %d bytes", v, n, len(enc))
		}
		if !reflect.DeepEqual(got, normalise(v)) {
			t.Errorf("round trip of %#v gave %#v", v, got)
		}
	}
}

// normalise maps the convenience types AppendValue accepts to what Decode
// returns.
func normalise(v any) any {
	switch v := v.(type) {
	case []any:
		return List(v)
	case []Symbol:
		a := Array{}
		for _, s := range v {
			a = append(a, s)
		}
		return a
	}
	return v
}

func TestEncodeUsesCompactForms(t *testing.T) {
	cases := []struct {
		v    any
		want []byte
	}{
		{uint32(0), []byte{0x43}},
		{uint32(5), []byte{0x52, 5}},
		{uint64(0), []byte{0x44}},
		{int64(-1), []byte{0x55, 0xff}},
		{"hi", []byte{0xa1, 2, 'h', 'i'}},
		{List{}, []byte{0x45}},
		{List{true}, []byte{0xc0, 2, 1, 0x41}},
		{Array{Symbol("a")}, []byte{0xe0, 7, 1, 0xb3, 0, 0, 0, 1, 'a'}},
	}
	for _, c := range cases {
		if got := AppendValue(nil, c.v); !bytes.Equal(got, c.want) {
			t.Errorf("AppendValue(%#v) = % x, want % x", c.v, got, c.want)
		}
	}
}
